//! Chats, members and messages: create a chat, join it, post, read pages.

use super::{types::DateTime, types::Text, ApiTags, Next};
use crate::http::{
    errors::{
        from_app_error, AuthError, BadParametersError, ChatNotFoundError,
        IdempotencyKeyReusedError, InternalError, PageBadRequestError, PostNotFoundError,
        RateLimitedError, UnavailableError,
    },
    payload::{AsStr, NextView, SerdeJson},
    security::Session,
};
use messenger_domain::{ChatName, DisplayName, Error, IdempotencyKey, Limit, Message, MessageText};
use messenger_ports::{MessagesPage, Messenger};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};
use serde::{ser::SerializeStruct, Serialize, Serializer};

/// The header that makes a post idempotent.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The chat routes.
pub struct ChatsApi {
    messenger: Messenger,
}

impl ChatsApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
}

/// A chat to create.
#[derive(Object)]
pub struct NewChat {
    /// The chat's name: 1–255 characters.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub chat_name: Text,
}

/// A created chat.
#[derive(Object)]
pub struct ChatCreated {
    /// The chat's id. Knowing it lets anyone join: it works as an invitation.
    pub chat_id: String,
}

/// Joining a chat.
#[derive(Object)]
pub struct JoinChat {
    /// The display name in this chat: 1–255 characters.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_name: Text,
}

/// The member the caller joined as.
#[derive(Object)]
pub struct Joined {
    /// The member's id, unique within the chat; used to post.
    pub user_id: String,
}

/// A message to post.
#[derive(Object)]
pub struct NewMessage {
    /// The text: 1–10,000 characters, no U+0000.
    #[oai(validator(min_length = 1, max_length = 10000))]
    pub message: Text,
}

/// A posted message.
#[derive(Object)]
pub struct MessagePosted {
    /// The message's id.
    pub message_id: String,
}

/// A message of a chat.
#[derive(Object)]
#[oai(rename = "Message")]
pub struct MessageSchema {
    /// The text, verbatim.
    pub text: String,
    /// The message's id.
    pub message_id: String,
    /// The posting member.
    pub user_id: String,
    /// The posting member's display name.
    pub user_name: String,
    /// When it was stored (RFC 3339, UTC); never earlier than the chat's previous message.
    pub created_at: DateTime,
}

/// A page of a chat's messages, oldest first.
#[derive(Object)]
#[oai(rename = "MessagesPage")]
pub struct MessagesPageSchema {
    /// The messages.
    pub messages: Vec<MessageSchema>,
    /// Where to continue.
    pub next: Next,
}

/// Answers of `POST /v1/chats`.
#[derive(ApiResponse)]
pub enum CreateChatResponse {
    /// Created; the caller is its creator.
    #[oai(status = 201)]
    Created(Json<ChatCreated>),
    /// Bad input.
    #[oai(status = 400)]
    BadRequest(Json<BadParametersError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(CreateChatResponse:
    BadRequest(BadParametersError),
    Unauthorized(AuthError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// Answers of `POST /v1/chats/{chat_id}/users`.
#[derive(ApiResponse)]
pub enum JoinChatResponse {
    /// Joined (the same `user_id` again for the same account, chat and name).
    #[oai(status = 201)]
    Created(Json<Joined>),
    /// Bad input.
    #[oai(status = 400)]
    BadRequest(Json<BadParametersError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// No such chat.
    #[oai(status = 404)]
    NotFound(Json<ChatNotFoundError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(JoinChatResponse:
    BadRequest(BadParametersError),
    Unauthorized(AuthError),
    NotFound(ChatNotFoundError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// Answers of `POST /v1/chats/{chat_id}/messages`.
#[derive(ApiResponse)]
pub enum PostMessageResponse {
    /// Stored durably (or, for a retry with the same `Idempotency-Key` and body, the first
    /// message's id).
    #[oai(status = 201)]
    Created(Json<MessagePosted>),
    /// Bad input.
    #[oai(status = 400)]
    BadRequest(Json<BadParametersError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// No such chat for the caller, or `user_id` is not the caller's member of it.
    #[oai(status = 404)]
    NotFound(Json<PostNotFoundError>),
    /// The `Idempotency-Key` was used with another body.
    #[oai(status = 422)]
    UnprocessableEntity(Json<IdempotencyKeyReusedError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(PostMessageResponse:
    BadRequest(BadParametersError),
    Unauthorized(AuthError),
    NotFound(PostNotFoundError),
    UnprocessableEntity(IdempotencyKeyReusedError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// Answers of `GET /v1/chats/{chat_id}/messages`.
#[derive(ApiResponse)]
pub enum ListMessagesResponse {
    /// A page, oldest first.
    #[oai(status = 200)]
    Ok(SerdeJson<MessagesPageSchema, PageView>),
    /// Bad input, or a bad cursor.
    #[oai(status = 400)]
    BadRequest(Json<PageBadRequestError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// No such chat for the caller.
    #[oai(status = 404)]
    NotFound(Json<ChatNotFoundError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(ListMessagesResponse:
    BadRequest(PageBadRequestError),
    Unauthorized(AuthError),
    NotFound(ChatNotFoundError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// A page of messages as written on the wire (see [`MessagesPageSchema`]).
pub struct PageView(MessagesPage);

impl PageView {
    /// Bytes to reserve for the answer.
    fn size_hint(&self) -> usize {
        self.0
            .messages
            .iter()
            .map(|m| m.text.len() + m.user_name.len() + 160)
            .sum::<usize>()
            + 80
    }
}

impl Serialize for PageView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("MessagesPage", 2)?;
        st.serialize_field("messages", &MessagesView(&self.0.messages))?;
        st.serialize_field("next", &NextView(&self.0.next))?;
        st.end()
    }
}

struct MessagesView<'a>(&'a [Message]);

impl Serialize for MessagesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(MessageView))
    }
}

struct MessageView<'a>(&'a Message);

impl Serialize for MessageView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut st = s.serialize_struct("Message", 5)?;
        st.serialize_field("text", &m.text)?;
        st.serialize_field("message_id", &AsStr(&m.id))?;
        st.serialize_field("user_id", &AsStr(&m.user_id))?;
        st.serialize_field("user_name", &m.user_name)?;
        st.serialize_field("created_at", &AsStr(&m.created_at))?;
        st.end()
    }
}

/// Reads `Idempotency-Key` from the raw headers: the declared parameter skips values that
/// are not visible ASCII, and those must answer 400, not be ignored.
fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, Error> {
    match req.headers().get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| Error::BadParameters)?;
            IdempotencyKey::parse(s).map(Some)
        }
    }
}

#[OpenApi(tag = "ApiTags::Chats")]
impl ChatsApi {
    /// Creates a chat; the caller becomes its creator.
    #[oai(path = "/v1/chats", method = "post", operation_id = "create_chat")]
    async fn create_chat(&self, session: Session, body: Json<NewChat>) -> CreateChatResponse {
        let run = async {
            let name = ChatName::parse(body.0.chat_name.into_inner())?;
            self.messenger.create_chat(&session.0, name).await
        };
        match run.await {
            Ok(id) => CreateChatResponse::Created(Json(ChatCreated {
                chat_id: id.to_string(),
            })),
            Err(e) => e.into(),
        }
    }

    /// Joins the chat under a display name and returns the member id to post with. The
    /// same account, chat and name give the same `user_id` again.
    #[oai(
        path = "/v1/chats/:chat_id/users",
        method = "post",
        operation_id = "join_chat"
    )]
    async fn join_chat(
        &self,
        session: Session,
        /// The chat's id (32 hex digits, or the dashed UUID form).
        chat_id: Path<String>,
        body: Json<JoinChat>,
    ) -> JoinChatResponse {
        let run = async {
            let name = DisplayName::parse(body.0.user_name.into_inner())?;
            self.messenger.join_chat(&session.0, &chat_id, name).await
        };
        match run.await {
            Ok(id) => JoinChatResponse::Created(Json(Joined {
                user_id: id.to_string(),
            })),
            Err(e) => e.into(),
        }
    }

    /// Posts a message as one of the caller's members of the chat. The message is durable
    /// when this answers.
    #[oai(
        path = "/v1/chats/:chat_id/messages",
        method = "post",
        operation_id = "post_message"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn post_message(
        &self,
        session: Session,
        req: &Request,
        /// The chat's id.
        chat_id: Path<String>,
        /// The posting member (from joining this chat).
        user_id: Query<String>,
        /// Makes a retry safe: the same key, account, chat and body answer the first
        /// message's id and store nothing (kept at least 24 h). 1–255 visible ASCII
        /// characters.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: Json<NewMessage>,
    ) -> PostMessageResponse {
        let run = async {
            let text = MessageText::parse(body.0.message.into_inner())?;
            let key = idempotency_key(req)?;
            self.messenger
                .post_message(&session.0, &chat_id, &user_id, text, key)
                .await
        };
        match run.await {
            Ok(id) => PostMessageResponse::Created(Json(MessagePosted {
                message_id: id.to_string(),
            })),
            Err(e) => e.into(),
        }
    }

    /// A page of the chat's messages, oldest first, after the cursor `from` (from the very
    /// first message without it). `next.iterator` always continues exactly where the page
    /// ends; at the end it marks the end as it is now, so polling with it returns exactly
    /// the messages posted since.
    #[oai(
        path = "/v1/chats/:chat_id/messages",
        method = "get",
        operation_id = "list_messages"
    )]
    async fn list_messages(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        /// Page size: 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<i64>,
        /// Where to continue: a `next.iterator` of an earlier page of this chat.
        from: Query<Option<String>>,
    ) -> ListMessagesResponse {
        let run = async {
            let limit = Limit::messages(limit.0)?;
            self.messenger
                .list_messages(&session.0, &chat_id, from.0.as_deref(), limit)
                .await
        };
        match run.await {
            Ok(page) => {
                let view = PageView(page);
                let hint = view.size_hint();
                ListMessagesResponse::Ok(SerdeJson::new(view, hint))
            }
            Err(e) => e.into(),
        }
    }
}

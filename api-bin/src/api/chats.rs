//! Chats, members and messages: create a chat, join it, post, read pages.

use super::{pages::PageView, types::DateTime, types::Text, ApiTags, Next};
use crate::http::{
    answers::api_response,
    payload::{render, SerdeJson},
    security::Session,
};
use bytes::Bytes;
use messenger_domain::{
    ChatId, ChatName, CursorParam, DisplayName, Error, IdempotencyKey, Limit, MemberId, MessageText,
};
use messenger_ports::{AppError, MessagesPage, Messenger};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    Object, OpenApi,
};

/// The header that makes a post idempotent.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The chat routes.
pub struct ChatsApi {
    messenger: Messenger,
    rendered: Option<RenderedPages>,
}

impl ChatsApi {
    /// Over these use cases, keeping up to `rendered_page_bytes` of written full pages
    /// (0: none).
    pub fn new(messenger: Messenger, rendered_page_bytes: u64) -> Self {
        Self {
            messenger,
            rendered: (rendered_page_bytes > 0).then(|| RenderedPages::new(rendered_page_bytes)),
        }
    }
}

/// Full pages as written on the wire. A full page never changes (messages are immutable
/// and sequence numbers have no gaps), so its bytes — `next` included — are fixed once
/// written; keeping them saves writing 100 messages of JSON per read of a popular page.
/// Keyed by the page's first message and its size, which fix the page; consulted only
/// after the use case has checked the caller's access and produced the page.
struct RenderedPages {
    cache: moka::sync::Cache<(u128, u32), Bytes>,
}

impl RenderedPages {
    fn new(max_bytes: u64) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, b: &Bytes| u32::try_from(b.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }

    /// The answer for `page`, written once per full page.
    fn answer(
        &self,
        page: PageView<MessagesPage>,
        limit: Limit,
    ) -> SerdeJson<MessagesPageSchema, PageView<MessagesPage>> {
        let first = match page.0.messages.first() {
            Some(m) if page.0.messages.len() == limit.get() as usize => m.id.as_u128(),
            _ => return page.into_answer(),
        };
        let key = (first, limit.get());
        if let Some(bytes) = self.cache.get(&key) {
            return SerdeJson::rendered(bytes);
        }
        match render(&page, page.size_hint()) {
            Ok(bytes) => {
                self.cache.insert(key, bytes.clone());
                SerdeJson::rendered(bytes)
            }
            Err(_) => page.into_answer(),
        }
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

api_response! {
    /// Answers of `POST /v1/chats`.
    pub enum CreateChatResponse {
        /// Created; the caller is its creator.
        #[oai(status = 201)]
        Created(Json<ChatCreated>),
    }
    errors {
        /// Bad input.
        #[oai(status = 400)]
        BadRequest(BadParametersError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `POST /v1/chats/{chat_id}/users`.
    pub enum JoinChatResponse {
        /// Joined (the same `user_id` again for the same account, chat and name).
        #[oai(status = 201)]
        Created(Json<Joined>),
    }
    errors {
        /// Bad input.
        #[oai(status = 400)]
        BadRequest(BadParametersError),
        /// No such chat.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `POST /v1/chats/{chat_id}/messages`.
    pub enum PostMessageResponse {
        /// Stored durably (or, for a retry with the same `Idempotency-Key` and body, the first
        /// message's id).
        #[oai(status = 201)]
        Created(Json<MessagePosted>),
    }
    errors {
        /// Bad input.
        #[oai(status = 400)]
        BadRequest(BadParametersError),
        /// No such chat for the caller, or `user_id` is not the caller's member of it.
        #[oai(status = 404)]
        NotFound(PostNotFoundError),
        /// The `Idempotency-Key` was used with another body.
        #[oai(status = 422)]
        UnprocessableEntity(IdempotencyKeyReusedError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/chats/{chat_id}/messages`.
    pub enum ListMessagesResponse {
        /// A page, oldest first.
        #[oai(status = 200)]
        Ok(SerdeJson<MessagesPageSchema, PageView<MessagesPage>>),
    }
    errors {
        /// Bad input, or a bad cursor.
        #[oai(status = 400)]
        BadRequest(PageBadRequestError),
        /// No such chat for the caller.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
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
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger.join_chat(&session.0, chat_id, name).await
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
            // Bad input answers first, then the chat; a malformed `user_id` waits for the
            // chat check (it is the member's 404, after the chat's).
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger
                .post_message(&session.0, chat_id, MemberId::param(&user_id), text, key)
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
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            // Only the cursor's syntax here: its scope is checked after the chat's access.
            let from = CursorParam::parse(from.0.as_deref());
            let page = self
                .messenger
                .list_messages(&session.0, chat_id, from, limit)
                .await?;
            Ok::<_, AppError>((page, limit))
        };
        match run.await {
            Ok((page, limit)) => ListMessagesResponse::Ok(match &self.rendered {
                Some(rendered) => rendered.answer(PageView(page), limit),
                None => PageView(page).into_answer(),
            }),
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::{Cursor, CursorScope, Message, MessageId, Timestamp};
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;
    use std::sync::Arc;

    fn message(n: u128, text: &str) -> Message {
        Message {
            id: MessageId::from_u128(n),
            chat_id: ChatId::from_u128(7),
            seq: u64::try_from(n).unwrap(),
            user_id: MemberId::from_u128(0xabc),
            user_name: "Ann \"A\"".into(),
            text: text.into(),
            created_at: Timestamp::from_micros(1_795_766_686_123_456),
        }
    }

    fn page(n: u128) -> PageView<MessagesPage> {
        PageView(MessagesPage {
            messages: Arc::new((1..=n).map(|i| message(i, "hi\n\u{1F600}")).collect()),
            next: Cursor::new(CursorScope::Chat(ChatId::from_u128(7)), 2),
        })
    }

    #[test]
    fn a_page_is_written_exactly_and_parses_as_its_schema() {
        let bytes = render(&page(1), 0).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({
                "messages": [{
                    "text": "hi\n\u{1F600}",
                    "message_id": "00000000000000000000000000000001",
                    "user_id": "00000000000000000000000000000abc",
                    "user_name": "Ann \"A\"",
                    "created_at": "2026-11-27T08:04:46.123456Z",
                }],
                "next": { "iterator": Cursor::new(CursorScope::Chat(ChatId::from_u128(7)), 2).encode() },
            })
        );
        assert!(MessagesPageSchema::parse_from_json(Some(v)).is_ok());
    }

    #[tokio::test]
    async fn full_pages_are_written_once_and_served_identically() {
        let rendered = RenderedPages::new(1 << 20);
        let limit = Limit::messages(3).unwrap();
        let first = rendered.answer(page(3), limit);
        assert_eq!(rendered.cache.entry_count(), 0, "moka counts lazily");
        rendered.cache.run_pending_tasks();
        assert_eq!(rendered.cache.entry_count(), 1);
        let again = rendered.answer(page(3), limit);
        let a = poem::IntoResponse::into_response(first)
            .into_body()
            .into_bytes()
            .await
            .unwrap();
        let b = poem::IntoResponse::into_response(again)
            .into_body()
            .into_bytes()
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, render(&page(3), 0).unwrap());
        // A partial page (the last one) is never kept: it grows.
        let _ = rendered.answer(page(2), limit);
        rendered.cache.run_pending_tasks();
        assert_eq!(rendered.cache.entry_count(), 1);
    }
}

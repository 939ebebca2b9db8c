//! Chats: create one, the caller's chat list, one chat's summary, and renaming.

use super::{
    messages::cursor_param,
    summary::{ChatListSchema, ChatSummarySchema},
    types::Text,
    ApiTags,
};
use crate::http::{answers::api_response, security::Session};
use messenger_domain::{ChatId, ChatName, Error, Limit};
use messenger_ports::Messenger;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};

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

/// A chat's new name.
#[derive(Object)]
pub struct RenameChat {
    /// The chat's name: 1–255 characters.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub chat_name: Text,
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
    /// Answers of `GET /v1/chats`.
    pub enum ListChatsResponse {
        /// A page of the caller's chats, most recent activity first.
        #[oai(status = 200)]
        Ok(Json<ChatListSchema>),
    }
    errors {
        /// Bad input, or a bad cursor.
        #[oai(status = 400)]
        BadRequest(PageBadRequestError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/chats/{chat_id}`.
    pub enum ChatSummaryResponse {
        /// The chat as the caller sees it.
        #[oai(status = 200)]
        Ok(Json<ChatSummarySchema>),
    }
    errors {
        /// No such chat for the caller.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `PATCH /v1/chats/{chat_id}`.
    pub enum RenameChatResponse {
        /// Renamed; the chat as the caller now sees it.
        #[oai(status = 200)]
        Ok(Json<ChatSummarySchema>),
    }
    errors {
        /// Bad input.
        #[oai(status = 400)]
        BadRequest(BadParametersError),
        /// The caller may read the chat but did not create it.
        #[oai(status = 403)]
        Forbidden(ForbiddenError),
        /// No such chat for the caller.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
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

    /// The caller's chats (created, or with an identity in them), most recent activity
    /// first, with each one's last message, unread count, read marker and end, and the
    /// event-stream position of this answer.
    #[oai(path = "/v1/chats", method = "get", operation_id = "list_chats")]
    async fn list_chats(
        &self,
        session: Session,
        /// Page size: 1–100.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<i64>,
        /// Where to continue: the `next.iterator` of an earlier page.
        from: Query<Option<String>>,
    ) -> ListChatsResponse {
        let run = async {
            let limit = Limit::chats(limit.0)?;
            self.messenger
                .list_chats(&session.0, cursor_param(from.0.as_deref()), limit)
                .await
        };
        match run.await {
            Ok(list) => ListChatsResponse::Ok(Json(list.into())),
            Err(e) => e.into(),
        }
    }

    /// One chat as the caller sees it (as in the chat list).
    #[oai(
        path = "/v1/chats/:chat_id",
        method = "get",
        operation_id = "chat_summary"
    )]
    async fn chat_summary(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
    ) -> ChatSummaryResponse {
        let run = async {
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger.chat_summary(&session.0, chat_id).await
        };
        match run.await {
            Ok(summary) => ChatSummaryResponse::Ok(Json(summary.into())),
            Err(e) => e.into(),
        }
    }

    /// Renames the chat (its creator only).
    #[oai(
        path = "/v1/chats/:chat_id",
        method = "patch",
        operation_id = "rename_chat"
    )]
    async fn rename_chat(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        body: Json<RenameChat>,
    ) -> RenameChatResponse {
        let run = async {
            let name = ChatName::parse(body.0.chat_name.into_inner())?;
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger.rename_chat(&session.0, chat_id, name).await
        };
        match run.await {
            Ok(summary) => RenameChatResponse::Ok(Json(summary.into())),
            Err(e) => e.into(),
        }
    }
}

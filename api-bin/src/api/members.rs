//! A chat's members: joining, the list in joining order, leaving, and removal by the
//! creator.

use super::{messages::cursor_param, types::DateTime, types::Text, ApiTags, Next};
use crate::http::{answers::api_response, security::Session};
use messenger_domain::{ChatId, DisplayName, Error, Limit, MemberId};
use messenger_ports::{MemberList, Messenger};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};

/// The member routes.
pub struct MembersApi {
    messenger: Messenger,
}

impl MembersApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
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

/// A current member of a chat.
#[derive(Object)]
#[oai(rename = "ChatMember")]
pub struct MemberSchema {
    /// The member's id.
    pub user_id: String,
    /// Its display name.
    pub user_name: String,
    /// When it joined (RFC 3339, UTC).
    pub joined_at: DateTime,
    /// Whether the caller's account owns it.
    pub is_mine: bool,
}

/// A page of a chat's current members, in joining order.
#[derive(Object)]
#[oai(rename = "MembersPage")]
pub struct MembersPageSchema {
    /// The members.
    pub users: Vec<MemberSchema>,
    /// Where the next page starts: pass it as `from` (always valid).
    pub next: Next,
}

impl From<MemberList> for MembersPageSchema {
    fn from(list: MemberList) -> Self {
        Self {
            users: list
                .members
                .into_iter()
                .map(|m| MemberSchema {
                    user_id: m.member.id.to_string(),
                    user_name: m.member.name,
                    joined_at: DateTime(m.member.joined_at.to_rfc3339()),
                    is_mine: m.is_mine,
                })
                .collect(),
            next: Next {
                iterator: list.next.encode(),
            },
        }
    }
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
    /// Answers of `GET /v1/chats/{chat_id}/users`.
    pub enum ListMembersResponse {
        /// A page of the chat's current members.
        #[oai(status = 200)]
        Ok(Json<MembersPageSchema>),
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

api_response! {
    /// Answers of `DELETE /v1/chats/{chat_id}/users/{user_id}`.
    pub enum RemoveMemberResponse {
        /// The member is gone from the chat (its messages stay, with its name).
        #[oai(status = 200)]
        Ok,
    }
    errors {
        /// Another account's member, and the caller did not create the chat.
        #[oai(status = 403)]
        Forbidden(ForbiddenError),
        /// No such chat for the caller, or `user_id` is not a current member of it.
        #[oai(status = 404)]
        NotFound(MemberNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

#[OpenApi(tag = "ApiTags::Chats")]
impl MembersApi {
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

    /// The chat's current members in joining order.
    #[oai(
        path = "/v1/chats/:chat_id/users",
        method = "get",
        operation_id = "list_members"
    )]
    async fn list_members(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        /// Page size: 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<i64>,
        /// Where to continue: the `next.iterator` of an earlier page of this chat's members.
        from: Query<Option<String>>,
    ) -> ListMembersResponse {
        let run = async {
            let limit = Limit::members(limit.0)?;
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger
                .list_members(&session.0, chat_id, cursor_param(from.0.as_deref()), limit)
                .await
        };
        match run.await {
            Ok(list) => ListMembersResponse::Ok(Json(list.into())),
            Err(e) => e.into(),
        }
    }

    /// Leaves the chat under one of the caller's identities, or — the chat's creator —
    /// removes any member (that account cannot join the chat again).
    #[oai(
        path = "/v1/chats/:chat_id/users/:user_id",
        method = "delete",
        operation_id = "remove_member"
    )]
    async fn remove_member(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        /// The member's id.
        user_id: Path<String>,
    ) -> RemoveMemberResponse {
        let run = async {
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger
                .remove_member(&session.0, chat_id, MemberId::param(&user_id))
                .await
        };
        match run.await {
            Ok(()) => RemoveMemberResponse::Ok,
            Err(e) => e.into(),
        }
    }
}

//! Typed request helpers for the conversation routes (`API.md`, “Conversations”): the
//! caller's chat list, one chat's summary, renaming, newest-first paging (`before`, `prev`),
//! read markers and members.

mod requests;
mod types;

pub use types::{
    parse_message_page, parse_summary, rfc3339_micros, ChatList, ChatSummary, LastMessage, Member,
    MemberPage, MessagePage, MyUser, ReadMarker, SUMMARY_KEYS,
};

use super::{RouteCall, TestApp, User};
use reqwest::Method;
use serde_json::json;

/// A valid call of every authenticated conversation route, over an existing chat, a
/// member of it owned by the caller, and a message cursor of that chat (valid ids, so
/// only the credentials decide the answer).
///
/// These belong in [`super::authenticated_routes`], whose table the shared
/// authentication tests walk; they join it once the routes exist (today they answer
/// 404/405, which would fail those tests). The removal comes last: a table walk with
/// valid credentials would otherwise end the membership the other calls rely on.
pub fn conversation_routes(chat_id: &str, user_id: &str, cursor: &str) -> Vec<RouteCall> {
    vec![
        RouteCall {
            name: "GET /v1/chats",
            method: Method::GET,
            path: "/v1/chats?limit=10".into(),
            body: None,
        },
        RouteCall {
            name: "GET /v1/chats/{chat_id}",
            method: Method::GET,
            path: format!("/v1/chats/{chat_id}"),
            body: None,
        },
        RouteCall {
            name: "PATCH /v1/chats/{chat_id}",
            method: Method::PATCH,
            path: format!("/v1/chats/{chat_id}"),
            body: Some(json!({ "chat_name": "renamed" })),
        },
        RouteCall {
            name: "GET /v1/chats/{chat_id}/messages?before=",
            method: Method::GET,
            path: format!("/v1/chats/{chat_id}/messages?limit=10&before="),
            body: None,
        },
        RouteCall {
            name: "PUT /v1/chats/{chat_id}/read",
            method: Method::PUT,
            path: format!("/v1/chats/{chat_id}/read"),
            body: Some(json!({ "iterator": cursor })),
        },
        RouteCall {
            name: "GET /v1/chats/{chat_id}/users",
            method: Method::GET,
            path: format!("/v1/chats/{chat_id}/users?limit=10"),
            body: None,
        },
        RouteCall {
            name: "DELETE /v1/chats/{chat_id}/users/{user_id}",
            method: Method::DELETE,
            path: format!("/v1/chats/{chat_id}/users/{user_id}"),
            body: None,
        },
    ]
}

impl TestApp {
    /// A user with a chat it created and joined, one message in it, and the calls of
    /// every conversation route over them ([`conversation_routes`]).
    pub async fn user_with_a_conversation(&self) -> (User, Vec<RouteCall>) {
        let user = self.new_user().await;
        let (chat, member) = self.chat_with_member(&user).await;
        self.post_ok(&user, &chat, &member, "hello world").await;
        let end = self.page_ok(&user, &chat, 10, None).await.next.iterator;
        let routes = conversation_routes(&chat, &member, &end);
        (user, routes)
    }
}

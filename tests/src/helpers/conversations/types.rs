//! The answers of the conversation routes as typed values, and checks of their shape.

use super::super::{is_lower_hex_32, Message, Next, Reply};
use serde::Deserialize;
use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// One of the caller's member identities in a chat, as a summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MyUser {
    /// The member's id.
    pub user_id: String,
    /// Its display name.
    pub user_name: String,
}

/// A chat's last message as a summary shows it: a [`Message`] whose text is cut to at
/// most 280 characters, with `truncated: true` when it was cut.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastMessage {
    /// The text, at most 280 characters.
    pub text: String,
    /// Its id.
    pub message_id: String,
    /// The posting member.
    pub user_id: String,
    /// The member's display name.
    pub user_name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `Some(true)` when the text was cut; absent (or false) otherwise.
    #[serde(default)]
    pub truncated: Option<bool>,
}

impl LastMessage {
    /// Whether the service says the text was cut (absent counts as not cut).
    pub fn is_truncated(&self) -> bool {
        self.truncated == Some(true)
    }
}

/// A chat as `GET /v1/chats` and `GET/PATCH /v1/chats/{chat_id}` show it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatSummary {
    /// Its id.
    pub chat_id: String,
    /// Its name.
    pub chat_name: String,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// Whether the caller created it.
    pub is_creator: bool,
    /// The caller's identities in the chat.
    pub my_users: Vec<MyUser>,
    /// The identities in the chat now (every account's).
    pub member_count: u64,
    /// The newest message, if any.
    pub last_message: Option<LastMessage>,
    /// Messages after the caller's read marker.
    pub unread_count: u64,
    /// The caller's read marker (a message cursor).
    pub read: Next,
    /// The chat's end (a message cursor; `before=` it gives the newest messages).
    pub end: Next,
}

/// An answer of `GET /v1/chats`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatList {
    /// The chats of this page, most recent activity first.
    pub chats: Vec<ChatSummary>,
    /// Where the next page starts (`from`).
    pub next: Next,
    /// The event-stream position of this answer.
    pub events: Next,
}

impl ChatList {
    /// The chat ids of the page, in order.
    pub fn ids(&self) -> Vec<String> {
        self.chats.iter().map(|c| c.chat_id.clone()).collect()
    }
}

/// A page of chat messages that carries `prev` (every page does once `before` exists).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessagePage {
    /// The messages, oldest first.
    pub messages: Vec<Message>,
    /// The point just before the first message (for `before=`), or `None` when the page
    /// starts at the chat's first message.
    pub prev: Option<Next>,
    /// The point after the page (for `from=`).
    pub next: Next,
}

impl MessagePage {
    /// The texts of the page, in order.
    pub fn texts(&self) -> Vec<String> {
        self.messages.iter().map(|m| m.text.clone()).collect()
    }

    /// The position `prev` marks, `None` when it is null.
    pub fn prev_position(&self) -> Option<u64> {
        self.prev
            .as_ref()
            .map(|p| super::super::cursor_position(&p.iterator))
    }

    /// The position `next` marks.
    pub fn next_position(&self) -> u64 {
        super::super::cursor_position(&self.next.iterator)
    }
}

/// An answer of `PUT /v1/chats/{chat_id}/read`: the marker now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReadMarker {
    /// The marker (a message cursor).
    pub read: Next,
    /// Messages after it.
    pub unread_count: u64,
}

/// A member as `GET /v1/chats/{chat_id}/users` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// Its id.
    pub user_id: String,
    /// Its display name.
    pub user_name: String,
    /// When it joined, RFC 3339.
    pub joined_at: String,
    /// Whether the caller's account owns it.
    pub is_mine: bool,
}

/// An answer of `GET /v1/chats/{chat_id}/users`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemberPage {
    /// The members of this page, in joining order.
    pub users: Vec<Member>,
    /// Where the next page starts (`from`).
    pub next: Next,
}

/// The keys of a `ChatSummary` object.
pub const SUMMARY_KEYS: [&str; 10] = [
    "chat_id",
    "chat_name",
    "created_at",
    "is_creator",
    "my_users",
    "member_count",
    "last_message",
    "unread_count",
    "read",
    "end",
];

/// Parses an RFC 3339 time that must be in UTC with `Z`, as microseconds since 1970.
#[track_caller]
pub fn rfc3339_micros(value: &str) -> i64 {
    assert!(value.ends_with('Z'), "time {value:?} does not end with Z");
    let t = OffsetDateTime::parse(value, &Rfc3339)
        .unwrap_or_else(|e| panic!("time {value:?} is not RFC 3339: {e}"));
    i64::try_from(t.unix_timestamp_nanos() / 1000).expect("in range")
}

/// Asserts that `summary` (a JSON value) has every `ChatSummary` key, with `null` allowed
/// only for `last_message`, and parses it.
#[track_caller]
pub fn parse_summary(summary: &Value, case: &str) -> ChatSummary {
    for key in SUMMARY_KEYS {
        let value = summary.get(key);
        assert!(
            value.is_some(),
            "{case}: the summary has no {key:?}: {summary}"
        );
        if key != "last_message" {
            assert!(
                !value.is_some_and(Value::is_null),
                "{case}: the summary's {key:?} is null: {summary}"
            );
        }
    }
    let parsed: ChatSummary = serde_json::from_value(summary.clone())
        .unwrap_or_else(|e| panic!("{case}: not a chat summary ({e}): {summary}"));
    assert!(
        is_lower_hex_32(&parsed.read.iterator) && is_lower_hex_32(&parsed.end.iterator),
        "{case}: read/end iterators are not 32 lowercase hex: {summary}"
    );
    rfc3339_micros(&parsed.created_at);
    parsed
}

/// Parses a message page that must carry `prev` (an object or null), asserting 200, the
/// cursors' format and the limit.
#[track_caller]
pub fn parse_message_page(reply: &Reply, limit: u32, case: &str) -> MessagePage {
    reply.assert_status(200, case);
    let body = reply.json();
    assert!(
        body.get("prev").is_some(),
        "{case}: the page has no \"prev\" (it must be an object or null): {reply}"
    );
    let page: MessagePage = serde_json::from_value(body)
        .unwrap_or_else(|e| panic!("{case}: not a page of messages with prev ({e}): {reply}"));
    assert!(
        is_lower_hex_32(&page.next.iterator),
        "{case}: next.iterator is not 32 lowercase hex: {reply}"
    );
    if let Some(prev) = &page.prev {
        assert!(
            is_lower_hex_32(&prev.iterator),
            "{case}: prev.iterator is not 32 lowercase hex: {reply}"
        );
    }
    assert!(
        page.messages.len() <= limit as usize,
        "{case}: a page longer than its limit {limit}: {reply}"
    );
    page
}

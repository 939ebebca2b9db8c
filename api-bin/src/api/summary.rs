//! A chat as a client's first screen shows it: the summary the chat list, the chat's own
//! route and a rename answer with, and the chat list's page.

use super::{types::DateTime, Next};
use messenger_domain::{ChatSummary, MessagePreview};
use messenger_ports::ChatList;
use poem_openapi::Object;

/// One of the caller's identities in a chat.
#[derive(Object)]
#[oai(rename = "MyUser")]
pub struct MyUserSchema {
    /// The member's id (to post with).
    pub user_id: String,
    /// Its display name.
    pub user_name: String,
}

/// A chat's newest message, its text cut for a preview.
#[derive(Object)]
#[oai(rename = "LastMessage")]
pub struct LastMessageSchema {
    /// The text, cut to at most 280 characters.
    pub text: String,
    /// The message's id.
    pub message_id: String,
    /// The posting member.
    pub user_id: String,
    /// The posting member's display name.
    pub user_name: String,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: DateTime,
    /// Whether the text was cut.
    pub truncated: bool,
}

/// A chat as the caller sees it.
#[derive(Object)]
#[oai(rename = "ChatSummary")]
pub struct ChatSummarySchema {
    /// The chat's id.
    pub chat_id: String,
    /// Its name.
    pub chat_name: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime,
    /// Whether the caller created it.
    pub is_creator: bool,
    /// The caller's identities in the chat, in joining order.
    pub my_users: Vec<MyUserSchema>,
    /// How many identities (of any account) are in the chat now.
    pub member_count: u64,
    /// Its newest message; null when it has none.
    #[oai(nullable)]
    pub last_message: Option<LastMessageSchema>,
    /// Messages after the caller's read marker.
    pub unread_count: u64,
    /// The caller's read marker (a message cursor; `from` it gives the unread messages).
    pub read: Next,
    /// The chat's end (a message cursor; `before` it gives the newest messages).
    pub end: Next,
}

/// A page of the caller's chats.
#[derive(Object)]
#[oai(rename = "ChatList")]
pub struct ChatListSchema {
    /// Most recent activity first (ties by chat id).
    pub chats: Vec<ChatSummarySchema>,
    /// Where the next page starts: pass it as `from` (always valid).
    pub next: Next,
    /// The event-stream position of this answer: the events after it are what happened
    /// since.
    pub events: Next,
}

impl From<ChatSummary> for ChatSummarySchema {
    fn from(s: ChatSummary) -> Self {
        let unread_count = s.unread_count();
        let read = Next {
            iterator: s.read_cursor().encode(),
        };
        let end = Next {
            iterator: s.end_cursor().encode(),
        };
        Self {
            chat_id: s.chat.id.to_string(),
            chat_name: s.chat.name,
            created_at: DateTime(s.chat.created_at.to_rfc3339()),
            is_creator: s.is_creator,
            my_users: s
                .my_users
                .into_iter()
                .map(|m| MyUserSchema {
                    user_id: m.id.to_string(),
                    user_name: m.name,
                })
                .collect(),
            member_count: s.member_count,
            last_message: s.last_message.map(LastMessageSchema::from),
            unread_count,
            read,
            end,
        }
    }
}

impl From<MessagePreview> for LastMessageSchema {
    fn from(p: MessagePreview) -> Self {
        let m = p.message;
        Self {
            text: m.text,
            message_id: m.id.to_string(),
            user_id: m.user_id.to_string(),
            user_name: m.user_name,
            created_at: DateTime(m.created_at.to_rfc3339()),
            truncated: p.truncated,
        }
    }
}

impl From<ChatList> for ChatListSchema {
    fn from(list: ChatList) -> Self {
        Self {
            next: Next {
                iterator: list.next.encode(),
            },
            events: Next {
                iterator: list.events.encode(),
            },
            chats: list.chats.into_iter().map(Into::into).collect(),
        }
    }
}

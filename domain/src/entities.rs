//! Entities: what the stores hold.

use crate::{
    AccountId, ChatId, MemberId, MessageId, SessionPublicId, TaskId, Timestamp, TokenHash,
};

/// A registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Its unique name (case-sensitive).
    pub name: String,
    /// The PHC string of its password hash (argon2id).
    pub password_hash: String,
    /// When it registered.
    pub created_at: Timestamp,
}

/// The durable record of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: TokenHash,
    /// Whose session it is.
    pub account_id: AccountId,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// Logged out (revoked tokens answer `invalid-session-id`, even when also expired).
    pub revoked: bool,
    /// The client's address at login, as the limits key it (an IPv4 address or an IPv6
    /// /64 prefix).
    pub client_address: String,
    /// The client's `User-Agent` at login, cut to [`Session::USER_AGENT_MAX_CHARS`]
    /// characters; `None` when it sent none.
    pub user_agent: Option<String>,
}

impl Session {
    /// Most characters of a `User-Agent` kept.
    pub const USER_AGENT_MAX_CHARS: usize = 256;

    /// A presented `User-Agent` as stored: control characters (U+0000 among them) dropped,
    /// surrounding whitespace trimmed, at most [`Self::USER_AGENT_MAX_CHARS`] characters;
    /// `None` when nothing is left.
    pub fn user_agent_from(raw: &str) -> Option<String> {
        let kept: String = raw
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .chars()
            .take(Self::USER_AGENT_MAX_CHARS)
            .collect();
        (!kept.is_empty()).then_some(kept)
    }

    /// The session's public id (see [`TokenHash::public_id`]).
    pub fn public_id(&self) -> SessionPublicId {
        self.token_hash.public_id()
    }
}

/// Who is calling, once authenticated (or the fixed anonymous account in legacy mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The calling account.
    pub account_id: AccountId,
    /// The session presented (`None` in legacy mode).
    pub session: Option<TokenHash>,
}

/// A chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// Its id (random: knowing it is what lets one join).
    pub id: ChatId,
    /// Its name.
    pub name: String,
    /// The account that created it.
    pub creator: AccountId,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A member of a chat: a display name owned by an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The `user_id` of the API.
    pub id: MemberId,
    /// The chat it belongs to.
    pub chat_id: ChatId,
    /// The owning account.
    pub account_id: AccountId,
    /// The display name.
    pub name: String,
    /// When it joined.
    pub joined_at: Timestamp,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Its chat.
    pub chat_id: ChatId,
    /// Its position in the chat: 1, 2, 3, … without gaps, in commit order.
    pub seq: u64,
    /// The member that posted it.
    pub user_id: MemberId,
    /// That member's display name.
    pub user_name: String,
    /// The text, verbatim.
    pub text: String,
    /// When it was stored; never earlier than the chat's previous message.
    pub created_at: Timestamp,
}

/// A message found by a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The message.
    pub message_id: MessageId,
    /// Its chat.
    pub chat_id: ChatId,
    /// Its text.
    pub text: String,
    /// The poster's display name.
    pub user_name: String,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// Where a search task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Queued.
    Waiting,
    /// A worker is running it.
    InProcess,
    /// Done; results are readable.
    Success,
    /// Gave up.
    Failed,
}

impl TaskStatus {
    /// The wire form (`WAITING`, `IN_PROCESS`, `SUCCESS`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Waiting => "WAITING",
            TaskStatus::InProcess => "IN_PROCESS",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Failed => "FAILED",
        }
    }

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "WAITING" => TaskStatus::Waiting,
            "IN_PROCESS" => TaskStatus::InProcess,
            "SUCCESS" => TaskStatus::Success,
            "FAILED" => TaskStatus::Failed,
            _ => return None,
        })
    }

    /// Whether the task will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failed)
    }
}

/// A search task: who asked what, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTask {
    /// Its id.
    pub id: TaskId,
    /// The account that started it (only it may read it).
    pub account_id: AccountId,
    /// The query, parsed once when the task was started; stores keep it in whatever form
    /// they like (its text, from [`SearchQuery::as_str`], restores it exactly).
    pub query: crate::SearchQuery,
    /// Search every chat (legacy mode) instead of the account's chats.
    pub all_chats: bool,
    /// Its status.
    pub status: TaskStatus,
    /// When it was created.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_status_wire_forms_round_trip() {
        for s in [
            TaskStatus::Waiting,
            TaskStatus::InProcess,
            TaskStatus::Success,
            TaskStatus::Failed,
        ] {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TaskStatus::parse("waiting"), None);
    }

    #[test]
    fn user_agents_are_cleaned_and_capped() {
        assert_eq!(Session::user_agent_from(""), None);
        assert_eq!(Session::user_agent_from("  \t "), None);
        assert_eq!(
            Session::user_agent_from(" curl/8.5\u{0}\n "),
            Some("curl/8.5".to_owned())
        );
        let long = "é".repeat(1000);
        let kept = Session::user_agent_from(&long).unwrap();
        assert_eq!(kept.chars().count(), Session::USER_AGENT_MAX_CHARS);
    }
}

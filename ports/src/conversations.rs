//! What the repository ports answer for conversations: the chat list's page, members in
//! joining order, and read-marker updates (the methods are on [`crate::Chats`] and
//! [`crate::Members`]).

use messenger_domain::{AccountId, ChatSummary, EventPosition, Member};

/// Whose view of chats a summary or the chat list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatViewer {
    /// The account: its identities are `my_users`, its read marker `read_seq`.
    pub account: AccountId,
    /// Legacy mode: the account sees every chat and counts as the creator of each.
    pub every_chat: bool,
}

/// A page of the chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatListPage {
    /// Summaries in list order.
    pub chats: Vec<ChatSummary>,
    /// The event position read before the chats: every change after it is after this page.
    pub events: EventPosition,
}

/// A current member with its join number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    /// The member.
    pub member: Member,
    /// Its join number in the chat (1, 2, 3, … in joining order).
    pub join_seq: u64,
}

/// A page of a chat's current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembersPage {
    /// In joining order.
    pub members: Vec<MemberEntry>,
    /// The chat's last join number, from the same read (0 for an unknown chat).
    pub last_join_seq: u64,
}

/// What [`crate::Members::mark_read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadUpdate {
    /// The marker now (moved, or already further), and the chat's last sequence number.
    Marked {
        /// The read marker after the call.
        read_seq: u64,
        /// The chat's last sequence number.
        last_seq: u64,
    },
    /// The position is after the chat's last message: nothing changed.
    BeyondEnd,
}

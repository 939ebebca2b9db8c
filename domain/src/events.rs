//! The events clients hear of: every change of a chat (a message, a member joining or
//! leaving, the chat created or renamed) and an account's own read markers, each at its
//! position in the event log.
//!
//! An event carries what its wire payload needs plus what deciding its readers needs (the
//! account behind a member, whether that account could read the chat before or after
//! the change): readers keep their set of readable chats current from the events alone,
//! without asking the store per event.

use crate::{AccountId, ChatId, Cursor, CursorScope, EventPosition, MemberId, Message};

/// One change clients hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `message.created`: a message was posted.
    MessageCreated {
        /// The message as stored.
        message: Message,
    },
    /// `member.joined`: a member was added to a chat.
    MemberJoined {
        /// The chat.
        chat_id: ChatId,
        /// The new member's id (`user_id`).
        user_id: MemberId,
        /// Its display name (`user_name`).
        user_name: String,
        /// The member's account.
        account: AccountId,
        /// Whether that account could read the chat just before (it created it or had
        /// another identity in it).
        reads_before: bool,
    },
    /// `member.left`: a member left, or the chat's creator removed it.
    MemberLeft {
        /// The chat.
        chat_id: ChatId,
        /// The member that is gone (`user_id`).
        user_id: MemberId,
        /// Removed by the creator (rather than left by itself).
        removed: bool,
        /// The member's account.
        account: AccountId,
        /// Whether that account can still read the chat (it created it or has another
        /// identity in it).
        reads_after: bool,
    },
    /// `chat.created`: a chat was created; its creator reads it from now on.
    ChatCreated {
        /// The chat.
        chat_id: ChatId,
        /// Its name.
        chat_name: String,
        /// Its creator.
        creator: AccountId,
    },
    /// `chat.renamed`: a chat got a new name.
    ChatRenamed {
        /// The chat.
        chat_id: ChatId,
        /// The new name.
        chat_name: String,
    },
    /// `read.updated`: an account's read marker in a chat moved (seen by that account
    /// only). Posting also moves the poster's marker; that move travels as the
    /// `message.created` of the account's own member, not as a separate event.
    ReadUpdated {
        /// The chat.
        chat_id: ChatId,
        /// Whose marker.
        account: AccountId,
        /// The marker now: the sequence number of the last message read.
        read_seq: u64,
        /// Messages after the marker at the time of the change.
        unread_count: u64,
    },
}

/// How an event changes whether an account can read a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipChange {
    /// The account.
    pub account: AccountId,
    /// The chat.
    pub chat_id: ChatId,
    /// Whether the account could read the chat just before the event.
    pub reads_before: bool,
    /// Whether it can just after.
    pub reads_after: bool,
}

impl Event {
    /// The chat the event is about.
    pub fn chat_id(&self) -> ChatId {
        match self {
            Event::MessageCreated { message } => message.chat_id,
            Event::MemberJoined { chat_id, .. }
            | Event::MemberLeft { chat_id, .. }
            | Event::ChatCreated { chat_id, .. }
            | Event::ChatRenamed { chat_id, .. }
            | Event::ReadUpdated { chat_id, .. } => *chat_id,
        }
    }

    /// The wire type (`event:` of a stream frame, `type` of a long-poll entry).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::MessageCreated { .. } => "message.created",
            Event::MemberJoined { .. } => "member.joined",
            Event::MemberLeft { .. } => "member.left",
            Event::ChatCreated { .. } => "chat.created",
            Event::ChatRenamed { .. } => "chat.renamed",
            Event::ReadUpdated { .. } => "read.updated",
        }
    }

    /// The account an event is for alone (`read.updated`), else `None` (the event is for
    /// every reader of its chat).
    pub fn private_to(&self) -> Option<AccountId> {
        match self {
            Event::ReadUpdated { account, .. } => Some(*account),
            _ => None,
        }
    }

    /// Whether and how the event changes an account's access to its chat.
    pub fn membership(&self) -> Option<MembershipChange> {
        match self {
            Event::MemberJoined {
                chat_id,
                account,
                reads_before,
                ..
            } => Some(MembershipChange {
                account: *account,
                chat_id: *chat_id,
                reads_before: *reads_before,
                reads_after: true,
            }),
            Event::MemberLeft {
                chat_id,
                account,
                reads_after,
                ..
            } => Some(MembershipChange {
                account: *account,
                chat_id: *chat_id,
                reads_before: true,
                reads_after: *reads_after,
            }),
            Event::ChatCreated {
                chat_id, creator, ..
            } => Some(MembershipChange {
                account: *creator,
                chat_id: *chat_id,
                reads_before: false,
                reads_after: true,
            }),
            _ => None,
        }
    }

    /// For `read.updated`, the marker as a message cursor of its chat.
    pub fn read_cursor(&self) -> Option<Cursor> {
        match self {
            Event::ReadUpdated {
                chat_id, read_seq, ..
            } => Some(Cursor::new(CursorScope::Chat(*chat_id), *read_seq)),
            _ => None,
        }
    }
}

/// An event at its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Its position: readers resume after it.
    pub position: EventPosition,
    /// What happened.
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageId, Timestamp};

    #[test]
    fn events_name_their_chat_type_and_membership() {
        let chat = ChatId::from_u128(1);
        let account = AccountId::from_u128(2);
        let joined = Event::MemberJoined {
            chat_id: chat,
            user_id: MemberId::from_u128(3),
            user_name: "n".into(),
            account,
            reads_before: false,
        };
        assert_eq!(joined.type_name(), "member.joined");
        assert_eq!(joined.chat_id(), chat);
        assert_eq!(
            joined.membership(),
            Some(MembershipChange {
                account,
                chat_id: chat,
                reads_before: false,
                reads_after: true
            })
        );
        let message = Event::MessageCreated {
            message: Message {
                id: MessageId::from_u128(4),
                chat_id: chat,
                seq: 1,
                user_id: MemberId::from_u128(3),
                user_name: "n".into(),
                text: "t".into(),
                created_at: Timestamp::from_micros(1),
            },
        };
        assert_eq!(message.membership(), None);
        assert_eq!(message.private_to(), None);
        let read = Event::ReadUpdated {
            chat_id: chat,
            account,
            read_seq: 5,
            unread_count: 2,
        };
        assert_eq!(read.private_to(), Some(account));
        assert_eq!(
            read.read_cursor(),
            Some(Cursor::new(CursorScope::Chat(chat), 5))
        );
        let left = Event::MemberLeft {
            chat_id: chat,
            user_id: MemberId::from_u128(3),
            removed: true,
            account,
            reads_after: false,
        };
        assert_eq!(left.type_name(), "member.left");
        assert_eq!(left.membership().map(|m| m.reads_after), Some(false));
    }
}

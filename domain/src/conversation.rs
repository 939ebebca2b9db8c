//! What a client's first screen is made of: chat summaries with their last-message
//! preview and read state, the chat list's cursor, and the event-stream position.

use crate::cursor::{digest_u64, UncheckedCursor};
use crate::{AccountId, Chat, Cursor, CursorScope, Error, Member, Message, Timestamp};
use sha2::{Digest, Sha256};

/// Most characters of a last-message preview.
pub const PREVIEW_CHARS: usize = 280;

/// A chat's last message as the chat list shows it: its text cut to at most
/// [`PREVIEW_CHARS`] characters (Unicode scalar values, so never inside a character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePreview {
    /// The message, its text cut.
    pub message: Message,
    /// Whether the text was cut.
    pub truncated: bool,
}

impl MessagePreview {
    /// The preview of `message`. Stores may hand over a text already shortened to
    /// `PREVIEW_CHARS + 1` characters or more: the cut and the flag come out the same.
    pub fn of(mut message: Message) -> Self {
        let cut = message
            .text
            .char_indices()
            .nth(PREVIEW_CHARS)
            .map(|(byte, _)| byte);
        if let Some(byte) = cut {
            message.text.truncate(byte);
        }
        Self {
            message,
            truncated: cut.is_some(),
        }
    }
}

/// One chat as a caller sees it in its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    /// The chat (its current name).
    pub chat: Chat,
    /// Its most recent activity: the last message's time, else its creation.
    pub activity: Timestamp,
    /// Whether the caller created it (always, in legacy mode).
    pub is_creator: bool,
    /// The caller's current identities in it, in joining order.
    pub my_users: Vec<Member>,
    /// How many identities (of any account) are in it now.
    pub member_count: u64,
    /// Its last message, if any.
    pub last_message: Option<MessagePreview>,
    /// The caller's read marker: the sequence number of the last message it has read.
    pub read_seq: u64,
    /// The sequence number of the chat's last message (0 when it has none).
    pub last_seq: u64,
}

impl ChatSummary {
    /// Messages after the caller's read marker.
    pub fn unread_count(&self) -> u64 {
        self.last_seq.saturating_sub(self.read_seq)
    }

    /// The read marker as a message cursor.
    pub fn read_cursor(&self) -> Cursor {
        Cursor::new(CursorScope::Chat(self.chat.id), self.read_seq)
    }

    /// The chat's end as a message cursor (`before` it gives the newest messages).
    pub fn end_cursor(&self) -> Cursor {
        Cursor::new(CursorScope::Chat(self.chat.id), self.last_seq)
    }

    /// Whether the caller may see the chat at all (with auth on): it created it or has an
    /// identity in it.
    pub fn is_visible(&self) -> bool {
        self.is_creator || !self.my_users.is_empty()
    }
}

/// A point in an account's chat list, which is ordered by activity, newest first, ties by
/// chat id (descending).
///
/// Wire form (32 hex, like every cursor): 16 hex of the activity (microseconds), then 8
/// hex of a hash of the account (a cursor of another account's list is `bad-cursor`), then
/// 8 hex counting the chats of exactly that activity already shown. A full keyset
/// (activity, chat id) does not fit in 128 bits beside a scope check, so ties are resumed
/// by count: exact unless, while a client pages through chats of one and the same
/// microsecond, one of them gains activity in that very microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatListCursor {
    account: AccountId,
    activity: Timestamp,
    skip: u32,
}

impl ChatListCursor {
    /// The top of `account`'s list.
    pub fn start(account: AccountId) -> Self {
        Self {
            account,
            activity: Timestamp::from_micros(i64::MAX),
            skip: 0,
        }
    }

    /// The page continues with chats whose activity is at most this…
    pub fn activity(&self) -> Timestamp {
        self.activity
    }

    /// …skipping this many of those whose activity is exactly [`Self::activity`].
    pub fn skip(&self) -> u32 {
        self.skip
    }

    /// The cursor after a page read from this one, given the activities of the page's
    /// chats in list order. An empty page leaves it where it is.
    pub fn after_page(self, activities: impl IntoIterator<Item = Timestamp>) -> Self {
        let mut next = self;
        for a in activities {
            if a == next.activity {
                next.skip = next.skip.saturating_add(1);
            } else {
                next.activity = a;
                next.skip = 1;
            }
        }
        next
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        format!(
            "{:016x}{:08x}{:08x}",
            self.activity.as_micros() as u64,
            account_tag(self.account),
            self.skip
        )
    }

    /// The cursor of `account`'s list in `raw`.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed, all zeros, or of another account's list (or of
    /// something else than a chat list).
    pub fn check(raw: UncheckedCursor, account: AccountId) -> Result<Self, Error> {
        let (hi, lo) = raw.halves()?;
        if (lo >> 32) as u32 != account_tag(account) {
            return Err(Error::BadCursor);
        }
        Ok(Self {
            account,
            activity: Timestamp::from_micros(hi as i64),
            skip: lo as u32,
        })
    }
}

fn account_tag(account: AccountId) -> u32 {
    let mut h = Sha256::new();
    h.update(b"chat-list:");
    h.update(account.to_bytes());
    (digest_u64(h) >> 32) as u32
}

/// A position in the event log (every change clients hear of): global, and ordered as
/// the log is. Positions need not be consecutive (a store may leave room between them);
/// 0 is before every event. Reading after a position never later finds an event at or
/// below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventPosition(u64);

impl EventPosition {
    /// The position numbered `n` (the store's own numbering).
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The wire form: 32 hex, like a cursor (a fixed scope hash, then the number).
    pub fn encode(&self) -> String {
        format!("{:016x}{:016x}", events_tag(), self.0)
    }

    /// The position in `raw`.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed or not an event position.
    pub fn check(raw: UncheckedCursor) -> Result<Self, Error> {
        let (hash, n) = raw.halves()?;
        if hash != events_tag() {
            return Err(Error::BadCursor);
        }
        Ok(Self(n))
    }
}

fn events_tag() -> u64 {
    let mut h = Sha256::new();
    h.update(b"events");
    digest_u64(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatId, MemberId, MessageId};

    fn message(text: &str) -> Message {
        Message {
            id: MessageId::from_u128(1),
            chat_id: ChatId::from_u128(2),
            seq: 1,
            user_id: MemberId::from_u128(3),
            user_name: "u".into(),
            text: text.into(),
            created_at: Timestamp::from_micros(5),
        }
    }

    #[test]
    fn previews_cut_at_280_characters_on_char_boundaries() {
        let short = MessagePreview::of(message(&"é".repeat(280)));
        assert!(!short.truncated);
        assert_eq!(short.message.text.chars().count(), 280);
        let long = MessagePreview::of(message(&"🙂".repeat(281)));
        assert!(long.truncated);
        assert_eq!(long.message.text, "🙂".repeat(280));
    }

    #[test]
    fn list_cursors_round_trip_and_are_scoped_to_their_account() {
        let me = AccountId::from_u128(7);
        let c = ChatListCursor::start(me).after_page([
            Timestamp::from_micros(50),
            Timestamp::from_micros(40),
            Timestamp::from_micros(40),
        ]);
        assert_eq!((c.activity(), c.skip()), (Timestamp::from_micros(40), 2));
        let wire = c.encode();
        assert_eq!(wire.len(), 32);
        assert_eq!(
            ChatListCursor::check(UncheckedCursor::parse(&wire), me),
            Ok(c)
        );
        assert_eq!(
            ChatListCursor::check(UncheckedCursor::parse(&wire), AccountId::from_u128(8)),
            Err(Error::BadCursor)
        );
        let again = c.after_page([Timestamp::from_micros(40)]);
        assert_eq!(again.skip(), 3, "a tie run spanning pages keeps counting");
        assert_eq!(c.after_page([]), c, "an empty page stays");
        let start = ChatListCursor::start(me);
        assert_eq!(
            ChatListCursor::check(UncheckedCursor::parse(&start.encode()), me),
            Ok(start)
        );
    }

    #[test]
    fn event_positions_round_trip() {
        let p = EventPosition::new(12);
        assert_eq!(
            EventPosition::check(UncheckedCursor::parse(&p.encode())),
            Ok(p)
        );
        assert_eq!(
            EventPosition::check(UncheckedCursor::parse(&EventPosition::new(0).encode())),
            Ok(EventPosition::new(0))
        );
        let chat_cursor = Cursor::new(CursorScope::Chat(ChatId::from_u128(1)), 12).encode();
        assert_eq!(
            EventPosition::check(UncheckedCursor::parse(&chat_cursor)),
            Err(Error::BadCursor)
        );
    }
}

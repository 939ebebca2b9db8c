//! Read markers: per account and chat, moving only forward.

use super::Messenger;
use crate::{AppError, PortError, ReadUpdate};
use messenger_domain::{Caller, ChatId, Cursor, CursorScope, Error, UncheckedCursor};

/// The caller's read marker in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMarker {
    /// Where it is (a message cursor: the last message read).
    pub read: Cursor,
    /// Messages after it.
    pub unread_count: u64,
}

impl Messenger {
    /// Moves the caller's read marker in `chat` forward to the point `position` marks; a
    /// point at or before the marker leaves it. Answers the marker as it is now.
    ///
    /// # Errors
    /// `chat-not-found`, `bad-cursor` (malformed, of another chat, or beyond the chat's
    /// last message), unavailable.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        chat: ChatId,
        position: UncheckedCursor,
    ) -> Result<ReadMarker, AppError> {
        self.readable_chat(caller, chat).await?;
        let scope = CursorScope::Chat(chat);
        let upto = position.check(scope)?.position();
        match self
            .ports
            .members
            .mark_read(chat, caller.account_id, upto)
            .await
        {
            Ok(ReadUpdate::Marked { read_seq, last_seq }) => {
                self.ports.bus.publish().await;
                Ok(ReadMarker {
                    read: Cursor::new(scope, read_seq),
                    unread_count: last_seq.saturating_sub(read_seq),
                })
            }
            Ok(ReadUpdate::BeyondEnd) => Err(Error::BadCursor.into()),
            Err(PortError::NotFound) => Err(Error::ChatNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }
}

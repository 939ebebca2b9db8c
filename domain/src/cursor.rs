//! Paging cursors: 32 lowercase hex digits — 64 bits of a hash of the scope (the chat or
//! the search task) followed by the 64-bit position after which the page continues.
//!
//! For a chat the position is a message sequence number (sequence numbers start at 1
//! and have no gaps, so position 0 is "before the first message"); for a search task it
//! is an offset into the hits. The scope hash makes a cursor of another chat or task
//! detectable; the format leaves room for newest-first paging later (the same pair).

use crate::{ChatId, Error, TaskId};
use sha2::{Digest, Sha256};

/// What a cursor pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorScope {
    /// A chat's messages.
    Chat(ChatId),
    /// A search task's hits.
    Task(TaskId),
}

impl CursorScope {
    fn hash(self) -> u64 {
        let mut h = Sha256::new();
        match self {
            CursorScope::Chat(id) => {
                h.update(b"chat:");
                h.update(id.to_bytes());
            }
            CursorScope::Task(id) => {
                h.update(b"task:");
                h.update(id.to_bytes());
            }
        }
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_be_bytes(first)
    }
}

/// A position within a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    scope: CursorScope,
    position: u64,
}

impl Cursor {
    /// The cursor after `position` in `scope`.
    pub fn new(scope: CursorScope, position: u64) -> Self {
        Self { scope, position }
    }

    /// The position after which the page continues.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The wire form: 32 lowercase hex digits.
    pub fn encode(&self) -> String {
        format!("{:016x}{:016x}", self.scope.hash(), self.position)
    }

    /// Parses the `from` parameter for `scope`. Empty or absent means "from the start"
    /// (position 0). Bounds against the scope's end are the caller's to check.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed, all zeros, or of another scope.
    pub fn decode(scope: CursorScope, from: Option<&str>) -> Result<Self, Error> {
        let s = match from {
            None | Some("") => return Ok(Self::new(scope, 0)),
            Some(s) => s,
        };
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::BadCursor);
        }
        let scope_part = u64::from_str_radix(&s[..16], 16).map_err(|_| Error::BadCursor)?;
        let position = u64::from_str_radix(&s[16..], 16).map_err(|_| Error::BadCursor)?;
        if (scope_part == 0 && position == 0) || scope_part != scope.hash() {
            return Err(Error::BadCursor);
        }
        Ok(Self::new(scope, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(n: u128) -> CursorScope {
        CursorScope::Chat(ChatId::from_u128(n))
    }

    #[test]
    fn round_trips() {
        let c = Cursor::new(chat(7), 42);
        let s = c.encode();
        assert_eq!(s.len(), 32);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(Cursor::decode(chat(7), Some(&s)).unwrap().position(), 42);
        assert_eq!(
            Cursor::decode(chat(7), Some(&s.to_uppercase()))
                .unwrap()
                .position(),
            42
        );
    }

    #[test]
    fn empty_or_absent_is_the_start() {
        assert_eq!(Cursor::decode(chat(1), None).unwrap().position(), 0);
        assert_eq!(Cursor::decode(chat(1), Some("")).unwrap().position(), 0);
    }

    #[test]
    fn rejects_other_scopes_and_garbage() {
        let s = Cursor::new(chat(7), 1).encode();
        assert_eq!(Cursor::decode(chat(8), Some(&s)), Err(Error::BadCursor));
        let task = CursorScope::Task(TaskId::from_u128(7));
        assert_eq!(Cursor::decode(task, Some(&s)), Err(Error::BadCursor));
        for bad in [
            "0",
            "zz",
            &"0".repeat(32),
            &"g".repeat(32),
            &format!("{s}0"),
        ] {
            assert_eq!(
                Cursor::decode(chat(7), Some(bad)),
                Err(Error::BadCursor),
                "{bad}"
            );
        }
    }
}

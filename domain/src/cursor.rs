//! Paging cursors: 32 lowercase hex digits — 64 bits of a hash of the scope (the chat or
//! the search task) followed by the 64-bit position after which the page continues.
//!
//! For a chat the position is a message sequence number (sequence numbers start at 1
//! and have no gaps, so position 0 is "before the first message"); for a search task it
//! is an offset into the hits. The scope hash makes a cursor of another chat or task
//! detectable; newest-first paging (`before`) uses the same pair: a cursor marks the point
//! after a position, and `before` reads the messages at or below it.
//!
//! Cursors arrive before the rules that check them may run (a bad cursor on a chat the
//! caller may not read answers `chat-not-found`, not `bad-cursor`), so the wire form is
//! first read into an [`UncheckedCursor`], which use cases check against their scope at
//! the right moment.

use crate::{ChatId, Error, TaskId};
use sha2::{Digest, Sha256};

/// What a cursor pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorScope {
    /// A chat's messages.
    Chat(ChatId),
    /// A search task's hits.
    Task(TaskId),
    /// A chat's current members, in joining order (the position is a join number).
    Members(ChatId),
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
            CursorScope::Members(id) => {
                h.update(b"members:");
                h.update(id.to_bytes());
            }
        }
        digest_u64(h)
    }
}

/// The first 64 bits of a SHA-256 digest.
pub(crate) fn digest_u64(h: Sha256) -> u64 {
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// A cursor as received: its wire form read, but not yet checked against a scope (that
/// happens where the error order puts `bad-cursor`). Malformed input is kept as such and
/// answers `bad-cursor` when checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UncheckedCursor(Option<(u64, u64)>);

impl UncheckedCursor {
    /// Reads the 32-hex wire form (any case). Never fails: see [`UncheckedCursor::check`].
    pub fn parse(s: &str) -> Self {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Self(None);
        }
        let pair = u64::from_str_radix(&s[..16], 16)
            .ok()
            .zip(u64::from_str_radix(&s[16..], 16).ok());
        Self(pair.filter(|&(hi, lo)| hi != 0 || lo != 0))
    }

    /// Reads a cursor sent as a JSON text field: as [`UncheckedCursor::parse`], but a text
    /// holding U+0000 is bad input (the rule for every text field), not a bad cursor.
    ///
    /// # Errors
    /// [`Error::BadParameters`] when `s` holds U+0000.
    pub fn from_text(s: &str) -> Result<Self, Error> {
        if s.contains('\0') {
            return Err(Error::BadParameters);
        }
        Ok(Self::parse(s))
    }

    /// The two 64-bit halves.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when the wire form was malformed or all zeros.
    pub fn halves(self) -> Result<(u64, u64), Error> {
        self.0.ok_or(Error::BadCursor)
    }

    /// The cursor, when it is one of `scope`.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed, all zeros, or of another scope. Bounds against
    /// the scope's end are the caller's to check.
    pub fn check(self, scope: CursorScope) -> Result<Cursor, Error> {
        let (hash, position) = self.halves()?;
        if hash != scope.hash() {
            return Err(Error::BadCursor);
        }
        Ok(Cursor::new(scope, position))
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

    /// Parses the `from` parameter for `scope` (syntax and scope at once; see
    /// [`CursorParam`] for the two steps apart). Empty or absent means "from the start"
    /// (position 0). Bounds against the scope's end are the caller's to check.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed, all zeros, or of another scope.
    pub fn decode(scope: CursorScope, from: Option<&str>) -> Result<Self, Error> {
        CursorParam::parse(from).in_scope(scope)
    }
}

/// A `from` parameter read at the edge: its syntax parsed, its scope not yet checked. The
/// HTTP layer parses it; the use case checks it against the chat or task only after its
/// access check, because `chat-not-found` answers before `bad-cursor` (so a malformed
/// cursor is kept as [`CursorParam::Malformed`], not answered at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorParam {
    /// Absent or empty: from the start.
    Start,
    /// 32 hex digits: a scope's hash and a position, not yet checked against a scope.
    Token {
        /// The scope's hash (the first 16 digits).
        scope_hash: u64,
        /// The position (the last 16 digits).
        position: u64,
    },
    /// Anything else (also all zeros, which no scope hashes to by design).
    Malformed,
}

impl From<Cursor> for CursorParam {
    /// A cursor handed back as the next `from` (as if encoded and parsed again).
    fn from(c: Cursor) -> Self {
        Self::Token {
            scope_hash: c.scope.hash(),
            position: c.position,
        }
    }
}

impl CursorParam {
    /// Parses the wire form: absent or empty, or 32 hex digits in any case.
    pub fn parse(from: Option<&str>) -> Self {
        let s = match from {
            None | Some("") => return Self::Start,
            Some(s) => s,
        };
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Self::Malformed;
        }
        match (
            u64::from_str_radix(&s[..16], 16),
            u64::from_str_radix(&s[16..], 16),
        ) {
            (Ok(0), Ok(0)) | (Err(_), _) | (_, Err(_)) => Self::Malformed,
            (Ok(scope_hash), Ok(position)) => Self::Token {
                scope_hash,
                position,
            },
        }
    }

    /// The cursor in `scope`. Bounds against the scope's end are the caller's to check.
    ///
    /// # Errors
    /// [`Error::BadCursor`] when malformed or of another scope.
    pub fn in_scope(self, scope: CursorScope) -> Result<Cursor, Error> {
        match self {
            Self::Start => Ok(Cursor::new(scope, 0)),
            Self::Token {
                scope_hash,
                position,
            } if scope_hash == scope.hash() => Ok(Cursor::new(scope, position)),
            Self::Token { .. } | Self::Malformed => Err(Error::BadCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_in_a_text_field_with_u0000_is_bad_input() {
        assert_eq!(UncheckedCursor::from_text("a\0"), Err(Error::BadParameters));
        assert_eq!(
            UncheckedCursor::from_text("xyz"),
            Ok(UncheckedCursor::parse("xyz"))
        );
    }

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
    fn syntax_is_parsed_apart_from_the_scope() {
        let s = Cursor::new(chat(7), 3).encode();
        let param = CursorParam::parse(Some(&s));
        assert!(matches!(param, CursorParam::Token { position: 3, .. }));
        assert_eq!(param.in_scope(chat(7)).unwrap().position(), 3);
        assert_eq!(param.in_scope(chat(8)), Err(Error::BadCursor));
        assert_eq!(CursorParam::from(Cursor::new(chat(7), 3)), param);
        assert_eq!(CursorParam::parse(Some("nope")), CursorParam::Malformed);
        assert_eq!(CursorParam::parse(None), CursorParam::Start);
        assert_eq!(
            CursorParam::Malformed.in_scope(chat(7)),
            Err(Error::BadCursor)
        );
    }

    #[test]
    fn empty_or_absent_is_the_start() {
        assert_eq!(Cursor::decode(chat(1), None).unwrap().position(), 0);
        assert_eq!(Cursor::decode(chat(1), Some("")).unwrap().position(), 0);
    }

    #[test]
    fn unchecked_cursors_are_checked_later() {
        let c = Cursor::new(CursorScope::Members(ChatId::from_u128(3)), 9);
        let raw = UncheckedCursor::parse(&c.encode());
        assert_eq!(raw.check(CursorScope::Members(ChatId::from_u128(3))), Ok(c));
        assert_eq!(raw.check(chat(3)), Err(Error::BadCursor));
        assert_eq!(
            UncheckedCursor::parse("nope").check(chat(3)),
            Err(Error::BadCursor)
        );
        assert_eq!(
            UncheckedCursor::parse(&"0".repeat(32)).halves(),
            Err(Error::BadCursor)
        );
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

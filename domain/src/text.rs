//! Validated texts: names, passwords, messages, idempotency keys, page limits.
//!
//! "Characters" are Unicode scalar values (`chars()`), as the OpenAPI `maxLength` counts
//! them. Texts are stored verbatim: no trimming, no normalisation. U+0000 is refused
//! everywhere (PostgreSQL cannot store it in `text`, so no adapter ever sees one).

use crate::Error;

/// Checks the length in characters and refuses U+0000.
fn check_text(s: &str, min: usize, max: usize) -> Result<(), Error> {
    if s.contains('\0') {
        return Err(Error::BadParameters);
    }
    // Count at most max+1 characters: a huge input is refused without a full walk.
    let n = s.chars().take(max + 1).count();
    if n < min || n > max {
        return Err(Error::BadParameters);
    }
    Ok(())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr $(, $extra:expr)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Fewest characters accepted.
            pub const MIN_CHARS: usize = $min;
            /// Most characters accepted.
            pub const MAX_CHARS: usize = $max;

            /// Validates `s`.
            ///
            /// # Errors
            /// [`Error::BadParameters`] when the text breaks the rules of this type.
            pub fn parse(s: impl Into<String>) -> Result<Self, Error> {
                let s = s.into();
                check_text(&s, $min, $max)?;
                $( if !($extra)(&s) { return Err(Error::BadParameters); } )?
                Ok(Self(s))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// An account name: 1–255 characters, not only whitespace; unique case-sensitively.
    UserName, 1, 255, |s: &str| !s.trim().is_empty()
);
text_type!(
    /// A member's display name in a chat (the `user_name` of a join): 1–255 characters.
    DisplayName, 1, 255
);
text_type!(
    /// A chat's name: 1–255 characters.
    ChatName, 1, 255
);
text_type!(
    /// A message's text: 1–10,000 characters.
    MessageText, 1, 10_000
);
text_type!(
    /// An `Idempotency-Key` header value: 1–255 visible ASCII characters.
    IdempotencyKey, 1, 255, |s: &str| s.bytes().all(|b| b.is_ascii_graphic())
);

/// A password: 1–1024 characters. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 1024;

    /// Validates `s`.
    ///
    /// # Errors
    /// [`Error::BadParameters`] when empty, longer than 1024 characters, or holding U+0000.
    pub fn parse(s: impl Into<String>) -> Result<Self, Error> {
        let s = s.into();
        check_text(&s, 1, Self::MAX_CHARS)?;
        Ok(Self(s))
    }

    /// The secret, for the password hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A page size within `1..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit(u32);

impl Limit {
    /// Largest page of chat messages.
    pub const MAX_MESSAGES: u32 = 1000;
    /// Largest page of search hits.
    pub const MAX_SEARCH_HITS: u32 = 100;
    /// Largest page of the chat list.
    pub const MAX_CHATS: u32 = 100;
    /// Largest page of a chat's members.
    pub const MAX_MEMBERS: u32 = 1000;
    /// Largest page of events (long poll).
    pub const MAX_EVENTS: u32 = 1000;

    /// A page size of events (1–1000).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of range.
    pub fn events(n: i64) -> Result<Self, Error> {
        Self::within(n, Self::MAX_EVENTS)
    }

    /// A page size of chat messages (1–1000).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of range.
    pub fn messages(n: i64) -> Result<Self, Error> {
        Self::within(n, Self::MAX_MESSAGES)
    }

    /// A page size of search hits (1–100).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of range.
    pub fn search_hits(n: i64) -> Result<Self, Error> {
        Self::within(n, Self::MAX_SEARCH_HITS)
    }

    /// A page size of the chat list (1–100).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of range.
    pub fn chats(n: i64) -> Result<Self, Error> {
        Self::within(n, Self::MAX_CHATS)
    }

    /// A page size of a chat's members (1–1000).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of range.
    pub fn members(n: i64) -> Result<Self, Error> {
        Self::within(n, Self::MAX_MEMBERS)
    }

    fn within(n: i64, max: u32) -> Result<Self, Error> {
        match u32::try_from(n) {
            Ok(v) if (1..=max).contains(&v) => Ok(Self(v)),
            _ => Err(Error::BadParameters),
        }
    }

    /// The size.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// What makes an idempotent retry "the same request": SHA-256 over the posting member and
/// the exact text (length-prefixed, so no two different pairs share an input).
pub fn idempotency_fingerprint(member: crate::MemberId, text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(member.to_bytes());
    h.update((text.len() as u64).to_be_bytes());
    h.update(text.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(UserName::parse("é".repeat(255)).is_ok());
        assert!(UserName::parse("é".repeat(256)).is_err());
        assert!(MessageText::parse("x".repeat(10_000)).is_ok());
        assert!(MessageText::parse("x".repeat(10_001)).is_err());
        assert!(ChatName::parse("").is_err());
        assert!(Password::parse("p".repeat(1024)).is_ok());
        assert!(Password::parse("p".repeat(1025)).is_err());
    }

    #[test]
    fn nul_is_refused_everywhere() {
        assert!(UserName::parse("a\0b").is_err());
        assert!(DisplayName::parse("a\0b").is_err());
        assert!(ChatName::parse("\0").is_err());
        assert!(MessageText::parse("hi\0").is_err());
        assert!(Password::parse("\0").is_err());
    }

    #[test]
    fn user_name_is_not_only_whitespace_but_is_kept_verbatim() {
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse("\t\n").is_err());
        assert_eq!(UserName::parse(" bob ").unwrap().as_str(), " bob ");
        // Display names and chat names may be anything non-empty.
        assert!(DisplayName::parse(" ").is_ok());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("abc-123_~").is_ok());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
        assert!(IdempotencyKey::parse("k".repeat(256)).is_err());
    }

    #[test]
    fn limits() {
        assert!(Limit::messages(0).is_err());
        assert_eq!(Limit::messages(1000).unwrap().get(), 1000);
        assert!(Limit::messages(1001).is_err());
        assert!(Limit::messages(-1).is_err());
        assert!(Limit::search_hits(101).is_err());
        assert_eq!(Limit::search_hits(100).unwrap().get(), 100);
        assert!(Limit::chats(101).is_err());
        assert_eq!(Limit::chats(100).unwrap().get(), 100);
        assert!(Limit::members(1001).is_err());
        assert_eq!(Limit::members(1000).unwrap().get(), 1000);
    }

    #[test]
    fn fingerprints_tell_member_and_text_apart() {
        let a = crate::MemberId::from_u128(1);
        let b = crate::MemberId::from_u128(2);
        assert_eq!(
            idempotency_fingerprint(a, "hi"),
            idempotency_fingerprint(a, "hi")
        );
        assert_ne!(
            idempotency_fingerprint(a, "hi"),
            idempotency_fingerprint(b, "hi")
        );
        assert_ne!(
            idempotency_fingerprint(a, "hi"),
            idempotency_fingerprint(a, "hi ")
        );
    }

    #[test]
    fn password_debug_hides_it() {
        assert_eq!(
            format!("{:?}", Password::parse("secret").unwrap()),
            "Password(***)"
        );
    }
}

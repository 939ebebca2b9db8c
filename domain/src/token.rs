//! Session tokens: 128 random bits shown as 32 lowercase hex digits. Only their SHA-256
//! hash is ever stored, so a leaked store does not leak usable tokens.

use sha2::{Digest, Sha256};
use std::fmt;

/// A session token as the client holds it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A token from 16 random bytes (the caller supplies them from the OS RNG).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(hex::encode(bytes))
    }

    /// Parses a presented token: exactly 32 hex digits (any case, normalised to lower).
    /// `None` when malformed (the API answers `invalid-session-id`).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Self(s.to_ascii_lowercase()))
        } else {
            None
        }
    }

    /// The token as given to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash under which the session is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// SHA-256 of a session token: the key of the stored session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Lowercase hex (for cache keys).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_hex_and_hash_stably() {
        let t = SessionToken::from_random([0xab; 16]);
        assert_eq!(t.as_str().len(), 32);
        let again = SessionToken::parse(&t.as_str().to_uppercase()).unwrap();
        assert_eq!(t.hash(), again.hash());
        assert!(SessionToken::parse("nothex").is_none());
        assert!(SessionToken::parse("").is_none());
        assert_eq!(format!("{t:?}"), "SessionToken(***)");
    }
}

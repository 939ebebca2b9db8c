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

    /// The session's public id: the first 16 bytes of SHA-256 of this hash. It names the
    /// session to its owner (the session list, ending one session) and cannot be turned
    /// back into the token, nor into this hash. A store can compute it from the hash alone
    /// (`substring(sha256(token_hash) from 1 for 16)` in PostgreSQL).
    pub fn public_id(&self) -> SessionPublicId {
        let digest: [u8; 32] = Sha256::digest(self.0).into();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        SessionPublicId(id)
    }
}

/// The public id of a session: 16 bytes, shown as 32 lowercase hex digits. Derived from
/// the token's hash one way ([`TokenHash::public_id`]), so showing it reveals nothing
/// that authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionPublicId(pub [u8; 16]);

impl SessionPublicId {
    /// Parses 32 hex digits, any case; `None` otherwise (the API answers
    /// `session-not-found` for it, as for an unknown id).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 32 {
            return None;
        }
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(Self(id))
    }
}

impl fmt::Display for SessionPublicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
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

    #[test]
    fn public_ids_are_one_way_32_hex_and_parse_back() {
        let t = SessionToken::from_random([0x5a; 16]);
        let id = t.hash().public_id();
        let shown = id.to_string();
        assert_eq!(shown.len(), 32);
        assert!(shown
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(shown, t.as_str(), "never the token");
        assert!(
            !t.hash().to_hex().contains(&shown),
            "never part of the hash"
        );
        assert_eq!(SessionPublicId::parse(&shown), Some(id));
        assert_eq!(SessionPublicId::parse(&shown.to_uppercase()), Some(id));
        let digest: [u8; 32] = Sha256::digest(t.hash().0).into();
        assert_eq!(id.0[..], digest[..16]);
        for bad in [
            "",
            "xyz",
            &shown[..31],
            &format!("{shown}0"),
            &"g".repeat(32),
        ] {
            assert_eq!(SessionPublicId::parse(bad), None, "{bad:?}");
        }
        assert_ne!(SessionToken::from_random([0x5b; 16]).hash().public_id(), id);
    }
}

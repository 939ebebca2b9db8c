//! Opaque 128-bit ids. Emitted as 32 lowercase hex digits; parsed from that form or
//! the dashed 8-4-4-4-12 form, in any case.

use std::fmt;

/// Parses 32 hex digits, or the dashed UUID form, any case. `None` when it does not parse.
fn parse_u128(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    let hex: String = match b.len() {
        32 => s.to_owned(),
        36 => {
            if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
                return None;
            }
            s.chars().filter(|c| *c != '-').collect()
        }
        _ => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// Wraps a raw 128-bit value (from an id generator or a store).
            pub const fn from_u128(v: u128) -> Self {
                Self(v)
            }
            /// The raw 128-bit value.
            pub const fn as_u128(self) -> u128 {
                self.0
            }
            /// The 16 big-endian bytes (the UUID byte order).
            pub const fn to_bytes(self) -> [u8; 16] {
                self.0.to_be_bytes()
            }
            /// From 16 big-endian bytes.
            pub const fn from_bytes(b: [u8; 16]) -> Self {
                Self(u128::from_be_bytes(b))
            }
            /// Parses the 32-hex or dashed form, any case; `None` when it does not parse
            /// (callers answer the resource's 404, never 400).
            pub fn parse(s: &str) -> Option<Self> {
                parse_u128(s).map(Self)
            }
            /// Parses a request's id, keeping a malformed one for a later answer.
            pub fn param(s: &str) -> IdParam<Self> {
                Self::parse(s).into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:032x}", self.0)
            }
        }
    };
}

/// An id read from a request, parsed at the edge. One that does not parse is kept as
/// such rather than answered at once: its 404 comes after checks that the contract orders
/// first (a `user_id` that does not parse answers `user-not-found` only once the chat is
/// known to be the caller's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdParam<T> {
    /// A well-formed id (it may still name nothing).
    Valid(T),
    /// Not an id in either accepted form.
    Malformed,
}

impl<T> IdParam<T> {
    /// The id, or `missing` when it did not parse.
    ///
    /// # Errors
    /// `missing`, for a malformed id.
    pub fn or(self, missing: crate::Error) -> Result<T, crate::Error> {
        match self {
            IdParam::Valid(id) => Ok(id),
            IdParam::Malformed => Err(missing),
        }
    }
}

impl<T> From<Option<T>> for IdParam<T> {
    fn from(id: Option<T>) -> Self {
        id.map_or(IdParam::Malformed, IdParam::Valid)
    }
}

id_type!(
    /// An account (a registered user name with a password).
    AccountId
);
id_type!(
    /// A chat.
    ChatId
);
id_type!(
    /// A member of a chat: the `user_id` of the API, unique within its chat.
    MemberId
);
id_type!(
    /// A message.
    MessageId
);
id_type!(
    /// A search task.
    TaskId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_dashed_forms_in_any_case() {
        let plain = ChatId::parse("0123456789abcdef0123456789ABCDEF").unwrap();
        let dashed = ChatId::parse("01234567-89AB-cdef-0123-456789abcdef").unwrap();
        assert_eq!(plain, dashed);
        assert_eq!(plain.to_string(), "0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "",
            "xyz",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdeg",
            "0123456789-abcdef-0123-456789abcdef",
            "01234567-89ab-cdef-0123-456789abcdef0",
            "+123456789abcdef0123456789abcdef",
            "01234567+89ab-cdef-0123-456789abcdef",
        ] {
            assert!(ChatId::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn bytes_round_trip() {
        let id = MessageId::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788);
        assert_eq!(MessageId::from_bytes(id.to_bytes()), id);
    }
}

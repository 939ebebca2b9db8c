//! The API's error codes, as one enum.

/// Every error the API can answer with; each variant is exactly one wire code.
///
/// The HTTP layer maps a variant to its status in one place; [`Error::code`] is the
/// `message` field of the answer body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Malformed or out-of-range input.
    #[error("bad-parameters")]
    BadParameters,
    /// A paging cursor that is malformed, of another chat or task, or beyond the end.
    #[error("bad-cursor")]
    BadCursor,
    /// No such route.
    #[error("not-found")]
    NotFound,
    /// A known route with another method.
    #[error("method-not-allowed")]
    MethodNotAllowed,
    /// The chat does not exist, or the caller may not see it.
    #[error("chat-not-found")]
    ChatNotFound,
    /// The account (login) or member (`user_id`) does not exist or is not the caller's.
    #[error("user-not-found")]
    UserNotFound,
    /// Registration with a name that is taken.
    #[error("user-already-exists")]
    UserAlreadyExists,
    /// Login with the wrong password.
    #[error("bad-password")]
    BadPassword,
    /// No credentials, or credentials of another scheme.
    #[error("auth-failed")]
    AuthFailed,
    /// A session token that is unknown, malformed or logged out.
    #[error("invalid-session-id")]
    InvalidSessionId,
    /// A session token past its lifetime.
    #[error("session-id-expired")]
    SessionIdExpired,
    /// The search task is unknown, expired, or another account's.
    #[error("task-not-found")]
    TaskNotFound,
    /// The search task is still waiting or running.
    #[error("task-not-complete")]
    TaskNotComplete,
    /// The search task failed.
    #[error("task-failed")]
    TaskFailed,
    /// Over the allowed rate; retry after the given whole number of seconds (at least 1).
    #[error("request-limit-exceeded")]
    RequestLimitExceeded {
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// The same idempotency key was used with another body.
    #[error("idempotency-key-reused")]
    IdempotencyKeyReused,
    /// The caller may see the chat but not do this (only its creator may).
    #[error("forbidden")]
    Forbidden,
    /// The session (by its public id) is unknown, ended, or another account's.
    #[error("session-not-found")]
    SessionNotFound,
    /// A backing store is down or did not answer in time.
    #[error("service-unavailable")]
    ServiceUnavailable,
    /// Anything unexpected.
    #[error("internal-error")]
    InternalError,
}

impl Error {
    /// The wire code of this error (the `message` field of the answer).
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadParameters => "bad-parameters",
            Error::BadCursor => "bad-cursor",
            Error::NotFound => "not-found",
            Error::MethodNotAllowed => "method-not-allowed",
            Error::ChatNotFound => "chat-not-found",
            Error::UserNotFound => "user-not-found",
            Error::UserAlreadyExists => "user-already-exists",
            Error::BadPassword => "bad-password",
            Error::AuthFailed => "auth-failed",
            Error::InvalidSessionId => "invalid-session-id",
            Error::SessionIdExpired => "session-id-expired",
            Error::TaskNotFound => "task-not-found",
            Error::TaskNotComplete => "task-not-complete",
            Error::TaskFailed => "task-failed",
            Error::RequestLimitExceeded { .. } => "request-limit-exceeded",
            Error::IdempotencyKeyReused => "idempotency-key-reused",
            Error::Forbidden => "forbidden",
            Error::SessionNotFound => "session-not-found",
            Error::ServiceUnavailable => "service-unavailable",
            Error::InternalError => "internal-error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_code() {
        let all = [
            Error::BadParameters,
            Error::BadCursor,
            Error::ChatNotFound,
            Error::Forbidden,
            Error::SessionNotFound,
            Error::RequestLimitExceeded {
                retry_after_secs: 3,
            },
            Error::InternalError,
        ];
        for e in all {
            assert_eq!(e.to_string(), e.code());
        }
    }
}

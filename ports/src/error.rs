//! Errors at the edge (ports) and of the use cases.

use messenger_domain::Error;

/// What any port method can fail with, whatever the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The thing addressed does not exist (where a method's contract says so).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (where a method's contract says so).
    #[error("conflict")]
    Conflict,
    /// The backend is down, refused, or did not answer within its deadline. Answered as
    /// 503; the request may be retried.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug, corrupt data). Answered as 500 and logged.
    #[error("backend error: {0}")]
    Internal(String),
}

/// Result of a port call.
pub type PortResult<T> = Result<T, PortError>;

/// What a use case fails with: an API error code, or an infrastructure failure with its
/// cause (kept for the log; never shown to clients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// A rule of the API was broken; answered with that code.
    #[error(transparent)]
    Domain(#[from] Error),
    /// A backend is unavailable (503 `service-unavailable`).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Unexpected (500 `internal-error`).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The API error this answers as.
    pub fn api_error(&self) -> Error {
        match self {
            AppError::Domain(e) => e.clone(),
            AppError::Unavailable(_) => Error::ServiceUnavailable,
            AppError::Internal(_) => Error::InternalError,
        }
    }
}

impl From<PortError> for AppError {
    /// A `NotFound`/`Conflict` that reaches here was not expected by the use case.
    fn from(e: PortError) -> Self {
        match e {
            PortError::Unavailable(m) => AppError::Unavailable(m),
            PortError::Internal(m) => AppError::Internal(m),
            PortError::NotFound => AppError::Internal("unexpected not-found from a port".into()),
            PortError::Conflict => AppError::Internal("unexpected conflict from a port".into()),
        }
    }
}

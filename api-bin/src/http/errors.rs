//! Errors as answers: the one mapping from an error to its status, the exact
//! `{"message": "<code>"}` bodies, the code sets the spec declares (one string enum per set
//! of codes an answer can carry), and the typed handlers for the framework's parse errors.

use messenger_domain::Error;
use messenger_ports::AppError;
use poem::{
    http::{header, HeaderValue, StatusCode},
    Response,
};
use poem_openapi::{Enum, Object};

/// The status every error answers with. This is the one mapping from an error to a
/// status; the code sets below and each route's response type follow it, and a test checks
/// that the generated spec agrees.
///
/// One exception is inherited from the original service: a login with an unknown name
/// answers `user-not-found` with **400** (the login's own response type declares it so),
/// while an unknown `user_id` when posting answers it with 404.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::BadParameters
        | Error::BadCursor
        | Error::UserAlreadyExists
        | Error::BadPassword
        | Error::TaskNotComplete
        | Error::TaskFailed => StatusCode::BAD_REQUEST,
        Error::AuthFailed | Error::InvalidSessionId | Error::SessionIdExpired => {
            StatusCode::UNAUTHORIZED
        }
        Error::NotFound
        | Error::ChatNotFound
        | Error::UserNotFound
        | Error::TaskNotFound
        | Error::SessionNotFound => StatusCode::NOT_FOUND,
        Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Forbidden => StatusCode::FORBIDDEN,
        Error::RequestLimitExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Error::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Turns a use-case error into the API error it answers as, logging infrastructure causes
/// (they are never shown to clients).
pub fn reduce(e: AppError) -> Error {
    match &e {
        AppError::Domain(_) => {}
        AppError::Unavailable(cause) => {
            tracing::warn!(%cause, "answering 503: a backend is unavailable")
        }
        AppError::Internal(cause) => tracing::error!(%cause, "answering 500: internal error"),
    }
    e.api_error()
}

/// The content type of every JSON answer (the one poem-openapi's `Json` declares).
pub const JSON: &str = "application/json; charset=utf-8";

/// The exact body of an error answer.
pub fn error_body(e: &Error) -> String {
    // Codes are fixed ASCII words: no escaping needed.
    format!(r#"{{"message":"{}"}}"#, e.code())
}

/// The whole answer for an error raised outside a handler (route table, authentication,
/// throttling, body limit, framework parse errors), with `Retry-After` on 429.
pub fn error_response(e: &Error) -> Response {
    let mut resp = Response::builder()
        .status(status_of(e))
        .content_type(JSON)
        .body(error_body(e));
    if let Error::RequestLimitExceeded { retry_after_secs } = e {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}

/// The 405 answer with its `Allow` header.
pub fn method_not_allowed(allow: &str) -> Response {
    let mut resp = error_response(&Error::MethodNotAllowed);
    // Method names are always valid header text.
    if let Ok(v) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// A body type of one set of codes: built from an error when the error is in the set.
pub trait CodeSet: Sized {
    /// The body for `e`, when `e` is one of this set's codes.
    fn from_error(e: &Error) -> Option<Self>;
}

/// Declares, for each set of codes an answer can carry, a string enum of the codes and the
/// `{"message": code}` object, named for the spec.
macro_rules! code_sets {
    ($( $(#[$doc:meta])* $body:ident($code:ident) { $($v:ident),+ $(,)? } )+) => { $(
        #[doc = concat!("The codes an answer of [`", stringify!($body), "`] carries.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
        #[oai(rename_all = "kebab-case")]
        pub enum $code { $( #[allow(missing_docs)] $v ),+ }

        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Object)]
        pub struct $body {
            /// The error code.
            pub message: $code,
        }

        impl CodeSet for $body {
            fn from_error(e: &Error) -> Option<Self> {
                match e {
                    $( Error::$v { .. } => Some(Self { message: $code::$v }), )+
                    _ => None,
                }
            }
        }
    )+ };
}

code_sets! {
    /// Malformed or out-of-range input.
    BadParametersError(BadParametersCode) { BadParameters }
    /// Registration refused.
    RegisterBadRequestError(RegisterBadRequestCode) { BadParameters, UserAlreadyExists }
    /// Login refused.
    LoginBadRequestError(LoginBadRequestCode) { BadParameters, UserNotFound, BadPassword }
    /// A password change refused: bad input, or the current password is wrong.
    PasswordBadRequestError(PasswordBadRequestCode) { BadParameters, BadPassword }
    /// A page of messages refused.
    PageBadRequestError(PageBadRequestCode) { BadParameters, BadCursor }
    /// A malformed position.
    BadCursorError(BadCursorCode) { BadCursor }
    /// A page of search results refused.
    ResultsBadRequestError(ResultsBadRequestCode) { BadParameters, BadCursor, TaskNotComplete, TaskFailed }
    /// Authentication failed: no or another scheme, an unknown/malformed/logged-out token, or an
    /// expired one.
    AuthError(AuthCode) { AuthFailed, InvalidSessionId, SessionIdExpired }
    /// The chat is unknown, or the caller neither created nor joined it.
    ChatNotFoundError(ChatNotFoundCode) { ChatNotFound }
    /// The chat, or the posting member (`user_id`), is not found for the caller.
    PostNotFoundError(PostNotFoundCode) { ChatNotFound, UserNotFound }
    /// The chat is not found for the caller, or `user_id` is not a current member of it.
    MemberNotFoundError(MemberNotFoundCode) { ChatNotFound, UserNotFound }
    /// The caller may read the chat, but only its creator may do this.
    ForbiddenError(ForbiddenCode) { Forbidden }
    /// The search task is unknown, expired, or another account's.
    TaskNotFoundError(TaskNotFoundCode) { TaskNotFound }
    /// The session is unknown, ended, or another account's.
    SessionNotFoundError(SessionNotFoundCode) { SessionNotFound }
    /// No such route (any path not in this document).
    RouteNotFoundError(RouteNotFoundCode) { NotFound }
    /// A known route with another method (the `Allow` header lists the methods).
    MethodNotAllowedError(MethodNotAllowedCode) { MethodNotAllowed }
    /// The idempotency key was used with another body.
    IdempotencyKeyReusedError(IdempotencyKeyReusedCode) { IdempotencyKeyReused }
    /// Over the allowed rate; see `Retry-After`.
    RateLimitedError(RateLimitedCode) { RequestLimitExceeded }
    /// A backing store is down or did not answer in time.
    UnavailableError(UnavailableCode) { ServiceUnavailable }
    /// Something unexpected happened (details are in the server's log).
    InternalError(InternalCode) { InternalError }
}

impl InternalError {
    /// The only value.
    pub fn new() -> Self {
        Self {
            message: InternalCode::InternalError,
        }
    }
}

impl Default for InternalError {
    fn default() -> Self {
        Self::new()
    }
}

/// Typed handlers for the framework's own errors, each turned into the contract's answer.
/// They are applied with `catch_error` by type, so nothing else is swallowed. (Path errors
/// are answered by the gate, which knows whose id the path holds.)
pub mod catchers {
    use super::error_response;
    use messenger_domain::Error;
    use poem::Response;
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError,
        ParseRequestPayloadError,
    };

    /// Malformed JSON, a non-object, an empty body, wrong field types, out-of-range fields.
    pub async fn payload(_: ParseRequestPayloadError) -> Response {
        error_response(&Error::BadParameters)
    }

    /// A missing, mistyped or out-of-range query parameter or header.
    pub async fn param(_: ParseParamError) -> Response {
        error_response(&Error::BadParameters)
    }

    /// No content type, or not JSON (never 415).
    pub async fn content_type(_: ContentTypeError) -> Response {
        error_response(&Error::BadParameters)
    }

    /// Not sent by this API (no multipart routes), but bad input all the same.
    pub async fn multipart(_: ParseMultipartError) -> Response {
        error_response(&Error::BadParameters)
    }

    /// The security scheme found no caller: keep its `auth-failed` code.
    pub async fn authorization(_: AuthorizationError) -> Response {
        error_response(&Error::AuthFailed)
    }

    /// A request the router does not know (kept in step with the route table, so only
    /// reached if the two ever disagree).
    pub async fn not_found(_: poem::error::NotFoundError) -> Response {
        error_response(&Error::NotFound)
    }

    /// A body the server could not read (the gate already read it within the limit).
    pub async fn read_body(_: poem::error::ReadBodyError) -> Response {
        error_response(&Error::BadParameters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> (StatusCode, String) {
        let status = resp.status();
        let body = resp.into_body().into_string().await.unwrap();
        (status, body)
    }

    #[tokio::test]
    async fn every_error_answers_exactly_its_code_with_its_status() {
        let table = [
            (Error::BadParameters, 400, "bad-parameters"),
            (Error::BadCursor, 400, "bad-cursor"),
            (Error::NotFound, 404, "not-found"),
            (Error::MethodNotAllowed, 405, "method-not-allowed"),
            (Error::ChatNotFound, 404, "chat-not-found"),
            (Error::UserNotFound, 404, "user-not-found"),
            (Error::UserAlreadyExists, 400, "user-already-exists"),
            (Error::BadPassword, 400, "bad-password"),
            (Error::AuthFailed, 401, "auth-failed"),
            (Error::InvalidSessionId, 401, "invalid-session-id"),
            (Error::SessionIdExpired, 401, "session-id-expired"),
            (Error::TaskNotFound, 404, "task-not-found"),
            (Error::TaskNotComplete, 400, "task-not-complete"),
            (Error::TaskFailed, 400, "task-failed"),
            (
                Error::RequestLimitExceeded {
                    retry_after_secs: 7,
                },
                429,
                "request-limit-exceeded",
            ),
            (Error::IdempotencyKeyReused, 422, "idempotency-key-reused"),
            (Error::Forbidden, 403, "forbidden"),
            (Error::SessionNotFound, 404, "session-not-found"),
            (Error::ServiceUnavailable, 503, "service-unavailable"),
            (Error::InternalError, 500, "internal-error"),
        ];
        for (e, status, code) in table {
            let resp = error_response(&e);
            assert_eq!(
                resp.headers().get(header::CONTENT_TYPE).unwrap(),
                JSON,
                "{code}"
            );
            let retry = resp.headers().get(header::RETRY_AFTER).cloned();
            let (got_status, body) = body_of(resp).await;
            assert_eq!(got_status.as_u16(), status, "{code}");
            assert_eq!(body, format!(r#"{{"message":"{code}"}}"#));
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json, serde_json::json!({ "message": code }));
            if status == 429 {
                assert_eq!(retry.unwrap(), "7");
            } else {
                assert!(retry.is_none(), "{code} has no Retry-After");
            }
        }
    }

    #[tokio::test]
    async fn method_not_allowed_lists_the_allowed_methods() {
        let resp = method_not_allowed("GET, POST");
        assert_eq!(resp.headers().get(header::ALLOW).unwrap(), "GET, POST");
        let (status, body) = body_of(resp).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body, r#"{"message":"method-not-allowed"}"#);
    }

    #[test]
    fn infrastructure_failures_answer_503_and_500_without_their_cause() {
        assert_eq!(
            reduce(AppError::Unavailable("db down at 10.0.0.1".into())),
            Error::ServiceUnavailable
        );
        assert_eq!(
            reduce(AppError::Internal("bug".into())),
            Error::InternalError
        );
        assert_eq!(reduce(AppError::Domain(Error::BadCursor)), Error::BadCursor);
    }

    #[test]
    fn code_sets_take_only_their_codes_and_serialise_to_the_wire_form() {
        use poem_openapi::types::ToJSON;
        let b = LoginBadRequestError::from_error(&Error::UserNotFound).unwrap();
        assert_eq!(
            b.to_json(),
            Some(serde_json::json!({ "message": "user-not-found" }))
        );
        assert!(LoginBadRequestError::from_error(&Error::ChatNotFound).is_none());
        let b = ResultsBadRequestError::from_error(&Error::TaskNotComplete).unwrap();
        assert_eq!(
            b.to_json(),
            Some(serde_json::json!({ "message": "task-not-complete" }))
        );
        assert!(RateLimitedError::from_error(&Error::RequestLimitExceeded {
            retry_after_secs: 1
        })
        .is_some());
    }
}

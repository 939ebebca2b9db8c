//! The session security scheme. The gate authenticates (it must answer 401 before
//! throttling and before the body is parsed) and puts the [`Caller`] into the request's
//! extensions; this extractor takes it from there and declares the scheme in the spec.
//!
//! The spec always names the `Authorization` header with the `session_id` scheme word (the
//! contract); a deployment may read the token from another header or under another word
//! (`AUTH_HEADER`, `AUTH_SCHEME`) without changing the document.

use messenger_domain::Caller;
use poem::{Request, RequestBody};
use poem_openapi::{
    error::AuthorizationError,
    registry::{MetaSecurityScheme, Registry},
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
};

/// The security scheme's name in the spec.
pub const SCHEME_NAME: &str = "SessionId";

/// The authenticated caller of a route that requires a session (the anonymous account in
/// legacy mode).
#[derive(Debug, Clone, Copy)]
pub struct Session(pub Caller);

impl<'a> ApiExtractor<'a> for Session {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "`Authorization: session_id <token>`, the token from login (32 hex digits). \
                     No header or another scheme answers 401 `auth-failed`; an unknown, \
                     malformed or logged-out token 401 `invalid-session-id`; an expired one \
                     401 `session-id-expired`.",
                ),
                name: Some("Authorization"),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        req.extensions()
            .get::<Caller>()
            .copied()
            .map(Session)
            .ok_or_else(|| AuthorizationError.into())
    }
}

/// What an authentication header holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No header, or not text.
    Missing,
    /// Another scheme word.
    OtherScheme,
    /// The configured scheme with this token (possibly empty or malformed: the use case
    /// decides).
    Token(&'a str),
}

/// Splits `<scheme> <token>`; the scheme word is matched case-insensitively.
pub fn credentials<'a>(value: Option<&'a str>, scheme: &str) -> Credentials<'a> {
    let Some(value) = value else {
        return Credentials::Missing;
    };
    let value = value.trim_start();
    let (word, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    if word.eq_ignore_ascii_case(scheme) {
        Credentials::Token(rest.trim())
    } else {
        Credentials::OtherScheme
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_and_token() {
        assert_eq!(credentials(None, "session_id"), Credentials::Missing);
        assert_eq!(
            credentials(Some("session_id abc"), "session_id"),
            Credentials::Token("abc")
        );
        assert_eq!(
            credentials(Some("SESSION_ID   abc  "), "session_id"),
            Credentials::Token("abc")
        );
        assert_eq!(
            credentials(Some("session_id"), "session_id"),
            Credentials::Token("")
        );
        assert_eq!(
            credentials(Some("Bearer abc"), "session_id"),
            Credentials::OtherScheme
        );
        assert_eq!(
            credentials(Some(""), "session_id"),
            Credentials::OtherScheme
        );
        assert_eq!(
            credentials(Some("session_idabc"), "session_id"),
            Credentials::OtherScheme
        );
    }
}

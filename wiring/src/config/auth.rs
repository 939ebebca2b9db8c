//! Authentication: `AUTH_DISABLED` (the original's legacy mode), `AUTH_HEADER`,
//! `AUTH_SCHEME`, `SESSION_TTL_SECS`, `HASH_CONCURRENCY` and the failed-login limits
//! (`LOGIN_FAILURES_PER_CLIENT`, `LOGIN_CLIENT_WINDOW_SECS`, `LOGIN_FAILURES_PER_ACCOUNT`,
//! `LOGIN_ACCOUNT_WINDOW_SECS`).

use super::parse::{boolean_or, invalid, num_or, positive_or, secs_or, value};
use super::ConfigError;
use messenger_ports::LoginLimits;
use std::time::Duration;

const AUTH_HEADER: &str = "Authorization";
const AUTH_SCHEME: &str = "session_id";
const SESSION_TTL_SECS: &str = "3600";
const LOGIN_FAILURES_PER_CLIENT: &str = "10";
const LOGIN_CLIENT_WINDOW_SECS: &str = "900";
const LOGIN_FAILURES_PER_ACCOUNT: &str = "100";
const LOGIN_ACCOUNT_WINDOW_SECS: &str = "3600";

/// The authentication variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct AuthVars {
    /// true: legacy mode — no authentication, one anonymous account [default: false].
    #[arg(long, env = "AUTH_DISABLED", help_heading = "Authentication")]
    pub auth_disabled: Option<String>,
    /// The header holding the session.
    #[arg(long, env = "AUTH_HEADER", default_value = AUTH_HEADER, help_heading = "Authentication")]
    pub auth_header: Option<String>,
    /// The scheme word before the token, any case.
    #[arg(long, env = "AUTH_SCHEME", default_value = AUTH_SCHEME, help_heading = "Authentication")]
    pub auth_scheme: Option<String>,
    /// Session lifetime in seconds.
    #[arg(long, env = "SESSION_TTL_SECS", default_value = SESSION_TTL_SECS, help_heading = "Authentication")]
    pub session_ttl_secs: Option<String>,
    /// Password hashes computed at once [default: cores - 1, at least 1].
    #[arg(long, env = "HASH_CONCURRENCY", help_heading = "Authentication")]
    pub hash_concurrency: Option<String>,
    /// Failed logins per account and address before 429.
    #[arg(long, env = "LOGIN_FAILURES_PER_CLIENT", default_value = LOGIN_FAILURES_PER_CLIENT, help_heading = "Authentication")]
    pub login_failures_per_client: Option<String>,
    /// Window of LOGIN_FAILURES_PER_CLIENT in seconds.
    #[arg(long, env = "LOGIN_CLIENT_WINDOW_SECS", default_value = LOGIN_CLIENT_WINDOW_SECS, help_heading = "Authentication")]
    pub login_client_window_secs: Option<String>,
    /// Failed logins per account before 429.
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", default_value = LOGIN_FAILURES_PER_ACCOUNT, help_heading = "Authentication")]
    pub login_failures_per_account: Option<String>,
    /// Window of LOGIN_FAILURES_PER_ACCOUNT in seconds.
    #[arg(long, env = "LOGIN_ACCOUNT_WINDOW_SECS", default_value = LOGIN_ACCOUNT_WINDOW_SECS, help_heading = "Authentication")]
    pub login_account_window_secs: Option<String>,
}

/// Authentication settings.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Legacy mode: no authentication, one anonymous account.
    pub disabled: bool,
    /// The header holding the session.
    pub header: String,
    /// The scheme word before the token (any case).
    pub scheme: String,
    /// Session lifetime from login.
    pub session_ttl: Duration,
    /// Password hashes computed at once (default: one fewer than the cores, at least 1, so
    /// a login flood leaves a core for everything else).
    pub hash_concurrency: usize,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
}

impl Auth {
    pub(super) fn from_vars(v: &AuthVars) -> Result<Self, ConfigError> {
        let header = value(&v.auth_header).unwrap_or(AUTH_HEADER);
        if !is_header_name(header) {
            return Err(invalid("AUTH_HEADER", &v.auth_header, "a header name"));
        }
        let scheme = value(&v.auth_scheme).unwrap_or(AUTH_SCHEME);
        if !scheme.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(
                "AUTH_SCHEME",
                &v.auth_scheme,
                "one word of visible ASCII",
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let default_hashes = cores.saturating_sub(1).max(1).to_string();
        Ok(Self {
            disabled: boolean_or("AUTH_DISABLED", &v.auth_disabled, false)?,
            header: header.to_owned(),
            scheme: scheme.to_owned(),
            session_ttl: secs_or("SESSION_TTL_SECS", &v.session_ttl_secs, SESSION_TTL_SECS)?,
            hash_concurrency: positive_or(
                "HASH_CONCURRENCY",
                &v.hash_concurrency,
                &default_hashes,
            )?,
            login_limits: LoginLimits {
                per_client: num_or(
                    "LOGIN_FAILURES_PER_CLIENT",
                    &v.login_failures_per_client,
                    LOGIN_FAILURES_PER_CLIENT,
                    "a whole number",
                )?,
                per_client_window: secs_or(
                    "LOGIN_CLIENT_WINDOW_SECS",
                    &v.login_client_window_secs,
                    LOGIN_CLIENT_WINDOW_SECS,
                )?,
                per_account: num_or(
                    "LOGIN_FAILURES_PER_ACCOUNT",
                    &v.login_failures_per_account,
                    LOGIN_FAILURES_PER_ACCOUNT,
                    "a whole number",
                )?,
                per_account_window: secs_or(
                    "LOGIN_ACCOUNT_WINDOW_SECS",
                    &v.login_account_window_secs,
                    LOGIN_ACCOUNT_WINDOW_SECS,
                )?,
            },
        })
    }
}

/// An HTTP header name: one or more token characters (RFC 9110, 5.6.2).
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn the_declared_defaults_are_the_use_cases_defaults() {
        let a = Auth::from_vars(&AuthVars::default()).unwrap();
        assert_eq!(a.login_limits, LoginLimits::default());
        assert_eq!(a.session_ttl, Duration::from_secs(3600));
        assert_eq!(
            (a.header.as_str(), a.scheme.as_str()),
            ("Authorization", "session_id")
        );
        assert!(!a.disabled && a.hash_concurrency >= 1);
    }

    #[test]
    fn header_and_scheme_are_checked() {
        let a = Auth::from_vars(&AuthVars {
            auth_header: s("X-Session"),
            auth_scheme: s("Token"),
            auth_disabled: s("Yes"),
            ..AuthVars::default()
        })
        .unwrap();
        assert_eq!(
            (a.header.as_str(), a.scheme.as_str()),
            ("X-Session", "Token")
        );
        assert!(a.disabled);
        for (vars, var) in [
            (
                AuthVars {
                    auth_header: s("X Session"),
                    ..AuthVars::default()
                },
                "AUTH_HEADER",
            ),
            (
                AuthVars {
                    auth_scheme: s("two words"),
                    ..AuthVars::default()
                },
                "AUTH_SCHEME",
            ),
            (
                AuthVars {
                    hash_concurrency: s("0"),
                    ..AuthVars::default()
                },
                "HASH_CONCURRENCY",
            ),
        ] {
            let e = Auth::from_vars(&vars).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}:")), "{e}");
        }
    }
}

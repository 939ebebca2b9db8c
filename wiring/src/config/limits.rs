//! Request throttling: `NGINX_THROTTLING` (the original's switch: nginx throttles, the
//! service does not), `RATE_LIMIT_PER_SEC`, `RATE_LIMIT_BURST`, `REGISTER_LIMIT_PER_MIN`.

use super::parse::{boolean_or, positive_or};
use super::ConfigError;

const RATE_LIMIT_PER_SEC: &str = "100";
const RATE_LIMIT_BURST: &str = "100";
const REGISTER_LIMIT_PER_MIN: &str = "10";

/// The throttling variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct LimitsVars {
    /// Set (true): nginx throttles, in-app throttling is off [default: false].
    #[arg(long, env = "NGINX_THROTTLING", help_heading = "Throttling")]
    pub nginx_throttling: Option<String>,
    /// Requests per second per account, or per address without a session.
    #[arg(long, env = "RATE_LIMIT_PER_SEC", default_value = RATE_LIMIT_PER_SEC, help_heading = "Throttling")]
    pub rate_limit_per_sec: Option<String>,
    /// Burst of that budget.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value = RATE_LIMIT_BURST, help_heading = "Throttling")]
    pub rate_limit_burst: Option<String>,
    /// Registrations per minute per address.
    #[arg(long, env = "REGISTER_LIMIT_PER_MIN", default_value = REGISTER_LIMIT_PER_MIN, help_heading = "Throttling")]
    pub register_limit_per_min: Option<String>,
}

/// Request throttling and registration limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// In-app throttling (off when nginx does it).
    pub throttling: bool,
    /// Requests per second per account or address.
    pub rate_limit_per_sec: u32,
    /// Burst of the request budget.
    pub rate_limit_burst: u32,
    /// Registrations per minute per address.
    pub register_limit_per_min: u32,
}

impl Limits {
    pub(super) fn from_vars(v: &LimitsVars) -> Result<Self, ConfigError> {
        Ok(Self {
            throttling: !boolean_or("NGINX_THROTTLING", &v.nginx_throttling, false)?,
            rate_limit_per_sec: positive_or(
                "RATE_LIMIT_PER_SEC",
                &v.rate_limit_per_sec,
                RATE_LIMIT_PER_SEC,
            )?,
            rate_limit_burst: positive_or(
                "RATE_LIMIT_BURST",
                &v.rate_limit_burst,
                RATE_LIMIT_BURST,
            )?,
            register_limit_per_min: positive_or(
                "REGISTER_LIMIT_PER_MIN",
                &v.register_limit_per_min,
                REGISTER_LIMIT_PER_MIN,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn nginx_throttling_switches_in_app_throttling_off() {
        let on = |v: &str| {
            Limits::from_vars(&LimitsVars {
                nginx_throttling: s(v),
                ..LimitsVars::default()
            })
            .unwrap()
            .throttling
        };
        assert!(!on("true"));
        assert!(on("0"));
        assert!(
            Limits::from_vars(&LimitsVars::default())
                .unwrap()
                .throttling
        );
    }

    #[test]
    fn budgets_are_at_least_one() {
        let l = Limits::from_vars(&LimitsVars {
            rate_limit_per_sec: s("5"),
            rate_limit_burst: s("7"),
            ..LimitsVars::default()
        })
        .unwrap();
        assert_eq!((l.rate_limit_per_sec, l.rate_limit_burst), (5, 7));
        assert_eq!(l.register_limit_per_min, 10);
        let e = Limits::from_vars(&LimitsVars {
            rate_limit_per_sec: s("0"),
            ..LimitsVars::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("RATE_LIMIT_PER_SEC:"), "{e}");
    }
}

//! The project's rules for reading a variable's text: an empty or blank value is unset;
//! booleans accept true/1/yes/y/on and false/0/no/n/off in any case; numbers are whole;
//! connection strings are checked by scheme and never echoed (they hold passwords). Every
//! error names the variable.

use super::ConfigError;
use std::str::FromStr;
use std::time::Duration;

/// A set, non-blank value.
pub(super) fn value(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The value at fault, quoted.
pub(super) fn invalid(
    var: &'static str,
    v: &Option<String>,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: format!("{:?}", v.as_deref().unwrap_or_default()),
        expected,
    }
}

/// A number, or the declared default when unset.
pub(super) fn num_or<T: FromStr>(
    var: &'static str,
    v: &Option<String>,
    default: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    value(v)
        .unwrap_or(default)
        .parse::<T>()
        .map_err(|_| invalid(var, v, expected))
}

/// A whole number of at least 1, or the declared default when unset.
pub(super) fn positive_or<T: FromStr + PartialEq + Default>(
    var: &'static str,
    v: &Option<String>,
    default: &str,
) -> Result<T, ConfigError> {
    const EXPECTED: &str = "a whole number of at least 1";
    match num_or::<T>(var, v, default, EXPECTED)? {
        n if n == T::default() => Err(invalid(var, v, EXPECTED)),
        n => Ok(n),
    }
}

/// A whole number from 1 to `max`; the declared default (if any) when unset.
pub(super) fn positive_at_most<T: FromStr + PartialOrd + Default>(
    var: &'static str,
    v: &Option<String>,
    default: Option<&str>,
    max: T,
) -> Result<Option<T>, ConfigError> {
    const EXPECTED: &str = "a whole number of at least 1";
    let Some(text) = value(v).or(default) else {
        return Ok(None);
    };
    match text.parse::<T>() {
        Ok(n) if n != T::default() && n <= max => Ok(Some(n)),
        _ => Err(invalid(var, v, EXPECTED)),
    }
}

/// Seconds, or the declared default when unset.
pub(super) fn secs_or(
    var: &'static str,
    v: &Option<String>,
    default: &str,
) -> Result<Duration, ConfigError> {
    num_or(var, v, default, "a whole number of seconds").map(Duration::from_secs)
}

/// Milliseconds, or the declared default when unset.
pub(super) fn millis_or(
    var: &'static str,
    v: &Option<String>,
    default: &str,
) -> Result<Duration, ConfigError> {
    num_or(var, v, default, "a whole number of milliseconds").map(Duration::from_millis)
}

/// true/1/yes/y/on and false/0/no/n/off, any case; blank is the default.
pub(super) fn boolean_or(
    var: &'static str,
    v: &Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value(v).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "y" | "on") => Ok(true),
        Some("false" | "0" | "no" | "n" | "off") => Ok(false),
        Some(_) => Err(invalid(var, v, "true/1/yes/y/on or false/0/no/n/off")),
    }
}

/// One of a few words, any case, or the declared default when unset.
pub(super) fn one_of<T: Copy>(
    var: &'static str,
    v: &Option<String>,
    default: &str,
    words: &[(&str, T)],
    expected: &'static str,
) -> Result<T, ConfigError> {
    let word = value(v).unwrap_or(default).to_ascii_lowercase();
    words
        .iter()
        .find(|(w, _)| *w == word)
        .map(|&(_, t)| t)
        .ok_or_else(|| invalid(var, v, expected))
}

/// Checks a connection string's scheme; its value is never echoed (it holds a password).
pub(super) fn url(
    var: &'static str,
    u: &str,
    schemes: &[&str],
    expected: &'static str,
) -> Result<String, ConfigError> {
    if schemes.iter().any(|s| u.starts_with(s)) {
        Ok(u.to_owned())
    } else {
        Err(ConfigError::Invalid {
            var,
            value: "<hidden>".into(),
            expected,
        })
    }
}

/// Percent-encodes everything but the unreserved characters (for URL user info and paths).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn booleans_accept_the_usual_words_in_any_case() {
        for (v, want) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("y", true),
            ("on", true),
            ("false", false),
            ("0", false),
            ("NO", false),
            ("n", false),
            ("Off", false),
            ("", false),
        ] {
            assert_eq!(boolean_or("AUTH_DISABLED", &s(v), false), Ok(want), "{v}");
        }
        let e = boolean_or("NGINX_THROTTLING", &s("maybe"), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("NGINX_THROTTLING:") && e.contains("maybe"),
            "{e}"
        );
    }

    #[test]
    fn numbers_fall_back_to_the_declared_default_and_refuse_zero_where_asked() {
        assert_eq!(num_or::<u16>("PORT", &None, "8080", "a port"), Ok(8080));
        assert_eq!(num_or::<u16>("PORT", &s(" "), "8080", "a port"), Ok(8080));
        assert_eq!(
            num_or::<u16>("PORT", &s("9000"), "8080", "a port"),
            Ok(9000)
        );
        let e = positive_or::<u32>("RATE_LIMIT_PER_SEC", &s("0"), "100").unwrap_err();
        assert!(e.to_string().starts_with("RATE_LIMIT_PER_SEC:"), "{e}");
    }

    #[test]
    fn urls_are_never_echoed() {
        let e = url(
            "DATABASE_URL",
            "mysql://secret@h/db",
            &["postgres://"],
            "a URL",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("DATABASE_URL:") && !e.contains("secret"),
            "{e}"
        );
        assert_eq!(encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }
}

//! Logging: `LOG_FORMAT` (text or json) and `RUST_LOG` (the filter).

use super::parse::{one_of, value};
use super::ConfigError;

const LOG_FORMAT: &str = "text";
const RUST_LOG: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The logging variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct LoggingVars {
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = LOG_FORMAT, help_heading = "Logging")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or info,access=off.
    #[arg(long, env = "RUST_LOG", default_value = RUST_LOG, help_heading = "Logging")]
    pub rust_log: Option<String>,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// Line format.
    pub format: LogFormat,
    /// The filter (checked when logging is set up).
    pub filter: String,
}

impl Logging {
    pub(super) fn from_vars(v: &LoggingVars) -> Result<Self, ConfigError> {
        Ok(Self {
            format: one_of(
                "LOG_FORMAT",
                &v.log_format,
                LOG_FORMAT,
                &[("text", LogFormat::Text), ("json", LogFormat::Json)],
                "text or json",
            )?,
            filter: value(&v.rust_log).unwrap_or(RUST_LOG).to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_at_info_unless_told() {
        let d = Logging::from_vars(&LoggingVars::default()).unwrap();
        assert_eq!((d.format, d.filter.as_str()), (LogFormat::Text, "info"));
        let j = Logging::from_vars(&LoggingVars {
            log_format: Some("JSON".into()),
            ..LoggingVars::default()
        })
        .unwrap();
        assert_eq!(j.format, LogFormat::Json);
    }
}

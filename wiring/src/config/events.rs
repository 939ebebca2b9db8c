//! Live updates: `EVENTS_RETENTION_DAYS` (how long events stay replayable) and
//! `STREAMS_PER_ACCOUNT` (open event streams per account).

use super::parse::positive_or;
use super::ConfigError;
use std::time::Duration;

const EVENTS_RETENTION_DAYS: &str = "7";
const STREAMS_PER_ACCOUNT: &str = "10";

/// The live-update variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct EventsVars {
    /// Days events stay replayable; older positions get a reset.
    #[arg(long, env = "EVENTS_RETENTION_DAYS", default_value = EVENTS_RETENTION_DAYS, help_heading = "Live updates")]
    pub events_retention_days: Option<String>,
    /// Event streams one account may have open at once.
    #[arg(long, env = "STREAMS_PER_ACCOUNT", default_value = STREAMS_PER_ACCOUNT, help_heading = "Live updates")]
    pub streams_per_account: Option<String>,
}

/// Live-update settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Events {
    /// How long events stay replayable (purged by the maintenance job after).
    pub retention: Duration,
    /// Event streams one account may have open at once.
    pub streams_per_account: u32,
}

impl Events {
    pub(super) fn from_vars(v: &EventsVars) -> Result<Self, ConfigError> {
        let days: u64 = positive_or(
            "EVENTS_RETENTION_DAYS",
            &v.events_retention_days,
            EVENTS_RETENTION_DAYS,
        )?;
        Ok(Self {
            retention: Duration::from_secs(days.saturating_mul(24 * 3600)),
            streams_per_account: positive_or(
                "STREAMS_PER_ACCOUNT",
                &v.streams_per_account,
                STREAMS_PER_ACCOUNT,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let d = Events::from_vars(&EventsVars::default()).unwrap();
        assert_eq!(d.retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(d.streams_per_account, 10);
        let e = Events::from_vars(&EventsVars {
            events_retention_days: Some("0".into()),
            ..EventsVars::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("EVENTS_RETENTION_DAYS:"), "{e}");
    }
}

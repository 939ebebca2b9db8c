//! Search: `SEARCH`, `SEARCH_HIT_CAP`, `SEARCH_TASK_TTL_SECS`, and the in-process queue and
//! worker (`SEARCH_WORKERS`, `SEARCH_QUEUE_CAPACITY`; with RabbitMQ, `messenger-worker`
//! runs the tasks instead).

use super::parse::{boolean_or, positive_or, secs_or};
use super::ConfigError;
use std::time::Duration;

const SEARCH_HIT_CAP: &str = "1000";
const SEARCH_TASK_TTL_SECS: &str = "3600";
const SEARCH_WORKERS: &str = "2";
const SEARCH_QUEUE_CAPACITY: &str = "10000";

/// The search variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct SearchVars {
    /// Search: on/off; off answers 503 to new searches [default: on].
    #[arg(long, env = "SEARCH", help_heading = "Search")]
    pub search: Option<String>,
    /// Most hits kept per search task.
    #[arg(long, env = "SEARCH_HIT_CAP", default_value = SEARCH_HIT_CAP, help_heading = "Search")]
    pub search_hit_cap: Option<String>,
    /// Seconds a task and its results are kept.
    #[arg(long, env = "SEARCH_TASK_TTL_SECS", default_value = SEARCH_TASK_TTL_SECS, help_heading = "Search")]
    pub search_task_ttl_secs: Option<String>,
    /// Search tasks the in-process worker runs at once.
    #[arg(long, env = "SEARCH_WORKERS", default_value = SEARCH_WORKERS, help_heading = "Search")]
    pub search_workers: Option<String>,
    /// Waiting tasks the in-process queue holds; beyond, 503.
    #[arg(long, env = "SEARCH_QUEUE_CAPACITY", default_value = SEARCH_QUEUE_CAPACITY, help_heading = "Search")]
    pub search_queue_capacity: Option<String>,
}

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// Search on; off answers 503 to new searches.
    pub enabled: bool,
    /// Most hits kept per task.
    pub hit_cap: u32,
    /// How long a task and its results are kept.
    pub task_ttl: Duration,
    /// Tasks the in-process worker runs at once.
    pub workers: usize,
    /// Waiting tasks the in-process queue holds.
    pub queue_capacity: usize,
}

impl Search {
    pub(super) fn from_vars(v: &SearchVars) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: boolean_or("SEARCH", &v.search, true)?,
            hit_cap: positive_or("SEARCH_HIT_CAP", &v.search_hit_cap, SEARCH_HIT_CAP)?,
            task_ttl: secs_or(
                "SEARCH_TASK_TTL_SECS",
                &v.search_task_ttl_secs,
                SEARCH_TASK_TTL_SECS,
            )?,
            workers: positive_or("SEARCH_WORKERS", &v.search_workers, SEARCH_WORKERS)?,
            queue_capacity: positive_or(
                "SEARCH_QUEUE_CAPACITY",
                &v.search_queue_capacity,
                SEARCH_QUEUE_CAPACITY,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_switch() {
        let d = Search::from_vars(&SearchVars::default()).unwrap();
        assert!(d.enabled);
        assert_eq!((d.hit_cap, d.workers, d.queue_capacity), (1000, 2, 10_000));
        let off = Search::from_vars(&SearchVars {
            search: Some("off".into()),
            ..SearchVars::default()
        })
        .unwrap();
        assert!(!off.enabled);
        let e = Search::from_vars(&SearchVars {
            search_workers: Some("0".into()),
            ..SearchVars::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("SEARCH_WORKERS:"), "{e}");
    }
}

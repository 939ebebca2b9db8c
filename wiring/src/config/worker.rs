//! The worker's configuration: the API's ([`messenger_api::Config`], the same variables),
//! which must name PostgreSQL, Redis and RabbitMQ, plus the worker's own two variables.

use messenger_api::{Config, ConfigError};
use messenger_rabbitmq::AmqpConfig;

/// Why the worker cannot start with this environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerConfigError {
    /// The shared configuration is unusable.
    #[error(transparent)]
    Shared(#[from] ConfigError),
    /// A separate worker sees neither the API's memory nor its queue: it needs the shared
    /// stores and the broker.
    #[error("a separate worker needs PostgreSQL, Redis and RabbitMQ: set {0}")]
    Missing(String),
    /// One of the worker's own variables does not parse.
    #[error("{var}: invalid value {value:?}: expected {expected}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
}

/// Everything the worker reads.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The configuration shared with the API.
    pub shared: Config,
    /// Tasks run at once (`WORKER_CONCURRENCY`, default 8).
    pub concurrency: usize,
    /// Messages the broker may send ahead (`AMQP_PREFETCH`, default: the concurrency).
    /// More than the concurrency only wait here, and go back (counted as an attempt) when
    /// the worker stops.
    pub prefetch: u16,
}

impl WorkerConfig {
    /// The default of `WORKER_CONCURRENCY`.
    pub const DEFAULT_CONCURRENCY: usize = 8;

    /// Reads the environment (after `.env`), like the API.
    ///
    /// # Errors
    /// A [`WorkerConfigError`] naming the variables at fault or missing.
    pub fn from_env() -> Result<Self, WorkerConfigError> {
        let shared = Config::from_env()?;
        Self::from_parts(shared, |var| std::env::var(var).ok())
    }

    /// Checks the shared configuration and reads the worker's variables through `var`.
    ///
    /// # Errors
    /// A [`WorkerConfigError`] naming the variables at fault or missing.
    pub fn from_parts(
        shared: Config,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, WorkerConfigError> {
        let mut missing = Vec::new();
        if shared.amqp_url.is_none() {
            missing.push("AMQP_URL (or RMQ_URL)");
        }
        if shared.database_url.is_none() {
            missing.push("DATABASE_URL (or POSTGRES_HOSTS)");
        }
        if shared.redis_url.is_none() {
            missing.push("REDIS_URL");
        }
        if !missing.is_empty() {
            return Err(WorkerConfigError::Missing(missing.join(", ")));
        }
        let concurrency = match positive(&var, "WORKER_CONCURRENCY", 10_000)? {
            Some(n) => n,
            None => Self::DEFAULT_CONCURRENCY,
        };
        let prefetch = match positive(&var, "AMQP_PREFETCH", usize::from(u16::MAX))? {
            Some(n) => n,
            None => concurrency.min(usize::from(u16::MAX)),
        };
        Ok(Self {
            shared,
            concurrency,
            prefetch: u16::try_from(prefetch).unwrap_or(u16::MAX),
        })
    }

    /// The queue's settings: `AMQP_QUEUE` and otherwise the defaults the API uses too, so
    /// both declare the queue identically.
    pub fn amqp(&self) -> AmqpConfig {
        let mut amqp = AmqpConfig::new(self.shared.amqp_url.clone().unwrap_or_default())
            .with_queue(self.shared.amqp_queue.clone());
        amqp.prefetch = self.prefetch;
        amqp
    }
}

/// A whole number from 1 to `max`, or `None` when unset or blank.
fn positive(
    var: impl Fn(&str) -> Option<String>,
    name: &'static str,
    max: usize,
) -> Result<Option<usize>, WorkerConfigError> {
    let Some(raw) = var(name) else {
        return Ok(None);
    };
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(WorkerConfigError::Invalid {
            var: name,
            value: raw.clone(),
            expected: "a whole number of at least 1",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> Config {
        Config {
            amqp_url: Some("amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            database_url: Some("postgres://root@127.0.0.1/test".into()),
            redis_url: Some("redis://127.0.0.1:6379".into()),
            ..Config::default()
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn names_every_missing_service() {
        let err = WorkerConfig::from_parts(Config::default(), env(&[])).unwrap_err();
        let text = err.to_string();
        for var in ["AMQP_URL", "DATABASE_URL", "REDIS_URL"] {
            assert!(text.contains(var), "{text}");
        }
        let only_redis_missing = Config {
            redis_url: None,
            ..full()
        };
        let text = WorkerConfig::from_parts(only_redis_missing, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("REDIS_URL") && !text.contains("AMQP_URL"),
            "{text}"
        );
    }

    #[test]
    fn defaults_and_overrides_concurrency_and_prefetch() {
        let c = WorkerConfig::from_parts(full(), env(&[])).unwrap();
        assert_eq!(c.concurrency, WorkerConfig::DEFAULT_CONCURRENCY);
        assert_eq!(usize::from(c.prefetch), c.concurrency);
        let c = WorkerConfig::from_parts(full(), env(&[("WORKER_CONCURRENCY", "3")])).unwrap();
        assert_eq!((c.concurrency, c.prefetch), (3, 3));
        let c = WorkerConfig::from_parts(
            full(),
            env(&[("WORKER_CONCURRENCY", "3"), ("AMQP_PREFETCH", "10")]),
        )
        .unwrap();
        assert_eq!((c.concurrency, c.prefetch), (3, 10));
        assert_eq!(c.amqp().prefetch, 10);
        assert_eq!(c.amqp().queue, AmqpConfig::DEFAULT_QUEUE);
        let own_queue = Config {
            amqp_queue: "tasks.of.this.run".into(),
            ..full()
        };
        let c = WorkerConfig::from_parts(own_queue, env(&[])).unwrap();
        assert_eq!(c.amqp().queue, "tasks.of.this.run");
    }

    #[test]
    fn rejects_bad_numbers_naming_the_variable() {
        for (var, value) in [
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "many"),
            ("AMQP_PREFETCH", "70000"),
        ] {
            let err = WorkerConfig::from_parts(full(), env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }
}

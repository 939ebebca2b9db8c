//! Where search tasks wait: in this process (run by the in-process worker), or RabbitMQ
//! (`AMQP_URL`, or the original's `RMQ_URL`; `AMQP_URL` wins), run by `messenger-worker`;
//! `AMQP_QUEUE` names the queue. The rule that a queue needs PostgreSQL and Redis lives
//! here ([`needs_shared_stores`]).

use super::parse::{url, value};
use super::{ConfigError, SharedState, Storage};
use messenger_rabbitmq::AmqpConfig;

/// The RabbitMQ variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct QueueVars {
    /// RabbitMQ URL for the search queue (needs PostgreSQL and Redis) [default: in process].
    #[arg(
        long,
        env = "AMQP_URL",
        hide_env_values = true,
        help_heading = "RabbitMQ"
    )]
    pub amqp_url: Option<String>,
    /// The original's name for AMQP_URL (AMQP_URL wins).
    #[arg(
        long,
        env = "RMQ_URL",
        hide_env_values = true,
        help_heading = "RabbitMQ"
    )]
    pub rmq_url: Option<String>,
    /// Name of the search-task queue.
    #[arg(long, env = "AMQP_QUEUE", default_value = AmqpConfig::DEFAULT_QUEUE, help_heading = "RabbitMQ")]
    pub amqp_queue: Option<String>,
}

/// Where search tasks wait.
#[derive(Debug, Clone)]
pub enum Queue {
    /// In this process, run by the in-process worker.
    InProcess,
    /// RabbitMQ, run by `messenger-worker` processes.
    RabbitMq(AmqpConfig),
}

impl Queue {
    /// The RabbitMQ settings, when it is used.
    pub fn amqp(&self) -> Option<&AmqpConfig> {
        match self {
            Queue::InProcess => None,
            Queue::RabbitMq(a) => Some(a),
        }
    }

    pub(super) fn from_vars(v: &QueueVars) -> Result<Self, ConfigError> {
        const SCHEMES: [&str; 2] = ["amqp://", "amqps://"];
        const EXPECTED: &str = "a URL starting with amqp:// or amqps://";
        let u = match (value(&v.amqp_url), value(&v.rmq_url)) {
            (Some(u), _) => url("AMQP_URL", u, &SCHEMES, EXPECTED)?,
            (None, Some(u)) => url("RMQ_URL", u, &SCHEMES, EXPECTED)?,
            (None, None) => return Ok(Queue::InProcess),
        };
        let queue = value(&v.amqp_queue).unwrap_or(AmqpConfig::DEFAULT_QUEUE);
        Ok(Queue::RabbitMq(AmqpConfig::new(u).with_queue(queue)))
    }
}

/// A queue is shared by several API instances and workers, so the data and the task state
/// must be too: refuses RabbitMQ without PostgreSQL and Redis, naming what is missing.
///
/// # Errors
/// [`ConfigError::Combination`] naming the missing variables.
pub fn needs_shared_stores(
    queue: &Queue,
    storage: &Storage,
    shared: &SharedState,
) -> Result<(), ConfigError> {
    if matches!(queue, Queue::InProcess) {
        return Ok(());
    }
    let mut missing = Vec::new();
    if matches!(storage, Storage::Memory) {
        missing.push("DATABASE_URL (or POSTGRES_HOSTS)");
    }
    if matches!(shared, SharedState::InProcess) {
        missing.push("REDIS_URL");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Combination(format!(
        "a queue (AMQP_URL/RMQ_URL) needs PostgreSQL and Redis: set {}",
        missing.join(" and ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn amqp_url_wins_over_rmq_url() {
        let q = Queue::from_vars(&QueueVars {
            amqp_url: s("amqp://a"),
            rmq_url: s("amqp://b"),
            ..QueueVars::default()
        })
        .unwrap();
        assert_eq!(q.amqp().unwrap().url, "amqp://a");
        assert_eq!(q.amqp().unwrap().queue, AmqpConfig::DEFAULT_QUEUE);
        let q = Queue::from_vars(&QueueVars {
            rmq_url: s("amqp://b"),
            amqp_queue: s("own"),
            ..QueueVars::default()
        })
        .unwrap();
        assert_eq!(
            (
                q.amqp().unwrap().url.as_str(),
                q.amqp().unwrap().queue.as_str()
            ),
            ("amqp://b", "own")
        );
        let e = Queue::from_vars(&QueueVars {
            rmq_url: s("http://guest:guest@h"),
            ..QueueVars::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("RMQ_URL:") && !e.contains("guest"), "{e}");
    }

    #[test]
    fn a_queue_needs_postgres_and_redis() {
        let q = Queue::RabbitMq(AmqpConfig::new("amqp://a"));
        let e = needs_shared_stores(&q, &Storage::Memory, &SharedState::InProcess)
            .unwrap_err()
            .to_string();
        assert!(e.contains("DATABASE_URL") && e.contains("REDIS_URL"), "{e}");
        let pg = Storage::postgres("postgres://h/db").unwrap();
        let e = needs_shared_stores(&q, &pg, &SharedState::InProcess)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("REDIS_URL") && !e.contains("DATABASE_URL"),
            "{e}"
        );
        let redis = SharedState::redis("redis://h").unwrap();
        assert!(needs_shared_stores(&q, &pg, &redis).is_ok());
        assert!(needs_shared_stores(&Queue::InProcess, &Storage::Memory, &redis).is_ok());
    }
}

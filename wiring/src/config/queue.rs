//! Where search tasks wait: in this process (run by the in-process worker), or RabbitMQ
//! (`AMQP_URL`, or the original's `RMQ_URL`; `AMQP_URL` wins), run by `messenger-worker`;
//! `AMQP_QUEUE` names the queue; `AMQP_DEAD_LETTER_MAX_LENGTH` and
//! `AMQP_DEAD_LETTER_TTL_SECS` bound its dead-letter and parking queues; `amqps://` is TLS,
//! the certificate's chain and host name always checked, with `AMQP_CA_FILE` trusted
//! besides the system's roots (the API and the
//! workers declare the same queues, so both read them). The rule that a queue needs PostgreSQL and Redis lives
//! here ([`needs_shared_stores`]). A build without the `rabbitmq` feature reads the same
//! variables and refuses a configured broker ([`ConfigError::NotBuiltIn`]).

use super::parse::{positive_or, url, value};
use super::{ConfigError, SharedState, Storage};
#[cfg(feature = "rabbitmq")]
use messenger_rabbitmq::AmqpConfig;
#[cfg(feature = "rabbitmq")]
use std::path::PathBuf;
#[cfg(feature = "rabbitmq")]
use std::time::Duration;

/// `AmqpConfig::DEFAULT_QUEUE` (a test keeps them equal), declared here as well so that a
/// build without RabbitMQ lists the same default.
const AMQP_QUEUE: &str = "messenger.search_tasks";
const DEAD_LETTER_MAX_LENGTH: &str = "10000";
const DEAD_LETTER_TTL_SECS: &str = "604800";

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
    /// PEM file of the CA(s) trusted for RabbitMQ's certificate with amqps://, besides the
    /// system's roots.
    #[arg(long, env = "AMQP_CA_FILE", help_heading = "RabbitMQ")]
    pub amqp_ca_file: Option<String>,
    /// Name of the search-task queue.
    #[arg(long, env = "AMQP_QUEUE", default_value = AMQP_QUEUE, help_heading = "RabbitMQ")]
    pub amqp_queue: Option<String>,
    /// Dead letters kept in each of the dead-letter and parking queues (the oldest go
    /// first).
    #[arg(long, env = "AMQP_DEAD_LETTER_MAX_LENGTH", default_value = DEAD_LETTER_MAX_LENGTH, help_heading = "RabbitMQ")]
    pub amqp_dead_letter_max_length: Option<String>,
    /// Seconds a dead letter is kept (default: 7 days).
    #[arg(long, env = "AMQP_DEAD_LETTER_TTL_SECS", default_value = DEAD_LETTER_TTL_SECS, help_heading = "RabbitMQ")]
    pub amqp_dead_letter_ttl_secs: Option<String>,
}

/// Where search tasks wait.
#[derive(Debug, Clone)]
pub enum Queue {
    /// In this process, run by the in-process worker.
    InProcess,
    /// RabbitMQ, run by `messenger-worker` processes (a build with the `rabbitmq` feature).
    #[cfg(feature = "rabbitmq")]
    RabbitMq(AmqpConfig),
}

impl Queue {
    /// The RabbitMQ settings, when it is used.
    #[cfg(feature = "rabbitmq")]
    pub fn amqp(&self) -> Option<&AmqpConfig> {
        match self {
            Queue::InProcess => None,
            Queue::RabbitMq(a) => Some(a),
        }
    }

    pub(super) fn from_vars(v: &QueueVars) -> Result<Self, ConfigError> {
        const SCHEMES: [&str; 2] = ["amqp://", "amqps://"];
        const EXPECTED: &str = "a URL starting with amqp:// or amqps://";
        let (variable, u) = match (value(&v.amqp_url), value(&v.rmq_url)) {
            (Some(u), _) => ("AMQP_URL", url("AMQP_URL", u, &SCHEMES, EXPECTED)?),
            (None, Some(u)) => ("RMQ_URL", url("RMQ_URL", u, &SCHEMES, EXPECTED)?),
            (None, None) if value(&v.amqp_ca_file).is_some() => {
                return Err(ConfigError::Combination(
                    "AMQP_CA_FILE is set but AMQP_URL is not: set an amqps:// AMQP_URL".into(),
                ))
            }
            (None, None) => return Ok(Queue::InProcess),
        };
        if value(&v.amqp_ca_file).is_some() && !u.starts_with("amqps://") {
            return Err(ConfigError::Combination(
                "AMQP_CA_FILE is set but the AMQP URL is not amqps:// (TLS)".into(),
            ));
        }
        let dead_letter_max_length: u32 = positive_or(
            "AMQP_DEAD_LETTER_MAX_LENGTH",
            &v.amqp_dead_letter_max_length,
            DEAD_LETTER_MAX_LENGTH,
        )?;
        let dead_letter_ttl_secs: u64 = positive_or(
            "AMQP_DEAD_LETTER_TTL_SECS",
            &v.amqp_dead_letter_ttl_secs,
            DEAD_LETTER_TTL_SECS,
        )?;
        rabbitmq(v, variable, u, dead_letter_max_length, dead_letter_ttl_secs)
    }
}

/// RabbitMQ at `url` (checked), with the dead-letter bounds (read) and the other
/// variables' settings.
#[cfg(feature = "rabbitmq")]
fn rabbitmq(
    v: &QueueVars,
    _variable: &'static str,
    url: String,
    dead_letter_max_length: u32,
    dead_letter_ttl_secs: u64,
) -> Result<Queue, ConfigError> {
    let queue = value(&v.amqp_queue).unwrap_or(AMQP_QUEUE);
    let mut cfg = AmqpConfig::new(url).with_queue(queue);
    cfg.ca_file = value(&v.amqp_ca_file).map(PathBuf::from);
    cfg.dead_letter_max_length = dead_letter_max_length;
    cfg.dead_letter_ttl = Duration::from_secs(dead_letter_ttl_secs);
    Ok(Queue::RabbitMq(cfg))
}

/// A build without RabbitMQ: the broker that is configured (by `variable`: `AMQP_URL` or
/// `RMQ_URL`) cannot be used, and start-up says so.
#[cfg(not(feature = "rabbitmq"))]
fn rabbitmq(
    _v: &QueueVars,
    variable: &'static str,
    _url: String,
    _dead_letter_max_length: u32,
    _dead_letter_ttl_secs: u64,
) -> Result<Queue, ConfigError> {
    Err(ConfigError::NotBuiltIn {
        variable,
        backend: "RabbitMQ",
        feature: "rabbitmq",
    })
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
#[cfg(feature = "rabbitmq")]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn the_declared_queue_is_the_adapters_default() {
        assert_eq!(AMQP_QUEUE, AmqpConfig::DEFAULT_QUEUE);
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
    }

    #[test]
    fn a_ca_file_goes_with_amqps_only() {
        let q = Queue::from_vars(&QueueVars {
            amqp_url: s("amqps://u:p@broker.example:5671/%2f"),
            amqp_ca_file: s("/etc/ca.pem"),
            ..QueueVars::default()
        })
        .unwrap();
        assert_eq!(
            q.amqp().unwrap().ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        for url in [s("amqp://b"), None] {
            let e = Queue::from_vars(&QueueVars {
                amqp_url: url,
                amqp_ca_file: s("/etc/ca.pem"),
                ..QueueVars::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains("AMQP_CA_FILE") && e.contains("amqps://"), "{e}");
        }
    }

    #[test]
    fn dead_letter_bounds_default_and_are_checked() {
        let q = Queue::from_vars(&QueueVars {
            amqp_url: s("amqp://a"),
            ..QueueVars::default()
        })
        .unwrap();
        let cfg = q.amqp().unwrap();
        assert_eq!(cfg.dead_letter_max_length, 10_000);
        assert_eq!(cfg.dead_letter_ttl, AmqpConfig::DEFAULT_DEAD_LETTER_TTL);
        let q = Queue::from_vars(&QueueVars {
            amqp_url: s("amqp://a"),
            amqp_dead_letter_max_length: s("50"),
            amqp_dead_letter_ttl_secs: s("60"),
            ..QueueVars::default()
        })
        .unwrap();
        let cfg = q.amqp().unwrap();
        assert_eq!(cfg.dead_letter_max_length, 50);
        assert_eq!(cfg.dead_letter_ttl, Duration::from_secs(60));
        for (len, ttl, var) in [
            ("0", "60", "AMQP_DEAD_LETTER_MAX_LENGTH"),
            ("5", "soon", "AMQP_DEAD_LETTER_TTL_SECS"),
        ] {
            let e = Queue::from_vars(&QueueVars {
                amqp_url: s("amqp://a"),
                amqp_dead_letter_max_length: s(len),
                amqp_dead_letter_ttl_secs: s(ttl),
                ..QueueVars::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.starts_with(var), "{e}");
        }
    }

    #[cfg(all(feature = "postgres", feature = "redis"))]
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

#[cfg(test)]
#[cfg(not(feature = "rabbitmq"))]
mod without_rabbitmq {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn a_configured_broker_is_refused_naming_its_variable_and_the_feature() {
        for (vars, variable) in [
            (
                QueueVars {
                    amqp_url: s("amqp://a"),
                    rmq_url: s("amqp://b"),
                    ..QueueVars::default()
                },
                "AMQP_URL",
            ),
            (
                QueueVars {
                    rmq_url: s("amqp://b"),
                    ..QueueVars::default()
                },
                "RMQ_URL",
            ),
        ] {
            let e = Queue::from_vars(&vars).unwrap_err();
            assert_eq!(
                e,
                ConfigError::NotBuiltIn {
                    variable,
                    backend: "RabbitMQ",
                    feature: "rabbitmq"
                }
            );
            assert!(e.to_string().contains("`--features rabbitmq`"), "{e}");
        }
    }
}

/// What queue configuration refuses the same way whether RabbitMQ is built in or not: a
/// build without it still reads and checks every variable.
#[cfg(test)]
mod every_build {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    /// The error `vars` give, as the operator reads it.
    fn refusal(vars: QueueVars) -> String {
        match Queue::from_vars(&vars) {
            Ok(queue) => panic!("accepted: {queue:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_variables_are_refused_by_name_without_their_secrets() {
        assert!(matches!(
            Queue::from_vars(&QueueVars::default()),
            Ok(Queue::InProcess)
        ));
        let e = refusal(QueueVars {
            rmq_url: s("http://guest:guest@h"),
            ..QueueVars::default()
        });
        assert!(e.starts_with("RMQ_URL:") && !e.contains("guest"), "{e}");
        let e = refusal(QueueVars {
            amqp_ca_file: s("/etc/ca.pem"),
            ..QueueVars::default()
        });
        assert!(e.contains("AMQP_CA_FILE"), "{e}");
    }
}

//! The worker's configuration: the API's ([`Config`], the same variables), which must name
//! PostgreSQL, Redis and RabbitMQ, plus the worker's own `WORKER_CONCURRENCY`,
//! `AMQP_PREFETCH` and `WORKER_METRICS_PORT` (its `/metrics` and `/ping`, on `HOST`).

use super::parse::{num_or, positive_at_most};
use super::{load_dotenv, Config, ConfigError, Queue, RawConfig, SharedState, Storage};
use messenger_rabbitmq::AmqpConfig;
use std::net::SocketAddr;

const WORKER_CONCURRENCY: &str = "8";
const WORKER_METRICS_PORT: &str = "9091";

/// Why the worker cannot start with this environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerConfigError {
    /// The configuration is unusable.
    #[error(transparent)]
    Shared(#[from] ConfigError),
    /// A separate worker sees neither the API's memory nor its queue: it needs the shared
    /// stores and the broker.
    #[error("a separate worker needs PostgreSQL, Redis and RabbitMQ: set {0}")]
    Missing(String),
}

/// The worker's own variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct WorkerVars {
    /// Search tasks the worker runs at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value = WORKER_CONCURRENCY, help_heading = "Worker")]
    pub worker_concurrency: Option<String>,
    /// Messages the broker may send ahead [default: WORKER_CONCURRENCY].
    #[arg(long, env = "AMQP_PREFETCH", help_heading = "Worker")]
    pub amqp_prefetch: Option<String>,
    /// Port of the worker's /metrics and /ping (on HOST); 0 turns them off.
    #[arg(long, env = "WORKER_METRICS_PORT", default_value = WORKER_METRICS_PORT, help_heading = "Worker")]
    pub worker_metrics_port: Option<String>,
}

/// The worker's command line: the shared variables and its own.
#[derive(clap::Parser)]
#[command(name = "messenger-worker")]
struct WorkerCli {
    #[command(flatten)]
    shared: RawConfig,
    #[command(flatten)]
    worker: WorkerVars,
}

/// Everything the worker reads.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The configuration shared with the API.
    pub shared: Config,
    /// The queue (from `AMQP_URL`/`RMQ_URL` and `AMQP_QUEUE`), with the worker's prefetch.
    pub amqp: AmqpConfig,
    /// Tasks run at once (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Messages the broker may send ahead (`AMQP_PREFETCH`, default: the concurrency).
    /// More than the concurrency only wait here, and go back (counted as an attempt) when
    /// the worker stops.
    pub prefetch: u16,
    /// Where `/metrics` and `/ping` are served (`HOST`, `WORKER_METRICS_PORT`); `None`
    /// when the port is 0.
    pub metrics_addr: Option<SocketAddr>,
}

impl WorkerConfig {
    /// Reads the environment (after `.env`), like the API.
    ///
    /// # Errors
    /// A [`WorkerConfigError`] naming the variables at fault or missing.
    pub fn from_env() -> Result<Self, WorkerConfigError> {
        load_dotenv()?;
        let cli = <WorkerCli as clap::Parser>::try_parse_from(["messenger-worker"])
            .map_err(|e| ConfigError::Cli(e.to_string()))?;
        Self::from_parts(Config::from_raw(cli.shared)?, &cli.worker)
    }

    /// Checks the shared configuration and types the worker's variables.
    ///
    /// # Errors
    /// A [`WorkerConfigError`] naming the variables at fault or missing.
    pub fn from_parts(shared: Config, vars: &WorkerVars) -> Result<Self, WorkerConfigError> {
        let mut missing = Vec::new();
        if matches!(shared.queue, Queue::InProcess) {
            missing.push("AMQP_URL (or RMQ_URL)");
        }
        if matches!(shared.storage, Storage::Memory) {
            missing.push("DATABASE_URL (or POSTGRES_HOSTS)");
        }
        if matches!(shared.shared_state, SharedState::InProcess) {
            missing.push("REDIS_URL");
        }
        let Queue::RabbitMq(amqp) = &shared.queue else {
            return Err(WorkerConfigError::Missing(missing.join(", ")));
        };
        if !missing.is_empty() {
            return Err(WorkerConfigError::Missing(missing.join(", ")));
        }
        let concurrency = positive_at_most(
            "WORKER_CONCURRENCY",
            &vars.worker_concurrency,
            Some(WORKER_CONCURRENCY),
            10_000,
        )?
        .unwrap_or(1);
        let prefetch = positive_at_most("AMQP_PREFETCH", &vars.amqp_prefetch, None, u16::MAX)?
            .unwrap_or_else(|| u16::try_from(concurrency).unwrap_or(u16::MAX));
        let metrics_port: u16 = num_or(
            "WORKER_METRICS_PORT",
            &vars.worker_metrics_port,
            WORKER_METRICS_PORT,
            "a port number (0 turns the endpoint off)",
        )?;
        let metrics_addr =
            (metrics_port != 0).then(|| SocketAddr::new(shared.server.host, metrics_port));
        let mut amqp = amqp.clone();
        amqp.prefetch = prefetch;
        Ok(Self {
            amqp,
            shared,
            concurrency,
            prefetch,
            metrics_addr,
        })
    }
}

#[cfg(test)]
#[cfg(all(feature = "postgres", feature = "redis"))]
mod tests {
    use super::*;

    fn full() -> Config {
        Config {
            queue: Queue::RabbitMq(AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f")),
            storage: Storage::postgres("postgres://root@127.0.0.1/test").unwrap(),
            shared_state: SharedState::redis("redis://127.0.0.1:6379").unwrap(),
            ..Config::default()
        }
    }

    fn vars(concurrency: Option<&str>, prefetch: Option<&str>) -> WorkerVars {
        WorkerVars {
            worker_concurrency: concurrency.map(str::to_owned),
            amqp_prefetch: prefetch.map(str::to_owned),
            worker_metrics_port: None,
        }
    }

    #[test]
    fn names_every_missing_service() {
        let err = WorkerConfig::from_parts(Config::default(), &vars(None, None)).unwrap_err();
        let text = err.to_string();
        for var in ["AMQP_URL", "DATABASE_URL", "REDIS_URL"] {
            assert!(text.contains(var), "{text}");
        }
        let only_redis_missing = Config {
            shared_state: SharedState::InProcess,
            ..full()
        };
        let text = WorkerConfig::from_parts(only_redis_missing, &vars(None, None))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("REDIS_URL") && !text.contains("AMQP_URL"),
            "{text}"
        );
    }

    #[test]
    fn defaults_and_overrides_concurrency_and_prefetch() {
        let c = WorkerConfig::from_parts(full(), &vars(None, None)).unwrap();
        assert_eq!(c.concurrency, 8);
        assert_eq!(usize::from(c.prefetch), c.concurrency);
        let c = WorkerConfig::from_parts(full(), &vars(Some("3"), None)).unwrap();
        assert_eq!((c.concurrency, c.prefetch), (3, 3));
        let c = WorkerConfig::from_parts(full(), &vars(Some("3"), Some("10"))).unwrap();
        assert_eq!((c.concurrency, c.prefetch), (3, 10));
        assert_eq!(c.amqp.prefetch, 10);
        assert_eq!(c.amqp.queue, AmqpConfig::DEFAULT_QUEUE);
        let own_queue = Config {
            queue: Queue::RabbitMq(AmqpConfig::new("amqp://h").with_queue("tasks.of.this.run")),
            ..full()
        };
        let c = WorkerConfig::from_parts(own_queue, &vars(None, None)).unwrap();
        assert_eq!(c.amqp.queue, "tasks.of.this.run");
    }

    #[test]
    fn metrics_listen_on_host_at_their_port_unless_zero() {
        let c = WorkerConfig::from_parts(full(), &vars(None, None)).unwrap();
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9091".parse().unwrap()));
        let mut v = vars(None, None);
        v.worker_metrics_port = Some("0".into());
        assert_eq!(
            WorkerConfig::from_parts(full(), &v).unwrap().metrics_addr,
            None
        );
        v.worker_metrics_port = Some("70000".into());
        let err = WorkerConfig::from_parts(full(), &v).unwrap_err();
        assert!(err.to_string().starts_with("WORKER_METRICS_PORT"), "{err}");
    }

    #[test]
    fn rejects_bad_numbers_naming_the_variable() {
        for (var, v) in [
            ("WORKER_CONCURRENCY", vars(Some("0"), None)),
            ("WORKER_CONCURRENCY", vars(Some("many"), None)),
            ("AMQP_PREFETCH", vars(None, Some("70000"))),
        ] {
            let err = WorkerConfig::from_parts(full(), &v).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }
}

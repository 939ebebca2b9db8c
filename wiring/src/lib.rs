//! `messenger-wiring`: the composition root both binaries share. It reads the
//! configuration, picks an adapter for every port, wraps the ports in the decorators that
//! count for `/metrics` and fall back to this process while Redis is down, starts the
//! background jobs of an API process, and sets up logging.
//!
//! It exists so that `messenger-worker` can be wired exactly like the API (the same
//! variables, the same adapters) without carrying the HTTP stack: the worker depends on
//! this crate, not on `messenger-api`, and poem is not in its dependency tree.
//!
//! Layout:
//! - `config` — every environment variable, by area (one file each), typed once
//!   ([`Config`], [`WorkerConfig`]);
//! - `adapters` — adapter selection: one function per part picks the adapters;
//! - `metered` — port decorators counting cache hits, search tasks and queue publishes;
//! - [`access_cache`] — the decorator keeping positive chat-access answers in process;
//! - [`log_tail`] — the decorator keeping the event log's newest events for every reader;
//! - [`metrics`] — the process's Prometheus recorder, and the decorators' metric names;
//! - `background` — the in-process search worker and the periodic maintenance;
//! - [`logging`] — the `tracing` subscriber;
//! - [`healthcheck`] — the `GET /ping` probe of both binaries' `healthcheck` subcommands.
//!
//! What each binary calls: [`wire_api`] (the use cases, the request limiter and the
//! running background jobs) and `wire_worker` (the use cases over the shared stores).
//!
//! Features: `postgres`, `redis` and `rabbitmq` build in each backend (none by default:
//! each binary names what it needs). Without one, its variables are still read and a value
//! that asks for it stops start-up ([`ConfigError::NotBuiltIn`]); the worker's part
//! ([`WorkerConfig`], `wire_worker`) needs `rabbitmq`.

pub mod access_cache;
mod adapters;
mod background;
pub mod config;
pub mod healthcheck;
pub mod log_tail;
pub mod logging;
mod metered;
pub mod metrics;

pub use background::Background;
pub use config::{
    CacheType, Config, ConfigError, LogFormat, Queue, RawConfig, SharedState, Storage,
};
#[cfg(feature = "rabbitmq")]
pub use config::{WorkerConfig, WorkerConfigError};

use messenger_ports::{Clock, IdGenerator, Messenger, PasswordHasher, RateLimiter};
use std::net::SocketAddr;
use std::sync::Arc;

/// Replacements for the system ports, so tests control time, ids and hashing cost.
#[derive(Default, Clone)]
pub struct Overrides {
    /// The clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// The id generator (default: random UUIDs and OS-random tokens).
    pub ids: Option<Arc<dyn IdGenerator>>,
    /// The password hasher (default: argon2id with the OWASP parameters).
    pub hasher: Option<Arc<dyn PasswordHasher>>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A backend is configured whose adapter this build does not wire yet.
    #[error("{variable} is set, but this build cannot use {part} yet; unset it to run in memory")]
    NotWired {
        /// What would be connected.
        part: &'static str,
        /// The variable that asks for it.
        variable: &'static str,
    },
    /// Redis is configured but its URL cannot be used.
    #[cfg(feature = "redis")]
    #[error("REDIS_URL: {0}")]
    Redis(#[from] messenger_redis::RedisError),
    /// RabbitMQ is configured but cannot be used: its settings (the CA file), or a
    /// certificate that was refused.
    #[cfg(feature = "rabbitmq")]
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] messenger_rabbitmq::AmqpError),
    /// PostgreSQL is configured but cannot be used: no answer until the start-up deadline,
    /// or a migration that failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] messenger_postgres::PgError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A background job could not be started.
    #[error("cannot start the search worker: {0}")]
    Background(std::io::Error),
}

/// What an API process runs on.
pub struct ApiParts {
    /// The use cases over the chosen ports.
    pub messenger: Messenger,
    /// The request throttle (`None` when in-app throttling is off).
    pub request_limiter: Option<Arc<dyn RateLimiter>>,
    /// The running background jobs (the in-process search worker, when the queue is in
    /// this process, and the maintenance); stop them with [`Background::stop`].
    pub background: Background,
}

/// Connects the adapters the configuration names and starts the API process's background
/// jobs. Call it inside a Tokio runtime.
///
/// # Errors
/// A [`StartError`] naming what could not be set up.
pub async fn wire_api(config: &Config, overrides: Overrides) -> Result<ApiParts, StartError> {
    let mut wired = adapters::wire(config, overrides).await?;
    let background = adapters::start_background(config, &mut wired)?;
    Ok(ApiParts {
        messenger: wired.messenger,
        request_limiter: wired.request_limiter,
        background,
    })
}

/// The use cases a separate `messenger-worker` runs search tasks with: the same
/// repositories and task store as the API, and no background job.
///
/// # Errors
/// A [`StartError`] when PostgreSQL or Redis cannot be used.
#[cfg(feature = "rabbitmq")]
pub async fn wire_worker(config: &WorkerConfig) -> Result<Messenger, StartError> {
    adapters::wire_worker(&config.shared).await
}

/// A messenger over fresh in-memory adapters, with no background job: what the API's
/// structs need to exist so the spec can be generated without serving.
pub fn spec_messenger() -> Messenger {
    adapters::spec_messenger()
}

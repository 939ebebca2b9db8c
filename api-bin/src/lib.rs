//! `messenger-api`: the HTTP adapter of the messenger (poem + poem-openapi), its
//! configuration, the composition root, and the binary's entry points.
//!
//! Layout:
//! - `config` — every environment variable, typed once ([`Config`]), with the original
//!   service's names honoured;
//! - `cli` — the command line (`serve`, `healthcheck`, `migrate`);
//! - `wiring` — the composition root: one function per part picks the adapters;
//! - `metered` — port decorators counting cache hits, search tasks and queue publishes for
//!   `/metrics`;
//! - `background` — the in-process search worker and the periodic maintenance;
//! - `app` — [`App`]: build (connect, start jobs, bind), run until shutdown;
//! - `api` — one poem-openapi area per file (health, auth, chats, search), the spec;
//! - `http` — the gate (route table → auth → throttling → body limit, request ids, access
//!   log, timeouts), error answers, metrics.
//!
//! Tests drive the library: `App::build(config, overrides)` on port 0, `App::run` with a
//! shutdown future, `App::messenger()` for direct use-case calls.

pub mod api;
mod app;
mod background;
pub mod cli;
pub mod config;
pub mod healthcheck;
pub mod http;
pub mod logging;
mod metered;
mod wiring;

pub use app::App;
pub use config::{CacheType, Config, ConfigError, LogFormat, RawConfig};

use messenger_ports::{Clock, IdGenerator, PasswordHasher};
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
    #[error("REDIS_URL: {0}")]
    Redis(#[from] messenger_redis::RedisError),
    /// PostgreSQL is configured but cannot be used: a bad URL, no answer until the
    /// start-up deadline, or a migration that failed.
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

/// The use cases over the adapters the configuration names, without the HTTP side or the
/// background jobs: what `messenger-worker` runs search tasks with (the same repositories
/// and task store as the API).
///
/// # Errors
/// As [`App::build`]: a backend that cannot be used.
pub async fn worker_messenger(config: &Config) -> Result<messenger_ports::Messenger, StartError> {
    Ok(wiring::wire(config, Overrides::default()).await?.messenger)
}

//! [`PgStore`]: the handle every repository port is implemented on, its constructors and
//! the readiness check.

use crate::config::PgConfig;
use crate::db::Db;
use crate::migrate::{MigrateError, Migrator};
use messenger_ports::PortResult;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Why the store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The configuration cannot work.
    #[error("invalid PostgreSQL configuration: {0}")]
    Config(String),
    /// Migrating failed (or the database stayed unreachable until the deadline, or its
    /// certificate was refused).
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// The TLS settings cannot be used (the CA file, the system's roots).
    #[error("PostgreSQL {0}")]
    Tls(#[from] messenger_tls::TlsError),
}

/// The PostgreSQL repositories: implements `Accounts`, `Sessions`, `Chats`, `Members`,
/// `Messages` and `MessageSearch` over one connection pool. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) db: Arc<Db>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Waits up to `wait` for the database (retrying with backoff, logging each failed
    /// attempt), applies pending migrations, and returns the store. Start-up calls this
    /// before binding its port.
    ///
    /// # Errors
    /// [`PgError::Migrate`] with `Unavailable` when the database stayed unreachable until
    /// the deadline, or another [`MigrateError`] at once (those do not heal by waiting).
    pub async fn connect(config: &PgConfig, wait: Duration) -> Result<Self, PgError> {
        let store = Self::without_migrating(config)?;
        let deadline = Instant::now() + wait;
        let migrator = Migrator::new(config);
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1u32;
        loop {
            match migrator.up().await {
                Ok(applied) => {
                    tracing::info!(
                        schema = config.schema(),
                        applied = applied.len(),
                        "database schema is up to date"
                    );
                    return Ok(store);
                }
                Err(e) if e.is_unavailable() && Instant::now() + backoff < deadline => {
                    tracing::warn!(
                        attempt,
                        error = %e,
                        retry_in_ms = backoff.as_millis() as u64,
                        "database not reachable yet"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(attempt, error = %e, "database set-up failed");
                    return Err(e.into());
                }
            }
        }
    }

    /// The store over a schema that is migrated elsewhere (by the API at start, or by
    /// `migrate up`). Connects lazily: nothing is checked until the first call.
    ///
    /// # Errors
    /// [`PgError::Config`] when the pool cannot be built.
    pub fn without_migrating(config: &PgConfig) -> Result<Self, PgError> {
        Ok(Self {
            db: Arc::new(Db::new(config)?),
        })
    }

    /// Readiness: `Ok` when a pooled connection answers `SELECT 1` within the dependency
    /// timeout.
    ///
    /// # Errors
    /// `Unavailable` otherwise (within the dependency timeout).
    pub async fn ping(&self) -> PortResult<()> {
        Ok(self.db.ping().await?)
    }

    /// The connection pool's state, for metrics.
    pub fn pool_status(&self) -> PoolStatus {
        let (open, idle, waiting) = self.db.pool_status();
        PoolStatus {
            in_use: open.saturating_sub(idle),
            idle,
            waiting,
        }
    }
}

/// The connection pool's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections checked out by calls.
    pub in_use: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Calls waiting for a connection.
    pub waiting: usize,
}

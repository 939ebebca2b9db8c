//! The command line: `serve` (the default), `healthcheck` (for the container) and
//! `migrate up|down|status` (PostgreSQL). Every setting comes from the environment (or the
//! matching `--flag`); `messenger-api --help` lists them all.

use crate::config::{Config, RawConfig};
use clap::{Parser, Subcommand};

/// `messenger-api`: the messenger's HTTP API.
#[derive(Parser)]
#[command(
    name = "messenger-api",
    version,
    about = "The messenger's HTTP API. With no variable set it runs fully in memory on \
             http://127.0.0.1:8080 (docs at /docs).",
    long_about = None
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings, from the environment or flags.
    #[command(flatten)]
    pub config: RawConfig,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the API until SIGINT/SIGTERM (the default).
    Serve,
    /// GET /ping on the configured host and port; exit 0 on 200, 1 otherwise (the
    /// container's health check).
    Healthcheck,
    /// Apply, roll back or list the database migrations (PostgreSQL).
    Migrate {
        /// Which way.
        #[command(subcommand)]
        action: MigrateAction,
    },
}

/// A migration command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the latest migration.
    Down,
    /// List applied and pending migrations.
    Status,
}

/// Why a migration command failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// There is no database to migrate.
    #[error("PostgreSQL is not configured: set DATABASE_URL (or POSTGRES_HOSTS) to migrate")]
    NotConfigured,
    /// This build has no PostgreSQL adapter yet.
    #[error("this build cannot use PostgreSQL yet, so it cannot migrate it")]
    NotWired,
}

/// Runs a migration command against the configured database.
///
/// # Errors
/// [`MigrateError`] when there is nothing to migrate or it cannot be reached.
pub async fn migrate(config: &Config, action: MigrateAction) -> Result<(), MigrateError> {
    let Some(_url) = &config.database_url else {
        return Err(MigrateError::NotConfigured);
    };
    // The PostgreSQL adapter's runner goes here: match on `action` (up, down, status).
    let _ = action;
    Err(MigrateError::NotWired)
}

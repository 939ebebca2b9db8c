//! The command line: `serve` (the default), `healthcheck` (for the container) and
//! `migrate up|down|status` (PostgreSQL). Every setting comes from the environment (or the
//! matching `--flag`); `messenger-api --help` lists them all. A build without the
//! `postgres` feature keeps the `migrate` command, which then says what is missing.

use clap::{Parser, Subcommand};
use messenger_wiring::{Config, RawConfig};

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
    /// This binary was built without PostgreSQL (`--no-default-features`).
    #[error(
        "migrate needs PostgreSQL, but this messenger-api was built without PostgreSQL \
         support: build it with the default features (or `--features postgres`)"
    )]
    NotBuiltIn,
    /// The runner failed (unreachable database, a failed or changed migration).
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Migrate(#[from] messenger_postgres::MigrateError),
}

/// Runs a migration command against the configured database, printing what it did.
///
/// # Errors
/// [`MigrateError`] when there is nothing to migrate or it cannot be reached.
#[cfg(feature = "postgres")]
pub async fn migrate(config: &Config, action: MigrateAction) -> Result<(), MigrateError> {
    use messenger_postgres::{DownSteps, Migrator, MIGRATIONS};
    let Some(pg) = config.storage.pg() else {
        return Err(MigrateError::NotConfigured);
    };
    let migrator = Migrator::new(pg);
    let name = |v: i64| {
        MIGRATIONS
            .iter()
            .find(|m| m.version == v)
            .map_or("?", |m| m.name)
    };
    match action {
        MigrateAction::Up => {
            let applied = migrator.up().await?;
            if applied.is_empty() {
                println!("up to date");
            }
            for v in applied {
                println!("applied  {v:04} {}", name(v));
            }
        }
        MigrateAction::Down => match migrator.down(DownSteps::One).await?.as_slice() {
            [] => println!("nothing to revert"),
            reverted => {
                for v in reverted {
                    println!("reverted {v:04} {}", name(*v));
                }
            }
        },
        MigrateAction::Status => {
            for m in migrator.status().await? {
                let state = match (&m.applied_at, m.known, m.changed) {
                    (None, _, _) => "pending".to_owned(),
                    (Some(at), true, false) => format!("applied {at}"),
                    (Some(at), true, true) => format!("applied {at}, CHANGED since"),
                    (Some(at), false, _) => format!("applied {at}, unknown to this binary"),
                };
                println!("{:04} {:<24} {state}", m.version, m.name);
            }
        }
    }
    Ok(())
}

/// A build without PostgreSQL has nothing to migrate with.
///
/// # Errors
/// Always [`MigrateError::NotBuiltIn`].
#[cfg(not(feature = "postgres"))]
pub async fn migrate(_config: &Config, _action: MigrateAction) -> Result<(), MigrateError> {
    Err(MigrateError::NotBuiltIn)
}

//! The schema's migrations and their runner.
//!
//! Each migration is a pair of SQL files, `migrations/NNNN_name.up.sql` and `.down.sql`,
//! embedded in the binary. The runner records what it applied in `schema_migrations`
//! (version, name, SHA-256 of the up SQL, when), applies each step in its own transaction,
//! and refuses to run when an applied migration's SQL has changed since. It holds a
//! PostgreSQL advisory lock on a dedicated connection while it works, so instances that
//! start together migrate one after the other; the lock is released explicitly on every
//! path, and by the server if the connection dies.

use crate::config::PgConfig;
use crate::db::{describe, is_unavailability};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tokio::time::timeout;
use tokio_postgres::Client;

/// One schema change and its reversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its number; applied in increasing order.
    pub version: i64,
    /// Its name (the file name without number and suffix).
    pub name: &'static str,
    /// The SQL applying it.
    pub up: &'static str,
    /// The SQL reverting it.
    pub down: &'static str,
}

impl Migration {
    /// SHA-256 of the up SQL, as recorded when applied.
    pub fn checksum(&self) -> [u8; 32] {
        Sha256::digest(self.up.as_bytes()).into()
    }
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            up: include_str!(concat!("../migrations/", $file, ".up.sql")),
            down: include_str!(concat!("../migrations/", $file, ".down.sql")),
        }
    };
}

/// Every migration of the schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "accounts_and_sessions", "0001_accounts_and_sessions"),
    migration!(2, "chats_and_members", "0002_chats_and_members"),
    migration!(3, "messages", "0003_messages"),
    migration!(4, "messages_by_time", "0004_messages_by_time"),
    migration!(5, "conversations", "0005_conversations"),
    migration!(6, "events", "0006_events"),
    migration!(7, "session_safety", "0007_session_safety"),
    migration!(8, "read_marker_in_post", "0008_read_marker_in_post"),
    migration!(9, "search_pending_list", "0009_search_pending_list"),
];

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database could not be reached (worth retrying).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("migration {version:?} failed: {message}")]
    Sql {
        /// The migration being applied or reverted, if any.
        version: Option<i64>,
        /// The server's message.
        message: String,
    },
    /// The server answered and refused the connection (no `pg_hba.conf` line for it, e.g.
    /// a plain connection to a TLS-only server; a bad password; no such database).
    #[error("the database refused the connection: {0}")]
    Refused(String),
    /// The TLS handshake failed: the server's certificate was refused (an unknown CA, a
    /// certificate for another host) or the server refused ours.
    #[error("PostgreSQL {0}")]
    Handshake(messenger_tls::HandshakeFailure),
    /// The TLS settings cannot be used (the CA file, the system's roots).
    #[error("PostgreSQL {0}")]
    TlsSetup(#[from] messenger_tls::TlsError),
    /// An applied migration's SQL differs from this binary's.
    #[error("migration {version} ({name}) was changed after it was applied (checksum differs)")]
    ChecksumMismatch {
        /// Its version.
        version: i64,
        /// Its name.
        name: String,
    },
    /// The database holds a migration this binary does not know (it is newer).
    #[error("migration {version} is applied but unknown to this binary")]
    Unknown {
        /// Its version.
        version: i64,
    },
}

impl MigrateError {
    /// Whether waiting for the database and trying again may help.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MigrateError::Unavailable(_))
    }

    fn sql(version: Option<i64>, e: &tokio_postgres::Error) -> Self {
        if is_unavailability(e) {
            MigrateError::Unavailable(describe(e))
        } else {
            MigrateError::Sql {
                version,
                message: describe(e),
            }
        }
    }
}

/// How far to go down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownSteps {
    /// Revert the last applied migration.
    One,
    /// Revert every applied migration (the schema is left with `schema_migrations` only).
    All,
}

/// A migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// Applied, and when (RFC 3339); `None` when pending.
    pub applied_at: Option<String>,
    /// Known to this binary (false: applied by a newer one).
    pub known: bool,
    /// The applied SQL differs from this binary's.
    pub changed: bool,
}

/// Runs the migrations against the schema of a configuration.
#[derive(Debug, Clone)]
pub struct Migrator {
    config: PgConfig,
}

/// The advisory-lock class of migration locks (the other key is the schema's hash).
const LOCK_CLASS: i32 = 0x4d53_4731; // "MSG1"

impl Migrator {
    /// A runner for `config`'s database and schema.
    pub fn new(config: &PgConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// Applies every pending migration, in order; returns the versions applied (none when
    /// up to date). Safe to run again and from several processes at once.
    ///
    /// # Errors
    /// [`MigrateError`]; a failed step is rolled back, earlier steps stay applied.
    pub async fn up(&self) -> Result<Vec<i64>, MigrateError> {
        self.locked(|client| Box::pin(up_locked(client))).await
    }

    /// Reverts the last applied migration, or all of them; returns the versions reverted,
    /// newest first.
    ///
    /// # Errors
    /// [`MigrateError`]; a failed step is rolled back.
    pub async fn down(&self, steps: DownSteps) -> Result<Vec<i64>, MigrateError> {
        self.locked(move |client| Box::pin(down_locked(client, steps)))
            .await
    }

    /// Every known migration and every applied one, in version order.
    ///
    /// # Errors
    /// [`MigrateError`] when the database cannot be read.
    pub async fn status(&self) -> Result<Vec<MigrationState>, MigrateError> {
        let client = self.connect().await?;
        let exists = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
                 WHERE schemaname = $1 AND tablename = 'schema_migrations')",
                &[&self.config.schema()],
            )
            .await
            .map_err(|e| MigrateError::sql(None, &e))?
            .get::<_, bool>(0);
        let applied = if exists {
            read_applied(&client).await?
        } else {
            BTreeMap::new()
        };
        let mut out: Vec<MigrationState> = MIGRATIONS
            .iter()
            .map(|m| {
                let row = applied.get(&m.version);
                MigrationState {
                    version: m.version,
                    name: m.name.to_owned(),
                    applied_at: row.map(|a| a.applied_at.clone()),
                    known: true,
                    changed: row.is_some_and(|a| a.checksum != m.checksum()),
                }
            })
            .collect();
        for (version, a) in &applied {
            if !MIGRATIONS.iter().any(|m| m.version == *version) {
                out.push(MigrationState {
                    version: *version,
                    name: a.name.clone(),
                    applied_at: Some(a.applied_at.clone()),
                    known: false,
                    changed: false,
                });
            }
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    /// A dedicated connection (not from the pool: the advisory lock belongs to it).
    async fn connect(&self) -> Result<Client, MigrateError> {
        let pg = self.config.driver_config();
        let tls = self.config.tls_connector()?;
        let attempt = timeout(self.config.connect_timeout(), pg.connect(tls)).await;
        let (client, connection) = match attempt {
            Ok(Ok(pair)) => pair,
            // A refused certificate, or a server that answers but will not have this
            // connection (no pg_hba.conf line for it, a bad password, no such database),
            // does not heal by waiting: say so at once.
            Ok(Err(e)) => {
                return Err(match messenger_tls::handshake_failure(&e) {
                    Some(failure) => MigrateError::Handshake(failure),
                    None if e.as_db_error().is_some() && !is_unavailability(&e) => {
                        MigrateError::Refused(describe(&e))
                    }
                    None => MigrateError::Unavailable(describe(&e)),
                })
            }
            Err(_) => {
                return Err(MigrateError::Unavailable(
                    "no connection within the connect timeout".into(),
                ))
            }
        };
        // The connection task ends when the client is dropped, which closes the socket
        // (and so releases any lock still held).
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "migration connection ended");
            }
        });
        Ok(client)
    }

    /// Runs `work` holding the schema's migration lock; the lock is released whatever
    /// `work` returns.
    async fn locked<F>(&self, work: F) -> Result<Vec<i64>, MigrateError>
    where
        F: for<'c> FnOnce(
            &'c Client,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Vec<i64>, MigrateError>> + Send + 'c>,
        >,
    {
        let client = self.connect().await?;
        let schema = self.config.schema();
        client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext($2))",
                &[&LOCK_CLASS, &schema],
            )
            .await
            .map_err(|e| MigrateError::sql(None, &e))?;
        let result = async {
            // Created under the lock: two `CREATE SCHEMA IF NOT EXISTS` at once can collide.
            // The name is a checked identifier (see `PgConfig::with_schema`). The notices
            // "already exists, skipping" of every later run are not worth a log line.
            client
                .batch_execute(&format!(
                    "SET client_min_messages = warning;\n\
                     CREATE SCHEMA IF NOT EXISTS {schema};\n\
                     CREATE TABLE IF NOT EXISTS schema_migrations (\n\
                         version bigint PRIMARY KEY,\n\
                         name text NOT NULL,\n\
                         checksum bytea NOT NULL,\n\
                         applied_at timestamptz NOT NULL DEFAULT now()\n\
                     );"
                ))
                .await
                .map_err(|e| MigrateError::sql(None, &e))?;
            work(&client).await
        }
        .await;
        let unlocked = client
            .execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))",
                &[&LOCK_CLASS, &schema],
            )
            .await;
        if let Err(e) = unlocked {
            // Dropping the connection below releases it anyway.
            tracing::warn!(error = %e, "could not release the migration lock explicitly");
        }
        drop(client);
        result
    }
}

struct Applied {
    name: String,
    checksum: Vec<u8>,
    applied_at: String,
}

async fn read_applied(client: &Client) -> Result<BTreeMap<i64, Applied>, MigrateError> {
    let rows = client
        .query(
            "SELECT version, name, checksum, \
             to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(|e| MigrateError::sql(None, &e))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.get::<_, i64>(0),
                Applied {
                    name: r.get(1),
                    checksum: r.get(2),
                    applied_at: r.get(3),
                },
            )
        })
        .collect())
}

/// Refuses to go on when an applied migration's SQL changed.
fn check_checksums(applied: &BTreeMap<i64, Applied>) -> Result<(), MigrateError> {
    for m in MIGRATIONS {
        if let Some(a) = applied.get(&m.version) {
            if a.checksum != m.checksum() {
                return Err(MigrateError::ChecksumMismatch {
                    version: m.version,
                    name: m.name.to_owned(),
                });
            }
        }
    }
    Ok(())
}

async fn up_locked(client: &Client) -> Result<Vec<i64>, MigrateError> {
    let applied = read_applied(client).await?;
    check_checksums(&applied)?;
    if let Some((v, _)) = applied
        .iter()
        .find(|(v, _)| !MIGRATIONS.iter().any(|m| m.version == **v))
    {
        // A newer binary migrated this schema; an older one may still serve it, since
        // migrations only add (a rolling deploy runs old and new side by side).
        tracing::warn!(
            version = v,
            "the schema has a migration unknown to this binary"
        );
    }
    let mut done = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| !applied.contains_key(&m.version))
    {
        let checksum = m.checksum().to_vec();
        let step = async {
            client.batch_execute("BEGIN").await?;
            client.batch_execute(m.up).await?;
            client
                .execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &checksum],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = step {
            // Best effort: on a dead connection the server rolls back by itself.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(MigrateError::sql(Some(m.version), &e));
        }
        tracing::info!(version = m.version, name = m.name, "migration applied");
        done.push(m.version);
    }
    Ok(done)
}

async fn down_locked(client: &Client, steps: DownSteps) -> Result<Vec<i64>, MigrateError> {
    let applied = read_applied(client).await?;
    check_checksums(&applied)?;
    let mut done = Vec::new();
    for version in applied.keys().rev() {
        let m = MIGRATIONS
            .iter()
            .find(|m| m.version == *version)
            .ok_or(MigrateError::Unknown { version: *version })?;
        let step = async {
            client.batch_execute("BEGIN").await?;
            client.batch_execute(m.down).await?;
            client
                .execute(
                    "DELETE FROM schema_migrations WHERE version = $1",
                    &[&m.version],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = step {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(MigrateError::sql(Some(m.version), &e));
        }
        tracing::info!(version = m.version, name = m.name, "migration reverted");
        done.push(m.version);
        if steps == DownSteps::One {
            break;
        }
    }
    Ok(done)
}

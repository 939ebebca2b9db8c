//! Where the durable data lives: in memory, or PostgreSQL (`DATABASE_URL`, or the
//! original's `POSTGRES_HOSTS`/`POSTGRES_DB`/`POSTGRES_USER`/`POSTGRES_PWD`;
//! `DATABASE_URL` wins), with `POOL_SIZE` and `DATABASE_SCHEMA`; TLS as libpq's
//! `sslmode` and `sslrootcert` in the URL, or `DATABASE_SSLMODE` and `DATABASE_CA_FILE`
//! where the URL says nothing. A build without the `postgres` feature reads the same
//! variables and refuses a configured database ([`ConfigError::NotBuiltIn`]).

use super::parse::{encode, invalid, positive_or, url, value};
use super::ConfigError;
#[cfg(feature = "postgres")]
use messenger_postgres::{PgConfig, PgError, SslMode};
#[cfg(feature = "postgres")]
use std::path::PathBuf;
use std::time::Duration;

const POOL_SIZE: &str = "16";
const POSTGRES_WRITE_LANES: &str = "2";
/// `PgConfig::DEFAULT_SCHEMA` (a test keeps them equal), declared here as well so that a
/// build without PostgreSQL lists the same default.
const DATABASE_SCHEMA: &str = "messenger";

/// The storage variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct StorageVars {
    /// PostgreSQL URL; wins over POSTGRES_* [default: in memory].
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        help_heading = "PostgreSQL"
    )]
    pub database_url: Option<String>,
    /// PostgreSQL host or host:port, comma-separated for several.
    #[arg(long, env = "POSTGRES_HOSTS", help_heading = "PostgreSQL")]
    pub postgres_hosts: Option<String>,
    /// PostgreSQL database [default: postgres].
    #[arg(long, env = "POSTGRES_DB", help_heading = "PostgreSQL")]
    pub postgres_db: Option<String>,
    /// PostgreSQL user [default: postgres].
    #[arg(long, env = "POSTGRES_USER", help_heading = "PostgreSQL")]
    pub postgres_user: Option<String>,
    /// PostgreSQL password.
    #[arg(
        long,
        env = "POSTGRES_PWD",
        hide_env_values = true,
        help_heading = "PostgreSQL"
    )]
    pub postgres_pwd: Option<String>,
    /// Database connections per instance.
    #[arg(long, env = "POOL_SIZE", default_value = POOL_SIZE, help_heading = "PostgreSQL")]
    pub pool_size: Option<String>,
    /// Transactions storing posts at a time per instance; posts arriving meanwhile share
    /// the next one (a chat's posts always take the same lane).
    #[arg(long, env = "POSTGRES_WRITE_LANES", default_value = POSTGRES_WRITE_LANES, help_heading = "PostgreSQL")]
    pub postgres_write_lanes: Option<String>,
    /// PostgreSQL schema of the service's tables.
    #[arg(long, env = "DATABASE_SCHEMA", default_value = DATABASE_SCHEMA, help_heading = "PostgreSQL")]
    pub database_schema: Option<String>,
    /// TLS to PostgreSQL, as libpq's sslmode: disable, prefer, require, verify-ca or
    /// verify-full; the URL's sslmode wins [default: prefer].
    #[arg(long, env = "DATABASE_SSLMODE", help_heading = "PostgreSQL")]
    pub database_sslmode: Option<String>,
    /// PEM file of the CA(s) trusted for PostgreSQL's certificate; the URL's sslrootcert
    /// wins [default: the system's roots].
    #[arg(long, env = "DATABASE_CA_FILE", help_heading = "PostgreSQL")]
    pub database_ca_file: Option<String>,
}

/// Where the durable data lives.
#[derive(Debug, Clone)]
// Built once at start-up and read by reference: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Storage {
    /// In this process: lost on exit.
    Memory,
    /// PostgreSQL (a build with the `postgres` feature).
    #[cfg(feature = "postgres")]
    Postgres(PgConfig),
}

impl Storage {
    /// PostgreSQL at `url` with the declared defaults (tests and tools build it so).
    ///
    /// # Errors
    /// [`ConfigError::Postgres`] when the URL does not parse.
    #[cfg(feature = "postgres")]
    pub fn postgres(url: &str) -> Result<Self, ConfigError> {
        Self::from_vars(
            &StorageVars {
                database_url: Some(url.to_owned()),
                ..StorageVars::default()
            },
            PgConfig::DEFAULT_DEPENDENCY_TIMEOUT,
        )
    }

    /// The PostgreSQL settings, when the data is there.
    #[cfg(feature = "postgres")]
    pub fn pg(&self) -> Option<&PgConfig> {
        match self {
            Storage::Memory => None,
            Storage::Postgres(pg) => Some(pg),
        }
    }

    pub(super) fn from_vars(
        v: &StorageVars,
        dependency_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        // Checked in every build, also when the data stays in memory.
        let pool_size = positive_or("POOL_SIZE", &v.pool_size, POOL_SIZE)?;
        let write_lanes = positive_or(
            "POSTGRES_WRITE_LANES",
            &v.postgres_write_lanes,
            POSTGRES_WRITE_LANES,
        )?;
        let Some(url) = database_url(v)? else {
            return Ok(Storage::Memory);
        };
        postgres(v, &url, (pool_size, write_lanes), dependency_timeout)
    }
}

/// PostgreSQL at `url`, with the other variables' settings.
#[cfg(feature = "postgres")]
fn postgres(
    v: &StorageVars,
    url: &str,
    (pool_size, write_lanes): (usize, usize),
    dependency_timeout: Duration,
) -> Result<Storage, ConfigError> {
    let pg_error = |e: String| ConfigError::Postgres(PgError::Config(e).to_string());
    let schema = value(&v.database_schema).unwrap_or(DATABASE_SCHEMA);
    let ssl_mode = match value(&v.database_sslmode) {
        None => None,
        Some(word) => Some(SslMode::parse(&word.to_ascii_lowercase()).ok_or_else(|| {
            invalid(
                "DATABASE_SSLMODE",
                &v.database_sslmode,
                "disable, prefer, require, verify-ca or verify-full",
            )
        })?),
    };
    let ca_file = value(&v.database_ca_file).map(PathBuf::from);
    let pg = PgConfig::from_url(url)
        .map_err(|e| pg_error(e.to_string()))?
        .with_schema(schema)
        .map_err(|e| pg_error(format!("DATABASE_SCHEMA: {e}")))?
        .with_pool_size(pool_size)
        .with_write_lanes(write_lanes)
        .with_dependency_timeout(dependency_timeout)
        .with_tls_defaults(ssl_mode, ca_file);
    // A CA file that cannot be read stops start-up here, naming it.
    pg.check_tls()
        .map_err(|e| ConfigError::Postgres(e.to_string()))?;
    Ok(Storage::Postgres(pg))
}

/// A build without PostgreSQL: the database that is configured cannot be used, and
/// start-up says so, naming the variable that asks for it.
#[cfg(not(feature = "postgres"))]
fn postgres(
    v: &StorageVars,
    _url: &str,
    _sizes: (usize, usize),
    _dependency_timeout: Duration,
) -> Result<Storage, ConfigError> {
    let variable = match value(&v.database_url) {
        Some(_) => "DATABASE_URL",
        None => "POSTGRES_HOSTS",
    };
    Err(ConfigError::NotBuiltIn {
        variable,
        backend: "PostgreSQL",
        feature: "postgres",
    })
}

/// `DATABASE_URL`, or one built from the original's `POSTGRES_*` variables.
fn database_url(v: &StorageVars) -> Result<Option<String>, ConfigError> {
    if let Some(u) = value(&v.database_url) {
        return url(
            "DATABASE_URL",
            u,
            &["postgres://", "postgresql://"],
            "a URL starting with postgres:// or postgresql://",
        )
        .map(Some);
    }
    let Some(hosts) = value(&v.postgres_hosts) else {
        let stray = [
            ("POSTGRES_DB", &v.postgres_db),
            ("POSTGRES_USER", &v.postgres_user),
            ("POSTGRES_PWD", &v.postgres_pwd),
        ];
        if let Some((name, _)) = stray.iter().find(|(_, v)| value(v).is_some()) {
            return Err(ConfigError::Combination(format!(
                "{name} is set but POSTGRES_HOSTS is not: set POSTGRES_HOSTS (or DATABASE_URL)"
            )));
        }
        return Ok(None);
    };
    let hosts: Vec<&str> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.iter().any(|h| h.contains(['/', '@', ' '])) {
        return Err(invalid(
            "POSTGRES_HOSTS",
            &v.postgres_hosts,
            "comma-separated host or host:port",
        ));
    }
    let user = value(&v.postgres_user).unwrap_or("postgres");
    let db = value(&v.postgres_db).unwrap_or("postgres");
    let credentials = match value(&v.postgres_pwd) {
        Some(pwd) => format!("{}:{}", encode(user), encode(pwd)),
        None => encode(user),
    };
    Ok(Some(format!(
        "postgresql://{credentials}@{}/{}",
        hosts.join(","),
        encode(db)
    )))
}

#[cfg(test)]
#[cfg(feature = "postgres")]
mod tests;

#[cfg(test)]
#[cfg(not(feature = "postgres"))]
mod without_postgres;

#[cfg(test)]
mod every_build;

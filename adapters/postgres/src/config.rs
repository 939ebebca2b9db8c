//! How to reach the database, and the limits every call runs under.

use crate::tls::{ca_file_of, take_tls_params, MakeRustls, SslMode};
use messenger_tls::TlsError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration that cannot work; the message names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PostgreSQL configuration: {0}")]
pub struct ConfigError(pub String);

/// Where the database is and how the adapter uses it.
///
/// Built from a URL ([`PgConfig::from_url`]) or from parts ([`PgConfig::from_parts`]), then
/// adjusted with the `with_*` methods. Its `Debug` never shows the password.
#[derive(Clone)]
pub struct PgConfig {
    pg: tokio_postgres::Config,
    schema: String,
    pool_size: usize,
    write_lanes: usize,
    dependency_timeout: Duration,
    connect_timeout: Duration,
    search_timeout: Duration,
    /// `None`: not said (by the URL or a setting); libpq's default, `prefer`, applies.
    ssl_mode: Option<SslMode>,
    /// Trusted roots for the server's certificate; `None`: the system's store.
    ca_file: Option<PathBuf>,
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres redacts the password in its own `Debug`.
        f.debug_struct("PgConfig")
            .field("pg", &self.pg)
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("write_lanes", &self.write_lanes)
            .field("dependency_timeout", &self.dependency_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("search_timeout", &self.search_timeout)
            .field("ssl_mode", &self.ssl_mode())
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl PgConfig {
    /// The schema the tables live in by default.
    pub const DEFAULT_SCHEMA: &'static str = "messenger";
    /// Connections in the pool by default.
    pub const DEFAULT_POOL_SIZE: usize = 16;
    /// Concurrent transactions of posts per instance by default (see [`PgConfig::with_write_lanes`]).
    pub const DEFAULT_WRITE_LANES: usize = 2;
    /// Default limit for one repository call (checkout and statements together).
    pub const DEFAULT_DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default limit for opening a connection.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default limit for one search query (it runs in the worker, off the request path).
    pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(10);

    /// From a `postgres://user:password@host:port/db?…` URL or a `key=value` string.
    /// libpq's `sslmode` (`disable|prefer|require|verify-ca|verify-full`) and `sslrootcert`
    /// (a CA file, or `system`) are read from it too.
    ///
    /// # Errors
    /// [`ConfigError`] when it does not parse.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let params = take_tls_params(url)
            .map_err(|e| ConfigError(format!("the database URL does not parse: {e}")))?;
        let pg: tokio_postgres::Config = params
            .rest
            .parse()
            .map_err(|e| ConfigError(format!("the database URL does not parse: {e}")))?;
        let mut config = Self::from_pg(pg);
        if let Some(word) = params.sslmode {
            config.ssl_mode = Some(parse_ssl_mode(&word)?);
        }
        if let Some(root) = params.sslrootcert {
            config.ca_file = ca_file_of(&root);
        }
        Ok(config)
    }

    /// From the original's variables: `hosts` is `host`, `host:port`, or several of them
    /// separated by commas (tried in order; `[v6-address]:port` for IPv6).
    ///
    /// # Errors
    /// [`ConfigError`] when a host or port does not parse, or a part is empty.
    pub fn from_parts(
        hosts: &str,
        dbname: &str,
        user: &str,
        password: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut pg = tokio_postgres::Config::new();
        let mut any = false;
        for entry in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            let (host, port) = split_host_port(entry)?;
            pg.host(host);
            pg.port(port);
            any = true;
        }
        if !any {
            return Err(ConfigError("no PostgreSQL host given".into()));
        }
        if dbname.is_empty() {
            return Err(ConfigError("the database name is empty".into()));
        }
        if user.is_empty() {
            return Err(ConfigError("the database user is empty".into()));
        }
        pg.dbname(dbname).user(user);
        if let Some(p) = password {
            pg.password(p);
        }
        Ok(Self::from_pg(pg))
    }

    fn from_pg(pg: tokio_postgres::Config) -> Self {
        Self {
            pg,
            schema: Self::DEFAULT_SCHEMA.to_owned(),
            pool_size: Self::DEFAULT_POOL_SIZE,
            write_lanes: Self::DEFAULT_WRITE_LANES,
            dependency_timeout: Self::DEFAULT_DEPENDENCY_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            search_timeout: Self::DEFAULT_SEARCH_TIMEOUT,
            ssl_mode: None,
            ca_file: None,
        }
    }

    /// Sets the TLS mode and the CA file (`None`: the system's roots), whatever the URL
    /// said.
    pub fn with_tls(mut self, mode: SslMode, ca_file: Option<PathBuf>) -> Self {
        self.ssl_mode = Some(mode);
        self.ca_file = ca_file;
        self
    }

    /// Sets the TLS mode and the CA file where the URL said nothing (as libpq's
    /// environment variables: the connection string wins).
    pub fn with_tls_defaults(mut self, mode: Option<SslMode>, ca_file: Option<PathBuf>) -> Self {
        if self.ssl_mode.is_none() {
            self.ssl_mode = mode;
        }
        if self.ca_file.is_none() {
            self.ca_file = ca_file;
        }
        self
    }

    /// The TLS mode (libpq's default, `prefer`, when nothing said otherwise).
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode.unwrap_or_default()
    }

    /// The CA file trusted for the server's certificate (`None`: the system's roots).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Checks the TLS settings now (reads the CA file, or finds the system's roots when
    /// the mode checks certificates), so a bad one stops start-up with its cause.
    ///
    /// # Errors
    /// [`TlsError`] naming the file or what is missing.
    pub fn check_tls(&self) -> Result<(), TlsError> {
        self.tls_connector().map(drop)
    }

    /// The connector every connection is opened with.
    pub(crate) fn tls_connector(&self) -> Result<MakeRustls, TlsError> {
        MakeRustls::new(self.ssl_mode(), self.ca_file())
    }

    /// Keeps the tables in `schema` (lowercase letters, digits and `_`, at most 63, not
    /// starting with a digit), e.g. a unique schema per test run.
    ///
    /// # Errors
    /// [`ConfigError`] when the name is not such an identifier.
    pub fn with_schema(mut self, schema: &str) -> Result<Self, ConfigError> {
        let ok = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(ConfigError(format!(
                "schema name {schema:?} is not a lowercase identifier"
            )));
        }
        schema.clone_into(&mut self.schema);
        Ok(self)
    }

    /// At most `n` pooled connections (at least 1).
    pub fn with_pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// At most `n` transactions storing posts at a time in this instance (at least 1).
    /// Posts that arrive while their lane's transaction runs go together in the lane's next
    /// one, a single statement; a chat's posts always take the same lane. Fewer lanes make
    /// bigger batches (fewer statements and commits); more let a larger database server
    /// work on more batches at once.
    pub fn with_write_lanes(mut self, n: usize) -> Self {
        self.write_lanes = n.max(1);
        self
    }

    /// The limit for one repository call: waiting for a connection and every statement.
    pub fn with_dependency_timeout(mut self, d: Duration) -> Self {
        self.dependency_timeout = d;
        self
    }

    /// The limit for opening a connection (TCP connect and the start-up exchange).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The limit for one search query.
    pub fn with_search_timeout(mut self, d: Duration) -> Self {
        self.search_timeout = d;
        self
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The pool size.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// How many transactions of posts may run at a time.
    pub fn write_lanes(&self) -> usize {
        self.write_lanes
    }

    /// The limit for one repository call.
    pub fn dependency_timeout(&self) -> Duration {
        self.dependency_timeout
    }

    /// The limit for opening a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The limit for one search query.
    pub fn search_timeout(&self) -> Duration {
        self.search_timeout
    }

    /// The driver's configuration: the schema is the connection's `search_path` (so the
    /// SQL names no schema), and the socket connect is bounded.
    pub(crate) fn driver_config(&self) -> tokio_postgres::Config {
        let mut pg = self.pg.clone();
        let search_path = format!("-c search_path={}", self.schema);
        let options = match pg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} {search_path}"),
            _ => search_path,
        };
        pg.options(options);
        if pg.get_application_name().is_none() {
            pg.application_name("messenger");
        }
        pg.connect_timeout(self.connect_timeout);
        pg.ssl_mode(self.ssl_mode().driver_mode());
        pg
    }
}

fn parse_ssl_mode(word: &str) -> Result<SslMode, ConfigError> {
    SslMode::parse(word)
        .ok_or_else(|| ConfigError(format!("sslmode {word:?} is not one of {}", SslMode::WORDS)))
}

/// `host`, `host:port` or `[v6]:port`; the port defaults to 5432.
fn split_host_port(entry: &str) -> Result<(&str, u16), ConfigError> {
    let bad_port = |p: &str| ConfigError(format!("port {p:?} of host {entry:?} does not parse"));
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| ConfigError(format!("host {entry:?} lacks a closing ']'")))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, p.parse().map_err(|_| bad_port(p))?)),
            None if after.is_empty() => Ok((host, 5432)),
            None => Err(ConfigError(format!("host {entry:?} does not parse"))),
        };
    }
    match entry.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') => Ok((host, p.parse().map_err(|_| bad_port(p))?)),
        // A bare IPv6 address (several colons) without a port.
        Some(_) => Ok((entry, 5432)),
        None => Ok((entry, 5432)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    #[test]
    fn hosts_with_and_without_ports() {
        let c = PgConfig::from_parts("db1, db2:6543,[::1]:7000", "app", "me", Some("pw")).unwrap();
        let hosts: Vec<String> =
            c.pg.get_hosts()
                .iter()
                .map(|h| match h {
                    Host::Tcp(s) => s.clone(),
                    Host::Unix(p) => p.display().to_string(),
                })
                .collect();
        assert_eq!(hosts, ["db1", "db2", "::1"]);
        assert_eq!(c.pg.get_ports(), [5432, 6543, 7000]);
        assert!(PgConfig::from_parts("db:x", "app", "me", None).is_err());
        assert!(PgConfig::from_parts(" , ", "app", "me", None).is_err());
        assert!(PgConfig::from_parts("db", "", "me", None).is_err());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        let c = PgConfig::from_url("postgres://me@localhost/app").unwrap();
        assert_eq!(c.schema(), "messenger");
        assert!(c.clone().with_schema("messenger_test_ab12").is_ok());
        for bad in ["", "1abc", "Upper", "a-b", "a;drop", &"a".repeat(64)] {
            assert!(c.clone().with_schema(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn schema_becomes_the_search_path_and_keeps_other_options() {
        let c = PgConfig::from_url("postgres://me@localhost/app?options=-c%20work_mem%3D8MB")
            .unwrap()
            .with_schema("s1")
            .unwrap();
        assert_eq!(
            c.driver_config().get_options(),
            Some("-c work_mem=8MB -c search_path=s1")
        );
    }

    #[test]
    fn the_url_sets_tls_and_settings_fill_in_what_it_left_out() {
        let c = PgConfig::from_url("postgres://me@db.example/app?sslmode=verify-full").unwrap();
        assert_eq!(c.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(
            c.driver_config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let c = c.with_tls_defaults(Some(SslMode::Disable), Some("/ca.pem".into()));
        assert_eq!(c.ssl_mode(), SslMode::VerifyFull, "the URL wins");
        assert_eq!(c.ca_file(), Some(Path::new("/ca.pem")));
        let c = PgConfig::from_url("postgres://me@h/app").unwrap();
        assert_eq!(c.ssl_mode(), SslMode::Prefer);
        assert_eq!(c.ca_file(), None);
        let e = PgConfig::from_url("postgres://me@h/app?sslmode=allow").unwrap_err();
        assert!(e.to_string().contains("sslmode"), "{e}");
    }

    #[test]
    fn a_missing_ca_file_is_named_by_the_check() {
        let c = PgConfig::from_url(
            "postgres://me@h/app?sslmode=verify-full&sslrootcert=/no/such/ca.pem",
        )
        .unwrap();
        let e = c.check_tls().unwrap_err().to_string();
        assert!(e.contains("TLS") && e.contains("/no/such/ca.pem"), "{e}");
        let plain = PgConfig::from_url("postgres://me@h/app?sslmode=disable").unwrap();
        assert!(plain.check_tls().is_ok());
    }

    #[test]
    fn debug_hides_the_password() {
        let c = PgConfig::from_url("postgres://me:hunter2@localhost/app").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = PgConfig::from_parts("h", "d", "u", Some("hunter2")).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

//! Configuration: read once from the environment (a `.env` file is read first when
//! present) into one typed struct, with an error naming the variable at fault.
//!
//! The variables are declared once, as clap arguments backed by the environment
//! ([`RawConfig`]), so `messenger-api --help` lists every one of them; the values are taken
//! as text and given their types here, with the project's rules (booleans accept
//! true/1/yes/y/on and false/0/no/n/off in any case; an empty value is unset). The
//! original service's names are honoured: `POSTGRES_*`, `RMQ_URL`, `REDIS_PWD`,
//! `NGINX_THROTTLING`, `WORKERS_NUM`, `POOL_SIZE`, `CACHE_TYPE`, `AUTH_DISABLED`.
//!
//! With nothing set, everything runs in this process, in memory.

use ipnet::IpNet;
use messenger_ports::{LoginLimits, Settings};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

/// Where the page cache lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheType {
    /// In this process (moka).
    Memory,
    /// In Redis (needs `REDIS_URL`).
    Redis,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value does not parse.
    #[error("{var}: invalid value {value}: expected {expected}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// The value, quoted (or `<hidden>` for secrets).
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A combination that cannot work; names what is missing.
    #[error("{0}")]
    Combination(String),
    /// The `.env` file exists but cannot be read.
    #[error(".env: {0}")]
    DotEnv(String),
    /// The environment does not fit the declared arguments.
    #[error("{0}")]
    Cli(String),
}

/// The service's configuration.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on (`HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// Port to listen on (`PORT`, default 8080; 0 picks a free one).
    pub port: u16,
    /// Legacy mode: no authentication, one anonymous account (`AUTH_DISABLED`).
    pub auth_disabled: bool,
    /// In-app throttling; off when `NGINX_THROTTLING` is set (nginx does it).
    pub throttling: bool,
    /// Requests per second per account or address (`RATE_LIMIT_PER_SEC`, 100).
    pub rate_limit_per_sec: u32,
    /// Burst of the request budget (`RATE_LIMIT_BURST`, 100).
    pub rate_limit_burst: u32,
    /// Registrations per minute per address (`REGISTER_LIMIT_PER_MIN`, 10).
    pub register_limit_per_min: u32,
    /// Session lifetime from login (`SESSION_TTL_SECS`, 1 h).
    pub session_ttl: Duration,
    /// The header holding the session (`AUTH_HEADER`, `Authorization`).
    pub auth_header: String,
    /// The scheme word before the token (`AUTH_SCHEME`, `session_id`; any case).
    pub auth_scheme: String,
    /// Cache full pages of messages (`PAGE_CACHE`, on).
    pub page_cache: bool,
    /// Search on (`SEARCH`, on); off answers 503 to new searches.
    pub search_enabled: bool,
    /// Most hits kept per search task (`SEARCH_HIT_CAP`, 1000).
    pub search_hit_cap: u32,
    /// How long a task and its results are kept (`SEARCH_TASK_TTL_SECS`, 1 h).
    pub search_task_ttl: Duration,
    /// Search tasks the in-process worker runs at once (`SEARCH_WORKERS`, 2).
    pub search_workers: usize,
    /// Waiting tasks the in-process queue holds (`SEARCH_QUEUE_CAPACITY`, 10,000).
    pub search_queue_capacity: usize,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Deadline for all store calls of one request (`DEPENDENCY_TIMEOUT_MS`, 1 s).
    pub dependency_timeout: Duration,
    /// Deadline for a whole request (`REQUEST_TIMEOUT_MS`, 10 s; then 503).
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight requests (`SHUTDOWN_TIMEOUT_SECS`, 30 s).
    pub shutdown_timeout: Duration,
    /// Password hashes computed at once (`HASH_CONCURRENCY`; default: one fewer than the
    /// cores, at least 1, so a login flood leaves a core for everything else).
    pub hash_concurrency: usize,
    /// Runtime worker threads (`WORKERS_NUM`; default: one per core).
    pub workers_num: Option<usize>,
    /// PostgreSQL (`DATABASE_URL`, or built from `POSTGRES_HOSTS`/`POSTGRES_DB`/
    /// `POSTGRES_USER`/`POSTGRES_PWD`; `DATABASE_URL` wins).
    pub database_url: Option<String>,
    /// The PostgreSQL schema holding the service's tables (`DATABASE_SCHEMA`, `messenger`),
    /// so the service can share a database, and test runs can take a schema of their own.
    pub database_schema: String,
    /// Redis (`REDIS_URL`, with `REDIS_PWD` as its password when it has none).
    pub redis_url: Option<String>,
    /// The prefix of every Redis key (`REDIS_KEY_PREFIX`, `messenger:`), so several
    /// deployments or test runs can share one Redis.
    pub redis_key_prefix: String,
    /// RabbitMQ (`AMQP_URL`, or the original's `RMQ_URL`; `AMQP_URL` wins).
    pub amqp_url: Option<String>,
    /// The search-task queue's name (`AMQP_QUEUE`, `messenger.search_tasks`); the API and
    /// its workers must agree, and a test run can take one of its own.
    pub amqp_queue: String,
    /// Where the page cache lives (`CACHE_TYPE`, memory).
    pub cache_type: CacheType,
    /// Database connections per instance (`POOL_SIZE`, 16).
    pub pool_size: usize,
    /// Log line format (`LOG_FORMAT`, text).
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG`, `info`).
    pub log_filter: String,
    /// Failed-login limits (`LOGIN_FAILURES_PER_CLIENT` within
    /// `LOGIN_CLIENT_WINDOW_SECS`, `LOGIN_FAILURES_PER_ACCOUNT` within
    /// `LOGIN_ACCOUNT_WINDOW_SECS`).
    pub login_limits: LoginLimits,
    /// Sessions the in-process session cache holds (`SESSION_CACHE_CAPACITY`, 100,000).
    pub session_cache_capacity: u64,
    /// Messages the in-process page cache holds (`PAGE_CACHE_MESSAGES`, 200,000).
    pub page_cache_messages: u64,
    /// MiB of full pages kept as written JSON (`PAGE_CACHE_RENDERED_MB`, 32; 0: none).
    pub rendered_page_cache_mib: u64,
}

impl Default for Config {
    /// Everything in memory, on 127.0.0.1:8080.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            auth_disabled: false,
            throttling: true,
            rate_limit_per_sec: 100,
            rate_limit_burst: 100,
            register_limit_per_min: 10,
            session_ttl: Duration::from_secs(3600),
            auth_header: "Authorization".into(),
            auth_scheme: "session_id".into(),
            page_cache: true,
            search_enabled: true,
            search_hit_cap: 1000,
            search_task_ttl: Duration::from_secs(3600),
            search_workers: 2,
            search_queue_capacity: 10_000,
            trusted_proxies: Vec::new(),
            dependency_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            hash_concurrency: cores.saturating_sub(1).max(1),
            workers_num: None,
            database_url: None,
            database_schema: "messenger".into(),
            redis_url: None,
            redis_key_prefix: "messenger:".into(),
            amqp_url: None,
            amqp_queue: messenger_rabbitmq::AmqpConfig::DEFAULT_QUEUE.into(),
            cache_type: CacheType::Memory,
            pool_size: 16,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            login_limits: LoginLimits::default(),
            session_cache_capacity: 100_000,
            page_cache_messages: 200_000,
            rendered_page_cache_mib: 32,
        }
    }
}

impl fmt::Debug for Config {
    /// Connection strings are shown as set or not: they hold passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("auth_disabled", &self.auth_disabled)
            .field("throttling", &self.throttling)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("register_limit_per_min", &self.register_limit_per_min)
            .field("session_ttl", &self.session_ttl)
            .field("auth_header", &self.auth_header)
            .field("auth_scheme", &self.auth_scheme)
            .field("page_cache", &self.page_cache)
            .field("search_enabled", &self.search_enabled)
            .field("search_hit_cap", &self.search_hit_cap)
            .field("search_task_ttl", &self.search_task_ttl)
            .field("search_workers", &self.search_workers)
            .field("search_queue_capacity", &self.search_queue_capacity)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("dependency_timeout", &self.dependency_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("workers_num", &self.workers_num)
            .field("database_url", &set(&self.database_url))
            .field("database_schema", &self.database_schema)
            .field("redis_url", &set(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("amqp_url", &set(&self.amqp_url))
            .field("amqp_queue", &self.amqp_queue)
            .field("cache_type", &self.cache_type)
            .field("pool_size", &self.pool_size)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("login_limits", &self.login_limits)
            .field("session_cache_capacity", &self.session_cache_capacity)
            .field("page_cache_messages", &self.page_cache_messages)
            .field("rendered_page_cache_mib", &self.rendered_page_cache_mib)
            .finish()
    }
}

impl Config {
    /// Reads the environment (after loading `.env` when present).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable at fault.
    pub fn from_env() -> Result<Config, ConfigError> {
        load_dotenv()?;
        let raw = <RawConfig as clap::Parser>::try_parse_from(["messenger-api"])
            .map_err(|e| ConfigError::Cli(e.to_string()))?;
        Config::from_raw(raw)
    }

    /// Types and checks the raw values.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable at fault, or the missing ones.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let d = Config::default();
        let secs = |var, v: &Option<String>, default: Duration| {
            num::<u64>(var, v, "a whole number of seconds")
                .map(|o| o.map_or(default, Duration::from_secs))
        };
        let millis = |var, v: &Option<String>, default: Duration| {
            num::<u64>(var, v, "a whole number of milliseconds")
                .map(|o| o.map_or(default, Duration::from_millis))
        };
        let at_least_one = |var, v: &Option<String>, default: usize| match num::<usize>(
            var,
            v,
            "a whole number of at least 1",
        )? {
            Some(0) => Err(invalid(var, v, "a whole number of at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let positive_u32 = |var, v: &Option<String>, default: u32| match num::<u32>(
            var,
            v,
            "a whole number of at least 1",
        )? {
            Some(0) => Err(invalid(var, v, "a whole number of at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };

        let host = match value(&raw.host) {
            None => d.host,
            Some(s) => s
                .parse()
                .map_err(|_| invalid("HOST", &raw.host, "an IP address such as 0.0.0.0"))?,
        };
        let port = num::<u16>("PORT", &raw.port, "a port number (0-65535)")?.unwrap_or(d.port);

        let database_url = database_url(&raw)?;
        let redis_url = redis_url(&raw)?;
        let amqp_url = match (value(&raw.amqp_url), value(&raw.rmq_url)) {
            (Some(u), _) => Some(url("AMQP_URL", u, &["amqp://", "amqps://"])?),
            (None, Some(u)) => Some(url("RMQ_URL", u, &["amqp://", "amqps://"])?),
            (None, None) => None,
        };
        let cache_type = match value(&raw.cache_type)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("memory") => CacheType::Memory,
            Some("redis") => CacheType::Redis,
            Some(_) => return Err(invalid("CACHE_TYPE", &raw.cache_type, "memory or redis")),
        };
        let log_format = match value(&raw.log_format)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(invalid("LOG_FORMAT", &raw.log_format, "text or json")),
        };

        let trusted_proxies = match value(&raw.trusted_proxies) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            invalid(
                                "TRUSTED_PROXIES",
                                &raw.trusted_proxies,
                                "comma-separated addresses or CIDRs such as 10.0.0.0/8",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let auth_header = match value(&raw.auth_header) {
            None => d.auth_header.clone(),
            Some(h) => {
                if poem::http::HeaderName::from_str(h).is_err() {
                    return Err(invalid("AUTH_HEADER", &raw.auth_header, "a header name"));
                }
                h.to_owned()
            }
        };
        let auth_scheme = match value(&raw.auth_scheme) {
            None => d.auth_scheme.clone(),
            Some(s) if s.chars().all(|c| c.is_ascii_graphic()) => s.to_owned(),
            Some(_) => {
                return Err(invalid(
                    "AUTH_SCHEME",
                    &raw.auth_scheme,
                    "one word of visible ASCII",
                ))
            }
        };

        let login_limits = LoginLimits {
            per_client: num(
                "LOGIN_FAILURES_PER_CLIENT",
                &raw.login_failures_per_client,
                "a whole number",
            )?
            .unwrap_or(d.login_limits.per_client),
            per_client_window: secs(
                "LOGIN_CLIENT_WINDOW_SECS",
                &raw.login_client_window_secs,
                d.login_limits.per_client_window,
            )?,
            per_account: num(
                "LOGIN_FAILURES_PER_ACCOUNT",
                &raw.login_failures_per_account,
                "a whole number",
            )?
            .unwrap_or(d.login_limits.per_account),
            per_account_window: secs(
                "LOGIN_ACCOUNT_WINDOW_SECS",
                &raw.login_account_window_secs,
                d.login_limits.per_account_window,
            )?,
        };

        let config = Config {
            host,
            port,
            auth_disabled: boolean("AUTH_DISABLED", &raw.auth_disabled)?.unwrap_or(false),
            throttling: !boolean("NGINX_THROTTLING", &raw.nginx_throttling)?.unwrap_or(false),
            rate_limit_per_sec: positive_u32(
                "RATE_LIMIT_PER_SEC",
                &raw.rate_limit_per_sec,
                d.rate_limit_per_sec,
            )?,
            rate_limit_burst: positive_u32(
                "RATE_LIMIT_BURST",
                &raw.rate_limit_burst,
                d.rate_limit_burst,
            )?,
            register_limit_per_min: positive_u32(
                "REGISTER_LIMIT_PER_MIN",
                &raw.register_limit_per_min,
                d.register_limit_per_min,
            )?,
            session_ttl: secs("SESSION_TTL_SECS", &raw.session_ttl_secs, d.session_ttl)?,
            auth_header,
            auth_scheme,
            page_cache: boolean("PAGE_CACHE", &raw.page_cache)?.unwrap_or(true),
            search_enabled: boolean("SEARCH", &raw.search)?.unwrap_or(true),
            search_hit_cap: positive_u32("SEARCH_HIT_CAP", &raw.search_hit_cap, d.search_hit_cap)?,
            search_task_ttl: secs(
                "SEARCH_TASK_TTL_SECS",
                &raw.search_task_ttl_secs,
                d.search_task_ttl,
            )?,
            search_workers: at_least_one("SEARCH_WORKERS", &raw.search_workers, d.search_workers)?,
            search_queue_capacity: at_least_one(
                "SEARCH_QUEUE_CAPACITY",
                &raw.search_queue_capacity,
                d.search_queue_capacity,
            )?,
            trusted_proxies,
            dependency_timeout: millis(
                "DEPENDENCY_TIMEOUT_MS",
                &raw.dependency_timeout_ms,
                d.dependency_timeout,
            )?,
            request_timeout: millis(
                "REQUEST_TIMEOUT_MS",
                &raw.request_timeout_ms,
                d.request_timeout,
            )?,
            shutdown_timeout: secs(
                "SHUTDOWN_TIMEOUT_SECS",
                &raw.shutdown_timeout_secs,
                d.shutdown_timeout,
            )?,
            hash_concurrency: at_least_one(
                "HASH_CONCURRENCY",
                &raw.hash_concurrency,
                d.hash_concurrency,
            )?,
            workers_num: match value(&raw.workers_num) {
                None => None,
                Some(_) => Some(at_least_one("WORKERS_NUM", &raw.workers_num, 1)?),
            },
            database_url,
            database_schema: value(&raw.database_schema)
                .map_or(d.database_schema.clone(), str::to_owned),
            redis_url,
            redis_key_prefix: value(&raw.redis_key_prefix)
                .map_or(d.redis_key_prefix.clone(), str::to_owned),
            amqp_url,
            amqp_queue: value(&raw.amqp_queue).map_or(d.amqp_queue.clone(), str::to_owned),
            cache_type,
            pool_size: at_least_one("POOL_SIZE", &raw.pool_size, d.pool_size)?,
            log_format,
            log_filter: value(&raw.rust_log).map_or(d.log_filter.clone(), str::to_owned),
            login_limits,
            session_cache_capacity: num(
                "SESSION_CACHE_CAPACITY",
                &raw.session_cache_capacity,
                "a whole number",
            )?
            .unwrap_or(d.session_cache_capacity),
            page_cache_messages: num(
                "PAGE_CACHE_MESSAGES",
                &raw.page_cache_messages,
                "a whole number",
            )?
            .unwrap_or(d.page_cache_messages),
            rendered_page_cache_mib: num(
                "PAGE_CACHE_RENDERED_MB",
                &raw.page_cache_rendered_mb,
                "a whole number of MiB",
            )?
            .unwrap_or(d.rendered_page_cache_mib),
        };
        config.check_combinations()?;
        Ok(config)
    }

    /// Refuses combinations that cannot work, naming what is missing.
    fn check_combinations(&self) -> Result<(), ConfigError> {
        if self.amqp_url.is_some() {
            let mut missing = Vec::new();
            if self.database_url.is_none() {
                missing.push("DATABASE_URL (or POSTGRES_HOSTS)");
            }
            if self.redis_url.is_none() {
                missing.push("REDIS_URL");
            }
            if !missing.is_empty() {
                return Err(ConfigError::Combination(format!(
                    "a queue (AMQP_URL/RMQ_URL) needs PostgreSQL and Redis: set {}",
                    missing.join(" and ")
                )));
            }
        }
        if self.cache_type == CacheType::Redis && self.redis_url.is_none() {
            return Err(ConfigError::Combination(
                "CACHE_TYPE=redis needs REDIS_URL".into(),
            ));
        }
        Ok(())
    }

    /// The use cases' settings.
    pub fn settings(&self) -> Settings {
        Settings {
            legacy_mode: self.auth_disabled,
            session_ttl: self.session_ttl,
            session_cache_ttl: self.session_cache_ttl(),
            search_enabled: self.search_enabled,
            search_hit_cap: self.search_hit_cap,
            task_ttl: self.search_task_ttl,
            login_limits: self.login_limits,
            ..Settings::default()
        }
    }

    /// How long a session may stay in the session cache: 5 minutes, but 1 second when
    /// PostgreSQL is shared without Redis (the cache is then per instance, and a logout on
    /// another instance must be seen within a second).
    pub fn session_cache_ttl(&self) -> Duration {
        if self.database_url.is_some() && self.redis_url.is_none() {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(300)
        }
    }

    /// Whether nothing outside this process is used.
    pub fn is_in_memory(&self) -> bool {
        self.database_url.is_none() && self.redis_url.is_none() && self.amqp_url.is_none()
    }

    /// One sentence saying where everything lives (the first log line).
    pub fn describe(&self) -> String {
        let mut s = if self.is_in_memory() {
            String::from(
                "running fully in memory: storage, caches, limits, search queue and search worker \
                 are in this process, and all data is lost on exit",
            )
        } else {
            let storage = if self.database_url.is_some() {
                "PostgreSQL"
            } else {
                "memory"
            };
            let shared = if self.redis_url.is_some() {
                "Redis"
            } else {
                "this process"
            };
            let queue = if self.amqp_url.is_some() {
                "RabbitMQ (searches run by messenger-worker)"
            } else {
                "this process"
            };
            format!("storage in {storage}; sessions, limits and task state in {shared}; search queue in {queue}")
        };
        if self.auth_disabled {
            s.push_str("; authentication is OFF (legacy mode, AUTH_DISABLED)");
        }
        if !self.throttling {
            s.push_str("; in-app throttling is off (NGINX_THROTTLING)");
        }
        s
    }
}

/// Loads `.env` into the environment when present (values already set win).
///
/// # Errors
/// When the file exists but cannot be read or parsed.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError::DotEnv(e.to_string())),
    }
}

/// A set, non-blank value.
fn value(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn invalid(var: &'static str, v: &Option<String>, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: format!("{:?}", v.as_deref().unwrap_or_default()),
        expected,
    }
}

fn num<T: FromStr>(
    var: &'static str,
    v: &Option<String>,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    value(v)
        .map(|s| s.parse::<T>().map_err(|_| invalid(var, v, expected)))
        .transpose()
}

/// true/1/yes/y/on and false/0/no/n/off, any case; blank is unset.
fn boolean(var: &'static str, v: &Option<String>) -> Result<Option<bool>, ConfigError> {
    match value(v).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "1" | "yes" | "y" | "on") => Ok(Some(true)),
        Some("false" | "0" | "no" | "n" | "off") => Ok(Some(false)),
        Some(_) => Err(invalid(var, v, "true/1/yes/y/on or false/0/no/n/off")),
    }
}

/// Checks a connection string's scheme; its value is never echoed (it holds a password).
fn url(var: &'static str, u: &str, schemes: &[&str]) -> Result<String, ConfigError> {
    if schemes.iter().any(|s| u.starts_with(s)) {
        Ok(u.to_owned())
    } else {
        Err(ConfigError::Invalid {
            var,
            value: "<hidden>".into(),
            expected: match schemes.first() {
                Some(&"postgres://") => "a URL starting with postgres:// or postgresql://",
                Some(&"redis://") => "a URL starting with redis:// or rediss://",
                _ => "a URL starting with amqp:// or amqps://",
            },
        })
    }
}

/// `DATABASE_URL`, or one built from the original's `POSTGRES_*` variables.
fn database_url(raw: &RawConfig) -> Result<Option<String>, ConfigError> {
    if let Some(u) = value(&raw.database_url) {
        return url("DATABASE_URL", u, &["postgres://", "postgresql://"]).map(Some);
    }
    let Some(hosts) = value(&raw.postgres_hosts) else {
        let stray = [
            ("POSTGRES_DB", &raw.postgres_db),
            ("POSTGRES_USER", &raw.postgres_user),
            ("POSTGRES_PWD", &raw.postgres_pwd),
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
            &raw.postgres_hosts,
            "comma-separated host or host:port",
        ));
    }
    let user = value(&raw.postgres_user).unwrap_or("postgres");
    let db = value(&raw.postgres_db).unwrap_or("postgres");
    let credentials = match value(&raw.postgres_pwd) {
        Some(pwd) => format!("{}:{}", encode(user), encode(pwd)),
        None => encode(user),
    };
    Ok(Some(format!(
        "postgresql://{credentials}@{}/{}",
        hosts.join(","),
        encode(db)
    )))
}

/// `REDIS_URL`, with `REDIS_PWD` as its password when the URL has none.
fn redis_url(raw: &RawConfig) -> Result<Option<String>, ConfigError> {
    let Some(u) = value(&raw.redis_url) else {
        if value(&raw.redis_pwd).is_some() {
            return Err(ConfigError::Combination(
                "REDIS_PWD is set but REDIS_URL is not: set REDIS_URL".into(),
            ));
        }
        return Ok(None);
    };
    let u = url("REDIS_URL", u, &["redis://", "rediss://"])?;
    let Some(pwd) = value(&raw.redis_pwd) else {
        return Ok(Some(u));
    };
    let (scheme, rest) = u.split_once("://").unwrap_or(("redis", &u));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    if rest[..authority_end].contains('@') {
        // The URL carries its own credentials: they win.
        return Ok(Some(u));
    }
    Ok(Some(format!("{scheme}://:{}@{rest}", encode(pwd))))
}

/// Percent-encodes everything but the unreserved characters (for URL user info and paths).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every variable, as clap arguments backed by the environment. Values are text here;
/// [`Config::from_raw`] gives them their types.
#[derive(Clone, Default, clap::Parser)]
#[command(name = "messenger-api")]
pub struct RawConfig {
    /// Address to listen on [default: 127.0.0.1; the container sets 0.0.0.0].
    #[arg(long, env = "HOST", help_heading = "Server")]
    pub host: Option<String>,
    /// Port to listen on [default: 8080].
    #[arg(long, env = "PORT", help_heading = "Server")]
    pub port: Option<String>,
    /// Runtime worker threads [default: one per core].
    #[arg(long, env = "WORKERS_NUM", help_heading = "Server")]
    pub workers_num: Option<String>,
    /// Whole-request deadline in ms; past it, 503 [default: 10000].
    #[arg(long, env = "REQUEST_TIMEOUT_MS", help_heading = "Server")]
    pub request_timeout_ms: Option<String>,
    /// Deadline in ms for all store calls of one request [default: 1000].
    #[arg(long, env = "DEPENDENCY_TIMEOUT_MS", help_heading = "Server")]
    pub dependency_timeout_ms: Option<String>,
    /// Seconds shutdown waits for in-flight requests [default: 30].
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", help_heading = "Server")]
    pub shutdown_timeout_secs: Option<String>,
    /// Proxies whose X-Forwarded-For is believed: comma-separated CIDRs or addresses.
    #[arg(long, env = "TRUSTED_PROXIES", help_heading = "Server")]
    pub trusted_proxies: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "LOG_FORMAT", help_heading = "Logging")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or info,access=off [default: info].
    #[arg(long, env = "RUST_LOG", help_heading = "Logging")]
    pub rust_log: Option<String>,

    /// true: legacy mode — no authentication, one anonymous account [default: false].
    #[arg(long, env = "AUTH_DISABLED", help_heading = "Authentication")]
    pub auth_disabled: Option<String>,
    /// The header holding the session [default: Authorization].
    #[arg(long, env = "AUTH_HEADER", help_heading = "Authentication")]
    pub auth_header: Option<String>,
    /// The scheme word before the token, any case [default: session_id].
    #[arg(long, env = "AUTH_SCHEME", help_heading = "Authentication")]
    pub auth_scheme: Option<String>,
    /// Session lifetime in seconds [default: 3600].
    #[arg(long, env = "SESSION_TTL_SECS", help_heading = "Authentication")]
    pub session_ttl_secs: Option<String>,
    /// Password hashes computed at once [default: cores - 1, at least 1].
    #[arg(long, env = "HASH_CONCURRENCY", help_heading = "Authentication")]
    pub hash_concurrency: Option<String>,
    /// Failed logins per account and address before 429 [default: 10].
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_CLIENT",
        help_heading = "Authentication"
    )]
    pub login_failures_per_client: Option<String>,
    /// Window of LOGIN_FAILURES_PER_CLIENT in seconds [default: 900].
    #[arg(
        long,
        env = "LOGIN_CLIENT_WINDOW_SECS",
        help_heading = "Authentication"
    )]
    pub login_client_window_secs: Option<String>,
    /// Failed logins per account before 429 [default: 100].
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_ACCOUNT",
        help_heading = "Authentication"
    )]
    pub login_failures_per_account: Option<String>,
    /// Window of LOGIN_FAILURES_PER_ACCOUNT in seconds [default: 3600].
    #[arg(
        long,
        env = "LOGIN_ACCOUNT_WINDOW_SECS",
        help_heading = "Authentication"
    )]
    pub login_account_window_secs: Option<String>,

    /// Set (true): nginx throttles, in-app throttling is off [default: false].
    #[arg(long, env = "NGINX_THROTTLING", help_heading = "Throttling")]
    pub nginx_throttling: Option<String>,
    /// Requests per second per account, or per address without a session [default: 100].
    #[arg(long, env = "RATE_LIMIT_PER_SEC", help_heading = "Throttling")]
    pub rate_limit_per_sec: Option<String>,
    /// Burst of that budget [default: 100].
    #[arg(long, env = "RATE_LIMIT_BURST", help_heading = "Throttling")]
    pub rate_limit_burst: Option<String>,
    /// Registrations per minute per address [default: 10].
    #[arg(long, env = "REGISTER_LIMIT_PER_MIN", help_heading = "Throttling")]
    pub register_limit_per_min: Option<String>,

    /// Cache full pages of messages: on/off [default: on].
    #[arg(long, env = "PAGE_CACHE", help_heading = "Caching")]
    pub page_cache: Option<String>,
    /// Where the page cache lives: memory or redis [default: memory].
    #[arg(long, env = "CACHE_TYPE", help_heading = "Caching")]
    pub cache_type: Option<String>,
    /// Messages the in-process page cache holds [default: 200000].
    #[arg(long, env = "PAGE_CACHE_MESSAGES", help_heading = "Caching")]
    pub page_cache_messages: Option<String>,
    /// MiB of full pages kept as written JSON, 0 for none [default: 32].
    #[arg(long, env = "PAGE_CACHE_RENDERED_MB", help_heading = "Caching")]
    pub page_cache_rendered_mb: Option<String>,
    /// Sessions the in-process session cache holds [default: 100000].
    #[arg(long, env = "SESSION_CACHE_CAPACITY", help_heading = "Caching")]
    pub session_cache_capacity: Option<String>,

    /// Search: on/off; off answers 503 to new searches [default: on].
    #[arg(long, env = "SEARCH", help_heading = "Search")]
    pub search: Option<String>,
    /// Most hits kept per search task [default: 1000].
    #[arg(long, env = "SEARCH_HIT_CAP", help_heading = "Search")]
    pub search_hit_cap: Option<String>,
    /// Seconds a task and its results are kept [default: 3600].
    #[arg(long, env = "SEARCH_TASK_TTL_SECS", help_heading = "Search")]
    pub search_task_ttl_secs: Option<String>,
    /// Search tasks the in-process worker runs at once [default: 2].
    #[arg(long, env = "SEARCH_WORKERS", help_heading = "Search")]
    pub search_workers: Option<String>,
    /// Waiting tasks the in-process queue holds; beyond, 503 [default: 10000].
    #[arg(long, env = "SEARCH_QUEUE_CAPACITY", help_heading = "Search")]
    pub search_queue_capacity: Option<String>,

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
    /// Database connections per instance [default: 16].
    #[arg(long, env = "POOL_SIZE", help_heading = "PostgreSQL")]
    pub pool_size: Option<String>,
    /// PostgreSQL schema of the service's tables [default: messenger].
    #[arg(long, env = "DATABASE_SCHEMA", help_heading = "PostgreSQL")]
    pub database_schema: Option<String>,

    /// Redis URL: shared sessions, limits, task state [default: in this process].
    #[arg(
        long,
        env = "REDIS_URL",
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_url: Option<String>,
    /// Redis password, used when REDIS_URL has none.
    #[arg(
        long,
        env = "REDIS_PWD",
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_pwd: Option<String>,
    /// Prefix of every Redis key [default: messenger:].
    #[arg(long, env = "REDIS_KEY_PREFIX", help_heading = "Redis")]
    pub redis_key_prefix: Option<String>,

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
    /// Name of the search-task queue [default: messenger.search_tasks].
    #[arg(long, env = "AMQP_QUEUE", help_heading = "RabbitMQ")]
    pub amqp_queue: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn nothing_set_is_everything_in_memory_on_8080() {
        let c = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(c.is_in_memory());
        assert!(c.throttling && !c.auth_disabled && c.page_cache && c.search_enabled);
        assert_eq!(c.cache_type, CacheType::Memory);
        assert_eq!(c.session_cache_ttl(), Duration::from_secs(300));
        assert!(c.describe().starts_with("running fully in memory"));
        assert_eq!(c.settings().session_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn booleans_accept_the_usual_words_in_any_case() {
        for (v, want) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("y", true),
            ("on", true),
            ("false", false),
            ("0", false),
            ("NO", false),
            ("n", false),
            ("Off", false),
            ("", false),
        ] {
            let c = Config::from_raw(RawConfig {
                auth_disabled: s(v),
                ..RawConfig::default()
            })
            .unwrap();
            assert_eq!(c.auth_disabled, want, "AUTH_DISABLED={v}");
            assert_eq!(c.settings().legacy_mode, want);
        }
    }

    #[test]
    fn a_bad_boolean_names_its_variable() {
        let e = Config::from_raw(RawConfig {
            nginx_throttling: s("maybe"),
            ..RawConfig::default()
        })
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("NGINX_THROTTLING:"), "{text}");
        assert!(text.contains("maybe"), "{text}");
        let e = Config::from_raw(RawConfig {
            page_cache: s("2"),
            ..RawConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("PAGE_CACHE:"));
    }

    #[test]
    fn nginx_throttling_switches_in_app_throttling_off() {
        let c = Config::from_raw(RawConfig {
            nginx_throttling: s("true"),
            ..RawConfig::default()
        })
        .unwrap();
        assert!(!c.throttling);
        let c = Config::from_raw(RawConfig {
            nginx_throttling: s("0"),
            ..RawConfig::default()
        })
        .unwrap();
        assert!(c.throttling);
    }

    #[test]
    fn numbers_and_names_of_the_original() {
        let c = Config::from_raw(RawConfig {
            host: s("0.0.0.0"),
            port: s("9000"),
            workers_num: s("3"),
            pool_size: s("5"),
            cache_type: s("MEMORY"),
            search: s("off"),
            session_ttl_secs: s("60"),
            rate_limit_per_sec: s("5"),
            rate_limit_burst: s("7"),
            dependency_timeout_ms: s("250"),
            log_format: s("json"),
            trusted_proxies: s("10.0.0.0/8, 192.168.1.1"),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(c.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.port, 9000);
        assert_eq!(c.workers_num, Some(3));
        assert_eq!(c.pool_size, 5);
        assert!(!c.search_enabled);
        assert_eq!(c.session_ttl, Duration::from_secs(60));
        assert_eq!((c.rate_limit_per_sec, c.rate_limit_burst), (5, 7));
        assert_eq!(c.dependency_timeout, Duration::from_millis(250));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[1].contains(&"192.168.1.1".parse::<IpAddr>().unwrap()));
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        for (raw, var) in [
            (
                RawConfig {
                    port: s("80800"),
                    ..RawConfig::default()
                },
                "PORT",
            ),
            (
                RawConfig {
                    workers_num: s("0"),
                    ..RawConfig::default()
                },
                "WORKERS_NUM",
            ),
            (
                RawConfig {
                    host: s("localhost:80"),
                    ..RawConfig::default()
                },
                "HOST",
            ),
            (
                RawConfig {
                    cache_type: s("disk"),
                    ..RawConfig::default()
                },
                "CACHE_TYPE",
            ),
            (
                RawConfig {
                    trusted_proxies: s("10.0.0.0/8,nope"),
                    ..RawConfig::default()
                },
                "TRUSTED_PROXIES",
            ),
            (
                RawConfig {
                    rate_limit_per_sec: s("0"),
                    ..RawConfig::default()
                },
                "RATE_LIMIT_PER_SEC",
            ),
        ] {
            let e = Config::from_raw(raw).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}:")), "{e}");
        }
    }

    #[test]
    fn postgres_variables_of_the_original_build_a_url() {
        let c = Config::from_raw(RawConfig {
            postgres_hosts: s("db1:5433,db2"),
            postgres_db: s("messenger"),
            postgres_user: s("app"),
            postgres_pwd: s("p@ss:w/rd"),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(
            c.database_url.as_deref(),
            Some("postgresql://app:p%40ss%3Aw%2Frd@db1:5433,db2/messenger")
        );
        // PostgreSQL without Redis: sessions are cached for a second only.
        assert_eq!(c.session_cache_ttl(), Duration::from_secs(1));
        assert!(!c.is_in_memory());
    }

    #[test]
    fn database_url_wins_over_postgres_variables() {
        let c = Config::from_raw(RawConfig {
            database_url: s("postgres://u@h/db"),
            postgres_hosts: s("other"),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://u@h/db"));
        let e = Config::from_raw(RawConfig {
            database_url: s("mysql://secret@h/db"),
            ..RawConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("DATABASE_URL:") && !e.contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn postgres_variables_without_hosts_are_refused() {
        let e = Config::from_raw(RawConfig {
            postgres_db: s("x"),
            ..RawConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("POSTGRES_HOSTS"), "{e}");
    }

    #[test]
    fn redis_password_goes_into_the_url() {
        let c = Config::from_raw(RawConfig {
            redis_url: s("redis://cache:6379/0"),
            redis_pwd: s("s3cret!"),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(
            c.redis_url.as_deref(),
            Some("redis://:s3cret%21@cache:6379/0")
        );
        let c = Config::from_raw(RawConfig {
            redis_url: s("redis://:own@cache:6379"),
            redis_pwd: s("other"),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://:own@cache:6379"));
        let e = Config::from_raw(RawConfig {
            redis_pwd: s("x"),
            ..RawConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("REDIS_URL"));
    }

    #[test]
    fn amqp_url_wins_over_rmq_url_and_needs_postgres_and_redis() {
        let full = RawConfig {
            database_url: s("postgres://h/db"),
            redis_url: s("redis://h"),
            amqp_url: s("amqp://a"),
            rmq_url: s("amqp://b"),
            ..RawConfig::default()
        };
        let c = Config::from_raw(full.clone()).unwrap();
        assert_eq!(c.amqp_url.as_deref(), Some("amqp://a"));
        let c = Config::from_raw(RawConfig {
            amqp_url: None,
            ..full.clone()
        })
        .unwrap();
        assert_eq!(c.amqp_url.as_deref(), Some("amqp://b"));

        let e = Config::from_raw(RawConfig {
            rmq_url: s("amqp://b"),
            ..RawConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("DATABASE_URL") && e.contains("REDIS_URL"), "{e}");
        let e = Config::from_raw(RawConfig {
            redis_url: None,
            ..full
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("REDIS_URL") && !e.contains("DATABASE_URL"),
            "{e}"
        );
    }

    #[test]
    fn redis_page_cache_needs_redis() {
        let e = Config::from_raw(RawConfig {
            cache_type: s("redis"),
            ..RawConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("CACHE_TYPE") && e.contains("REDIS_URL"), "{e}");
    }

    #[test]
    fn help_lists_every_variable() {
        use clap::CommandFactory;
        let help = RawConfig::command().render_long_help().to_string();
        for var in [
            "HOST",
            "PORT",
            "WORKERS_NUM",
            "AUTH_DISABLED",
            "NGINX_THROTTLING",
            "CACHE_TYPE",
            "PAGE_CACHE",
            "POOL_SIZE",
            "POSTGRES_HOSTS",
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PWD",
            "DATABASE_URL",
            "REDIS_URL",
            "REDIS_PWD",
            "RMQ_URL",
            "AMQP_URL",
            "AUTH_HEADER",
            "AUTH_SCHEME",
            "RATE_LIMIT_PER_SEC",
            "RATE_LIMIT_BURST",
            "SESSION_TTL_SECS",
            "TRUSTED_PROXIES",
            "DEPENDENCY_TIMEOUT_MS",
            "SEARCH",
            "SEARCH_HIT_CAP",
            "LOG_FORMAT",
            "RUST_LOG",
        ] {
            assert!(
                help.contains(&format!("[env: {var}")),
                "{var} missing from --help"
            );
        }
    }
}

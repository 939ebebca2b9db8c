//! Configuration: read once from the environment (a `.env` file is read first when
//! present) into one typed struct, by area, with an error naming the variable at fault.
//!
//! Each area has a file: its variables, declared once as clap arguments backed by the
//! environment (so `--help` lists every one, with its default), and the typed settings
//! they become. Backend choices are enums carrying their adapter's configuration
//! ([`Storage`], [`SharedState`], [`Queue`]). The original service's names are honoured:
//! `POSTGRES_*`, `RMQ_URL`, `REDIS_PWD`, `NGINX_THROTTLING`, `WORKERS_NUM`, `POOL_SIZE`,
//! `CACHE_TYPE`, `AUTH_DISABLED`. With nothing set, everything runs in this process, in
//! memory.
//!
//! Each backend is a cargo feature (`postgres`, `redis`, `rabbitmq`). A build without one
//! declares and reads its variables all the same (so `--help` does not change), lacks its
//! enum variant, and refuses a value that asks for it with [`ConfigError::NotBuiltIn`].

mod auth;
mod cache;
mod events;
mod limits;
mod logging;
mod parse;
mod queue;
mod search;
mod server;
mod shared_state;
mod storage;
#[cfg(feature = "rabbitmq")]
mod worker;

pub use auth::{Auth, AuthVars};
pub use cache::{Cache, CacheType, CacheVars};
pub use events::{Events, EventsVars};
pub use limits::{Limits, LimitsVars};
pub use logging::{LogFormat, Logging, LoggingVars};
pub use queue::{needs_shared_stores, Queue, QueueVars};
pub use search::{Search, SearchVars};
pub use server::{Server, ServerVars};
pub use shared_state::{SharedState, SharedStateVars};
pub use storage::{Storage, StorageVars};
#[cfg(feature = "rabbitmq")]
pub use worker::{WorkerConfig, WorkerConfigError, WorkerVars};

use messenger_ports::Settings;
use std::time::Duration;

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
    /// The PostgreSQL settings cannot be used (a URL that does not parse, a bad schema).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The `.env` file exists but cannot be read.
    #[error(".env: {0}")]
    DotEnv(String),
    /// The environment does not fit the declared arguments.
    #[error("{0}")]
    Cli(String),
    /// A backend is configured that this build left out (its cargo feature was off:
    /// `messenger-api --no-default-features`). Its variables are still read, so the same
    /// environment is refused here rather than ignored.
    #[error(
        "{variable} is set, but this messenger-api was built without {backend} support: \
         build it with the default features (or `--features {feature}`)"
    )]
    NotBuiltIn {
        /// The variable that asks for the backend.
        variable: &'static str,
        /// The backend, by name.
        backend: &'static str,
        /// The cargo feature that builds it in.
        feature: &'static str,
    },
}

/// Every variable, as clap arguments backed by the environment, by area. Values are text
/// here; [`Config::from_raw`] gives them their types.
#[derive(Clone, Default, clap::Parser)]
#[command(name = "messenger-api")]
pub struct RawConfig {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub logging: LoggingVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub auth: AuthVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitsVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub cache: CacheVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub search: SearchVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub events: EventsVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub storage: StorageVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub shared_state: SharedStateVars,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub queue: QueueVars,
}

/// The service's configuration, by area.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening address and deadlines.
    pub server: Server,
    /// Authentication.
    pub auth: Auth,
    /// Request throttling and registration limits.
    pub limits: Limits,
    /// The caches.
    pub cache: Cache,
    /// Search.
    pub search: Search,
    /// Live updates.
    pub events: Events,
    /// Where the durable data lives.
    pub storage: Storage,
    /// Where sessions, limits and task state are shared.
    pub shared_state: SharedState,
    /// Where search tasks wait.
    pub queue: Queue,
    /// Logging.
    pub logging: Logging,
}

impl Default for Config {
    /// Everything in memory, on 127.0.0.1:8080: the declared defaults.
    fn default() -> Self {
        match Config::from_raw(RawConfig::default()) {
            Ok(c) => c,
            // A unit test keeps the declared defaults valid.
            Err(e) => panic!("the declared defaults do not parse: {e}"),
        }
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
        let server = Server::from_vars(&raw.server)?;
        let cache = Cache::from_vars(&raw.cache)?;
        let config = Config {
            auth: Auth::from_vars(&raw.auth)?,
            limits: Limits::from_vars(&raw.limits)?,
            search: Search::from_vars(&raw.search)?,
            events: Events::from_vars(&raw.events)?,
            storage: Storage::from_vars(&raw.storage, server.dependency_timeout)?,
            shared_state: SharedState::from_vars(
                &raw.shared_state,
                server.dependency_timeout,
                cache.page_cache_messages,
            )?,
            queue: Queue::from_vars(&raw.queue)?,
            logging: Logging::from_vars(&raw.logging)?,
            server,
            cache,
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses combinations that cannot work, naming what is missing. The wiring checks
    /// again, since a configuration can also be built in code.
    ///
    /// # Errors
    /// [`ConfigError::Combination`].
    pub fn check(&self) -> Result<(), ConfigError> {
        needs_shared_stores(&self.queue, &self.storage, &self.shared_state)?;
        if self.cache.cache_type == CacheType::Redis
            && matches!(self.shared_state, SharedState::InProcess)
        {
            return Err(ConfigError::Combination(
                "CACHE_TYPE=redis needs REDIS_URL".into(),
            ));
        }
        Ok(())
    }

    /// The use cases' settings.
    pub fn settings(&self) -> Settings {
        Settings {
            legacy_mode: self.auth.disabled,
            session_ttl: self.auth.session_ttl,
            session_cache_ttl: self.session_cache_ttl(),
            search_enabled: self.search.enabled,
            search_hit_cap: self.search.hit_cap,
            task_ttl: self.search.task_ttl,
            login_limits: self.auth.login_limits,
            events_retention: self.events.retention,
            ..Settings::default()
        }
    }

    /// How long a session may stay in the session cache: 5 minutes, but 1 second when
    /// PostgreSQL is shared without Redis (the cache is then per instance, and a logout on
    /// another instance must be seen within a second).
    pub fn session_cache_ttl(&self) -> Duration {
        let shared_database = !matches!(self.storage, Storage::Memory);
        if shared_database && matches!(self.shared_state, SharedState::InProcess) {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(300)
        }
    }

    /// Whether nothing outside this process is used.
    pub fn is_in_memory(&self) -> bool {
        matches!(
            (&self.storage, &self.shared_state, &self.queue),
            (Storage::Memory, SharedState::InProcess, Queue::InProcess)
        )
    }

    /// One sentence saying where everything lives (the first log line).
    pub fn describe(&self) -> String {
        let mut s = if self.is_in_memory() {
            String::from(
                "running fully in memory: storage, caches, limits, search queue and search worker \
                 are in this process, and all data is lost on exit",
            )
        } else {
            let storage = match self.storage {
                #[cfg(feature = "postgres")]
                Storage::Postgres(_) => "PostgreSQL",
                Storage::Memory => "memory",
            };
            let shared = match self.shared_state {
                #[cfg(feature = "redis")]
                SharedState::Redis(_) => "Redis",
                SharedState::InProcess => "this process",
            };
            let queue = match self.queue {
                #[cfg(feature = "rabbitmq")]
                Queue::RabbitMq(_) => "RabbitMQ (searches run by messenger-worker)",
                Queue::InProcess => "this process",
            };
            format!("storage in {storage}; sessions, limits and task state in {shared}; search queue in {queue}")
        };
        if self.auth.disabled {
            s.push_str("; authentication is OFF (legacy mode, AUTH_DISABLED)");
        }
        if !self.limits.throttling {
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

#[cfg(test)]
mod tests;

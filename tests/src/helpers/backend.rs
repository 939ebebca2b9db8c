//! Which stores a test runs over: in memory, or the real services named by the
//! `MESSENGER_TEST_*` variables.

use messenger_api::App;
use messenger_wiring::{Config, Overrides, Queue, SharedState, StartError, Storage};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The variable naming the PostgreSQL database for test runs.
pub const DATABASE_VAR: &str = "MESSENGER_TEST_DATABASE_URL";
/// The variable naming the Redis server for test runs.
pub const REDIS_VAR: &str = "MESSENGER_TEST_REDIS_URL";
/// The variable naming the RabbitMQ broker for test runs.
pub const AMQP_VAR: &str = "MESSENGER_TEST_AMQP_URL";

/// A combination of backing services for one test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// A short name for messages (`memory`, `postgres`, …).
    pub name: &'static str,
    /// PostgreSQL, when used.
    pub database_url: Option<String>,
    /// Redis, when used.
    pub redis_url: Option<String>,
    /// RabbitMQ, when used.
    pub amqp_url: Option<String>,
}

impl Backend {
    /// Everything in process.
    pub fn memory() -> Self {
        Self {
            name: "memory",
            database_url: None,
            redis_url: None,
            amqp_url: None,
        }
    }

    /// PostgreSQL for the repositories, the rest in process; `None` (after saying so)
    /// when its variable is not set.
    pub fn postgres() -> Option<Self> {
        Self::from_env("postgres", &[DATABASE_VAR])
    }

    /// PostgreSQL and Redis (caches, limiter, task store); the queue in process.
    pub fn postgres_redis() -> Option<Self> {
        Self::from_env("postgres_redis", &[DATABASE_VAR, REDIS_VAR])
    }

    /// PostgreSQL, Redis and RabbitMQ: the full deployment's stores.
    pub fn postgres_redis_rabbitmq() -> Option<Self> {
        Self::from_env(
            "postgres_redis_rabbitmq",
            &[DATABASE_VAR, REDIS_VAR, AMQP_VAR],
        )
    }

    /// Whether every store is in process (so ids and time can be fully controlled and
    /// nothing outlives the test).
    pub fn is_memory(&self) -> bool {
        self.database_url.is_none() && self.redis_url.is_none() && self.amqp_url.is_none()
    }

    /// Points `config` at this backend's services.
    pub fn apply(&self, config: &mut Config) {
        config.storage = match &self.database_url {
            None => Storage::Memory,
            Some(url) => {
                let pg = Storage::postgres(url)
                    .expect("a PostgreSQL URL")
                    .pg()
                    .expect("PostgreSQL")
                    .clone();
                // Every test starts its own service and tests run in parallel: small pools
                // keep the database's connection limit out of reach.
                let pool_size = pg.pool_size().min(4);
                Storage::Postgres(
                    pg.with_schema(run_schema())
                        .expect("a schema name")
                        .with_pool_size(pool_size)
                        .with_dependency_timeout(config.server.dependency_timeout),
                )
            }
        };
        config.shared_state = match &self.redis_url {
            None => SharedState::InProcess,
            Some(url) => {
                let mut shared = SharedState::redis(url).expect("a Redis URL");
                if let Some(redis) = shared.redis_config_mut() {
                    // A key prefix of its own per service: tests running at once (and
                    // earlier runs) never share sessions, budgets, cached pages or tasks.
                    redis.key_prefix = format!("{}:", super::unique("messenger-test"));
                    redis.command_timeout = config.server.dependency_timeout;
                    redis.connect_timeout = config.server.dependency_timeout;
                    redis.local_page_messages = config.cache.page_cache_messages;
                }
                shared
            }
        };
        config.queue = match &self.amqp_url {
            None => Queue::InProcess,
            // A queue of its own per service, consumed by that service's own worker.
            Some(url) => Queue::RabbitMq(
                messenger_rabbitmq::AmqpConfig::new(url.as_str())
                    .with_queue(super::unique("messenger-test-tasks")),
            ),
        };
    }

    /// Whether this build of the service can run over this backend. While an adapter is
    /// not wired into the service yet, the service refuses to start with
    /// [`StartError::NotWired`]; then this says so, as a skip, and answers `false`. Asked
    /// once per backend and process. Any other start-up error answers `true`, so the test
    /// itself fails with it.
    pub async fn is_wired(&self) -> bool {
        static ANSWERS: Mutex<Option<HashMap<&'static str, bool>>> = Mutex::new(None);
        let known = ANSWERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|m| m.get(self.name).copied());
        if let Some(answer) = known {
            return answer;
        }
        if let Some(url) = &self.database_url {
            static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
            CLEANED.get_or_init(|| drop_stale_schemas(url)).await;
        }
        let mut config = Config::default();
        config.server.host = "127.0.0.1".parse().expect("an address");
        config.server.port = 0;
        self.apply(&mut config);
        let queue = config
            .queue
            .amqp()
            .map(|a| a.queue.clone())
            .unwrap_or_default();
        let answer = match App::build(config, Overrides::default()).await {
            Err(StartError::NotWired { part, variable }) => {
                println!("skipped: this build cannot use {part} ({variable}) yet");
                false
            }
            Ok(app) => {
                drop(app);
                if let Some(url) = &self.amqp_url {
                    // The probe declared a queue of its own; leave nothing behind.
                    let amqp = messenger_rabbitmq::AmqpConfig::new(url.as_str()).with_queue(queue);
                    if let Err(e) = messenger_rabbitmq::delete_topology(&amqp).await {
                        println!("could not delete test queue {}: {e}", amqp.queue);
                    }
                }
                true
            }
            Err(_) => true,
        };
        ANSWERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(HashMap::new)
            .insert(self.name, answer);
        answer
    }

    fn from_env(name: &'static str, vars: &[&str]) -> Option<Self> {
        let mut backend = Self {
            name,
            ..Self::memory()
        };
        for var in vars {
            let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
            let Some(value) = value else {
                println!("skipped: {var} not set");
                return None;
            };
            match *var {
                DATABASE_VAR => backend.database_url = Some(value),
                REDIS_VAR => backend.redis_url = Some(value),
                _ => backend.amqp_url = Some(value),
            }
        }
        Some(backend)
    }
}

/// What every test run's PostgreSQL schema is named after.
const RUN_SCHEMA_PREFIX: &str = "messenger_api_test_";

/// The PostgreSQL schema of this test run (`messenger_api_test_<start secs>_<pid>`): the
/// tests of one run share it, and no other run sees its data.
pub fn run_schema() -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("{RUN_SCHEMA_PREFIX}{secs}_{}", std::process::id())
    })
}

/// Drops the schemas of test runs that started over an hour ago. A run cannot drop its own
/// schema when it ends (the test harness has no hook for that), so each run removes what
/// earlier ones left. Problems are reported and otherwise ignored: they cost disk, not
/// correctness.
async fn drop_stale_schemas(url: &str) {
    let cutoff = SystemTime::now()
        .checked_sub(Duration::from_secs(3600))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => {
            println!("could not connect to drop stale test schemas: {e}");
            return;
        }
    };
    let driver = tokio::spawn(connection);
    let pattern = format!("{}%", RUN_SCHEMA_PREFIX.replace('_', "\\_"));
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            &[&pattern],
        )
        .await
        .unwrap_or_default();
    for row in rows {
        let name: String = row.get(0);
        let started = name
            .strip_prefix(RUN_SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if started.is_some_and(|secs| secs < cutoff) {
            // The name came from the catalogue and matched the prefix: quoting it is enough.
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            if let Err(e) = client.batch_execute(&sql).await {
                println!("could not drop stale test schema {name}: {e}");
            }
        }
    }
    drop(client);
    let _ = driver.await;
}

//! Which stores a test runs over: in memory, or the real services named by the
//! `MESSENGER_TEST_*` variables.

use messenger_api::{App, Config, Overrides, StartError};
use std::collections::HashMap;
use std::sync::Mutex;

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
        config.database_url.clone_from(&self.database_url);
        config.redis_url.clone_from(&self.redis_url);
        config.amqp_url.clone_from(&self.amqp_url);
        if self.redis_url.is_some() {
            // A key prefix of its own per service: tests running at once (and earlier runs)
            // never share sessions, budgets, cached pages or tasks.
            config.redis_key_prefix = format!("{}:", super::unique("messenger-test"));
        }
        if self.amqp_url.is_some() {
            // A queue of its own per service, consumed by that service's own worker.
            config.amqp_queue = super::unique("messenger-test-tasks");
        }
        if self.database_url.is_some() {
            // Every test starts its own service and tests run in parallel: small pools
            // keep the database's connection limit out of reach.
            config.pool_size = config.pool_size.min(4);
        }
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
        let mut config = Config {
            host: "127.0.0.1".parse().expect("an address"),
            port: 0,
            ..Config::default()
        };
        self.apply(&mut config);
        let queue = config.amqp_queue.clone();
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

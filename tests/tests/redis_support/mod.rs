//! Instances of the service over one Redis, for the Redis tests (two instances, outages).
//!
//! They are started here rather than with `spawn_app`, which gives every service a key
//! prefix of its own: instances that are to behave as one must share a prefix, and a test
//! must know it to delete its keys. Each instance runs in process on port 0 with a manual
//! clock (moved by the test) and a fast password hasher; calls are plain HTTP.

// Shared by two test binaries, each using a part of it.
#![allow(dead_code)]

use messenger_api::App;
use messenger_domain::Timestamp;
use messenger_memory::{ManualClock, PlainHasher};
use messenger_redis::testing::{unique_prefix, REDIS_VAR};
use messenger_redis::{RedisConfig, RedisStore};
use messenger_tests::helpers::backend::DATABASE_VAR;
use messenger_tests::helpers::{unique, PASSWORD};
use messenger_wiring::{Config, Overrides, SharedState, Storage};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Where the instances' stores are: one Redis and one key prefix for all of them, and a
/// shared PostgreSQL when `MESSENGER_TEST_DATABASE_URL` is set (else each instance keeps
/// its data in its own memory).
pub struct Setup {
    /// The Redis instances use (a proxy's URL in the outage tests).
    pub redis_url: String,
    /// The real Redis, for clean-up.
    real_redis_url: String,
    /// The shared PostgreSQL, when set.
    pub database_url: Option<String>,
    /// The key prefix every instance uses.
    pub prefix: String,
}

impl Setup {
    /// From the environment; `None` (after saying `test` is skipped) without Redis.
    pub fn from_env(test: &str) -> Option<Self> {
        let Some(redis_url) = std::env::var(REDIS_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
        else {
            println!("skipped: {test} needs {REDIS_VAR}");
            return None;
        };
        Some(Self {
            real_redis_url: redis_url.clone(),
            redis_url,
            database_url: std::env::var(DATABASE_VAR)
                .ok()
                .filter(|v| !v.trim().is_empty()),
            prefix: unique_prefix("messenger-test"),
        })
    }

    /// Whether the instances share their durable data.
    pub fn shared_storage(&self) -> bool {
        self.database_url.is_some()
    }

    /// An instance on these stores: the test defaults (127.0.0.1:0, throttling off,
    /// registrations practically unlimited) and then `change`.
    pub async fn spawn(&self, change: impl FnOnce(&mut Config)) -> Instance {
        let mut config = Config::default();
        config.server.host = "127.0.0.1".parse().unwrap();
        config.server.port = 0;
        config.limits.throttling = false;
        config.limits.register_limit_per_min = 1_000_000;
        if let Some(url) = &self.database_url {
            let pg = Storage::postgres(url).unwrap().pg().unwrap().clone();
            config.storage = Storage::Postgres(pg.with_pool_size(4));
        }
        let mut shared = SharedState::redis(&self.redis_url).unwrap();
        let redis = shared.redis_config_mut().unwrap();
        redis.key_prefix.clone_from(&self.prefix);
        redis.local_page_messages = config.cache.page_cache_messages;
        config.shared_state = shared;
        change(&mut config);
        let clock = Arc::new(ManualClock::new(whole_seconds_now()));
        let overrides = Overrides {
            clock: Some(clock.clone()),
            ids: None,
            hasher: Some(Arc::new(PlainHasher)),
        };
        let scheme = config.auth.scheme.clone();
        let app = App::build(config, overrides)
            .await
            .unwrap_or_else(|e| panic!("the service did not start: {e}"));
        let base = format!("http://{}", app.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Instance {
            base,
            scheme,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .no_proxy()
                .build()
                .unwrap(),
            clock,
            _shutdown: tx,
        }
    }

    /// Deletes every key under the prefix.
    pub async fn clean_up(&self) {
        let mut config = RedisConfig::new(self.real_redis_url.clone());
        config.key_prefix.clone_from(&self.prefix);
        let store = RedisStore::connect(&config).await.unwrap();
        store.delete_prefixed_keys().await.unwrap();
    }
}

fn whole_seconds_now() -> Timestamp {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let us = i64::try_from(us).unwrap();
    Timestamp::from_micros(us - us % 1_000_000)
}

/// A running instance. Dropping it shuts it down.
pub struct Instance {
    base: String,
    scheme: String,
    client: reqwest::Client,
    /// Its clock: moved by the test.
    pub clock: Arc<ManualClock>,
    _shutdown: oneshot::Sender<()>,
}

/// An answer: the status and the JSON body (`Null` when there is none).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON.
    pub body: Value,
}

impl Answer {
    /// The body's `message` (the error code).
    pub fn code(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    /// A string field of the body, asserting the status first.
    pub fn field(&self, status: u16, name: &str, what: &str) -> String {
        assert_eq!(self.status, status, "{what}: {self:?}");
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no {name}: {self:?}"))
            .to_owned()
    }
}

/// A registered account and its latest session.
#[derive(Debug, Clone)]
pub struct User {
    /// The account name.
    pub name: String,
    /// The session token.
    pub token: String,
}

impl Instance {
    /// `method path` with the session `token` (if any) and a JSON `body` (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("{} {token}", self.scheme));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `POST /v1/auth/register`.
    pub async fn register(&self, name: &str) -> Answer {
        let body = json!({ "user_name": name, "password": PASSWORD });
        self.call(Method::POST, "/v1/auth/register", None, Some(body))
            .await
    }

    /// `POST /v1/auth/login` with `password`.
    pub async fn login(&self, name: &str, password: &str) -> Answer {
        let body = json!({ "user_name": name, "password": password });
        self.call(Method::POST, "/v1/auth/login", None, Some(body))
            .await
    }

    /// A new session of `name`, asserting 201.
    pub async fn login_ok(&self, name: &str) -> String {
        self.login(name, PASSWORD)
            .await
            .field(201, "session_id", "login")
    }

    /// A new account, logged in.
    pub async fn new_user(&self) -> User {
        let name = unique("user");
        assert_eq!(self.register(&name).await.status, 201, "register");
        let token = self.login_ok(&name).await;
        User { name, token }
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self, token: &str) -> Answer {
        self.call(Method::POST, "/v1/auth/logout", Some(token), None)
            .await
    }

    /// `POST /v1/chats`.
    pub async fn create_chat(&self, token: &str, name: &str) -> Answer {
        let body = json!({ "chat_name": name });
        self.call(Method::POST, "/v1/chats", Some(token), Some(body))
            .await
    }

    /// `POST /v1/chats/{chat}/users`.
    pub async fn join(&self, token: &str, chat: &str, name: &str) -> Answer {
        let body = json!({ "user_name": name });
        let path = format!("/v1/chats/{chat}/users");
        self.call(Method::POST, &path, Some(token), Some(body))
            .await
    }

    /// A chat created and joined by `user`: `(chat_id, user_id)`.
    pub async fn chat_with_member(&self, user: &User) -> (String, String) {
        let chat = self.create_chat(&user.token, &unique("chat")).await.field(
            201,
            "chat_id",
            "create chat",
        );
        let member = self
            .join(&user.token, &chat, &user.name)
            .await
            .field(201, "user_id", "join");
        (chat, member)
    }

    /// `POST /v1/chats/{chat}/messages?user_id=…`.
    pub async fn post(&self, token: &str, chat: &str, member: &str, text: &str) -> Answer {
        let body = json!({ "message": text });
        let path = format!("/v1/chats/{chat}/messages?user_id={member}");
        self.call(Method::POST, &path, Some(token), Some(body))
            .await
    }

    /// `GET /v1/chats/{chat}/messages?limit=…[&from=…]`.
    pub async fn page(&self, token: &str, chat: &str, limit: u32, from: Option<&str>) -> Answer {
        let mut path = format!("/v1/chats/{chat}/messages?limit={limit}");
        if let Some(from) = from {
            path.push_str(&format!("&from={from}"));
        }
        self.call(Method::GET, &path, Some(token), None).await
    }

    /// The texts and the next cursor of a page, asserting 200.
    pub async fn page_ok(
        &self,
        token: &str,
        chat: &str,
        limit: u32,
        from: Option<&str>,
    ) -> (Vec<String>, String) {
        let answer = self.page(token, chat, limit, from).await;
        assert_eq!(answer.status, 200, "read a page: {answer:?}");
        let texts = answer.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        let next = answer.body["next"]["iterator"].as_str().unwrap().to_owned();
        (texts, next)
    }

    /// `POST /v1/chats/search`.
    pub async fn start_search(&self, token: &str, query: &str) -> Answer {
        let body = json!({ "message": query });
        self.call(Method::POST, "/v1/chats/search", Some(token), Some(body))
            .await
    }

    /// `GET /v1/chats/search/status/{task}`.
    pub async fn search_status(&self, token: &str, task: &str) -> Answer {
        let path = format!("/v1/chats/search/status/{task}");
        self.call(Method::GET, &path, Some(token), None).await
    }

    /// `GET /v1/chats/search/{task}/messages?limit=…`.
    pub async fn search_results(&self, token: &str, task: &str, limit: u32) -> Answer {
        let path = format!("/v1/chats/search/{task}/messages?limit={limit}");
        self.call(Method::GET, &path, Some(token), None).await
    }

    /// Polls the task's status until it is final (at most 5 s) and returns it.
    pub async fn wait_for_search(&self, token: &str, task: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let status =
                self.search_status(token, task)
                    .await
                    .field(200, "status", "search status");
            if status == "SUCCESS" || status == "FAILED" {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {task} still {status} after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

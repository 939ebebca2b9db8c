//! A stack for the process tests: the real `messenger-worker` binary spawned over
//! PostgreSQL, Redis and RabbitMQ, with a queue, a Redis key prefix and a PostgreSQL schema
//! of the test's own, and the API's use cases (in process) to seed data and queue searches.

use messenger_domain::{
    Caller, ChatName, DisplayName, IdParam, MessageText, Password, SearchQuery, TaskId, TaskStatus,
    UserName,
};
use messenger_memory::PlainHasher;
use messenger_ports::Messenger;
use messenger_rabbitmq::{
    testing::{amqp_url, dead_port, unique_config, Cleanup},
    AmqpConfig,
};
use messenger_wiring::config::{QueueVars, SharedStateVars, StorageVars};
use messenger_wiring::{Config, Overrides, RawConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The PostgreSQL schema these tests use (migrated by whichever starts first).
const SCHEMA: &str = "messenger_worker_process_test";

/// The services, or `None` after saying which variable is missing.
pub fn services(test: &str) -> Option<(String, String, String)> {
    let amqp = amqp_url(test)?;
    let var = |name: &str| {
        let v = std::env::var(name).ok().filter(|v| !v.is_empty());
        if v.is_none() {
            println!("skipped: {test} needs {name}");
        }
        v
    };
    Some((
        var("MESSENGER_TEST_DATABASE_URL")?,
        var("MESSENGER_TEST_REDIS_URL")?,
        amqp,
    ))
}

/// The CA files a stack over TLS trusts for Redis and RabbitMQ (PostgreSQL's is in its
/// URL, as libpq's `sslrootcert`).
pub struct CaFiles {
    /// `REDIS_CA_FILE`.
    pub redis: std::path::PathBuf,
    /// `AMQP_CA_FILE`.
    pub amqp: std::path::PathBuf,
}

/// One test's stack.
pub struct Stack {
    /// The queue's settings.
    pub amqp: AmqpConfig,
    /// The API side's use cases (publishing to the test's queue).
    pub api: Messenger,
    /// The account that searches.
    pub caller: Caller,
    /// The environment a worker process gets.
    pub env: BTreeMap<String, String>,
    _cleanup: Cleanup,
}

impl Stack {
    /// Seeds an account with a chat of ten messages, `hello world 0` … `hello world 9`.
    pub async fn start(services: (String, String, String)) -> Stack {
        Self::start_with(services, None).await
    }

    /// As [`Stack::start`], trusting `ca_files` for Redis and RabbitMQ (both the API's
    /// wiring and the worker processes get them, as `REDIS_CA_FILE` and `AMQP_CA_FILE`).
    pub async fn start_with(
        (pg, redis, amqp_url): (String, String, String),
        ca_files: Option<CaFiles>,
    ) -> Stack {
        let mut amqp = unique_config(&amqp_url);
        amqp.ca_file = ca_files.as_ref().map(|c| c.amqp.clone());
        let cleanup = Cleanup(amqp.clone());
        let redis_ca = ca_files.as_ref().map(|c| c.redis.display().to_string());
        let amqp_ca = ca_files.as_ref().map(|c| c.amqp.display().to_string());
        let prefix = format!("{}:", amqp.queue);
        let raw = RawConfig {
            storage: StorageVars {
                database_url: Some(pg.clone()),
                database_schema: Some(SCHEMA.into()),
                ..StorageVars::default()
            },
            shared_state: SharedStateVars {
                redis_url: Some(redis.clone()),
                redis_key_prefix: Some(prefix.clone()),
                redis_ca_file: redis_ca.clone(),
                ..SharedStateVars::default()
            },
            queue: QueueVars {
                amqp_url: Some(amqp_url.clone()),
                amqp_queue: Some(amqp.queue.clone()),
                amqp_ca_file: amqp_ca.clone(),
                ..QueueVars::default()
            },
            ..RawConfig::default()
        };
        let config = Config::from_raw(raw).unwrap();
        let overrides = Overrides {
            hasher: Some(Arc::new(PlainHasher)),
            ..Overrides::default()
        };
        let parts = messenger_wiring::wire_api(&config, overrides)
            .await
            .unwrap();
        let api = parts.messenger;
        let caller = seed(&api).await;
        let ca_env = [("REDIS_CA_FILE", redis_ca), ("AMQP_CA_FILE", amqp_ca)]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)));
        let env = [
            ("DATABASE_URL", pg),
            ("DATABASE_SCHEMA", SCHEMA.into()),
            ("REDIS_URL", redis),
            ("REDIS_KEY_PREFIX", prefix),
            ("AMQP_URL", amqp_url),
            ("AMQP_QUEUE", amqp.queue.clone()),
            ("HOST", "127.0.0.1".into()),
            ("WORKER_CONCURRENCY", "2".into()),
            ("SHUTDOWN_TIMEOUT_SECS", "2".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(ca_env)
        .collect();
        Stack {
            amqp,
            api,
            caller,
            env,
            _cleanup: cleanup,
        }
    }

    /// Queues a search (published to RabbitMQ, stored in Redis).
    pub async fn search(&self, query: &str) -> TaskId {
        self.api
            .start_search(&self.caller, SearchQuery::parse(query).unwrap())
            .await
            .unwrap()
    }

    /// The task's status as a client sees it.
    pub async fn status(&self, id: TaskId) -> TaskStatus {
        self.api.search_status(&self.caller, id).await.unwrap()
    }

    /// Polls the status until `want`, for at most `limit`; answers the last seen.
    pub async fn wait_status(&self, id: TaskId, want: TaskStatus, limit: Duration) -> TaskStatus {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let seen = self.status(id).await;
            if seen == want || tokio::time::Instant::now() >= end {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The texts of the first hits of a finished task.
    pub async fn hit_texts(&self, id: TaskId) -> Vec<String> {
        let page = self
            .api
            .search_results(
                &self.caller,
                id,
                messenger_domain::CursorParam::Start,
                messenger_domain::Limit::search_hits(10).unwrap(),
            )
            .await
            .unwrap();
        page.hits.into_iter().map(|h| h.text).collect()
    }

    /// Starts `messenger-worker` with this stack's environment, `changes` applied, and
    /// its endpoint on a free port.
    pub async fn spawn_worker(&self, changes: &[(&str, &str)]) -> WorkerProcess {
        let addr = dead_port().await.unwrap();
        let mut env = self.env.clone();
        env.insert("WORKER_METRICS_PORT".into(), addr.port().to_string());
        for (k, v) in changes {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let child = worker_command(&env, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        WorkerProcess { child, addr }
    }

    /// Runs `messenger-worker <args>` to its end.
    pub fn run_command(&self, args: &[&str]) -> Output {
        worker_command(&self.env, args).output().unwrap()
    }

    /// Runs `messenger-worker <args>` with `changes` to the environment, to its end.
    pub fn run_command_changed(&self, changes: &[(&str, &str)], args: &[&str]) -> Output {
        let mut env = self.env.clone();
        for (k, v) in changes {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        worker_command(&env, args).output().unwrap()
    }

    /// Runs `messenger-worker <args>` with the endpoint settings of `worker`.
    pub fn run_command_with(&self, worker: &WorkerProcess, args: &[&str]) -> Output {
        let mut env = self.env.clone();
        env.insert("WORKER_METRICS_PORT".into(), worker.addr.port().to_string());
        worker_command(&env, args).output().unwrap()
    }
}

fn worker_command(env: &BTreeMap<String, String>, args: &[&str]) -> Command {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("worker-process");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_messenger-worker"));
    cmd.env_clear()
        .current_dir(&dir)
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    cmd
}

async fn seed(m: &Messenger) -> Caller {
    let suffix = uuid_like();
    let name = UserName::parse(format!("worker-test-{suffix}")).unwrap();
    let pw = Password::parse("pw").unwrap();
    m.register(name.clone(), pw.clone(), "127.0.0.1")
        .await
        .unwrap();
    let token = m.login(name, pw, "127.0.0.1").await.unwrap();
    let caller = m.authenticate(token.as_str()).await.unwrap();
    let chat = m
        .create_chat(&caller, ChatName::parse("room").unwrap())
        .await
        .unwrap();
    let me = m
        .join_chat(&caller, chat, DisplayName::parse("Al").unwrap())
        .await
        .unwrap();
    for i in 0..10 {
        let text = MessageText::parse(format!("hello world {i}")).unwrap();
        m.post_message(&caller, chat, IdParam::Valid(me), text, None)
            .await
            .unwrap();
    }
    caller
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}

/// A running `messenger-worker`; killed (SIGKILL) when dropped.
pub struct WorkerProcess {
    /// The process.
    pub child: Child,
    /// Its `/metrics` and `/ping`.
    pub addr: SocketAddr,
}

impl WorkerProcess {
    /// `GET path`: the status and the body (`None` when nothing answers).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
            .await
            .ok()?
            .ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((status, body))
    }

    /// Waits until `/ping` answers 200 (the worker is subscribed and its stores answer).
    pub async fn wait_ready(&mut self) {
        for _ in 0..300 {
            if let Some((200, _)) = self.get("/ping").await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("messenger-worker exited before it was ready: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("messenger-worker was not ready within 15 s");
    }

    /// The value of the series `name` (labels included, as rendered), if present.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await?;
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(s, _)| *s == series)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// Sends SIGTERM and waits for the exit; answers whether it exited with success.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

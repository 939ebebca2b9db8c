//! What the process tests share: starting the real `messenger-api` binary over a
//! PostgreSQL schema of its own, JSON requests, and dropping the schema afterwards.

#![allow(dead_code)] // each test binary uses its own part of these helpers
#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers: failing loudly is the point

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The variable that holds the PostgreSQL URL the process tests run against.
pub const DATABASE_VAR: &str = "MESSENGER_TEST_DATABASE_URL";

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// A schema name no other run uses: `<prefix>_<seconds>_<pid>`.
pub fn fresh_schema(prefix: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{prefix}_{secs}_{}", std::process::id())
}

/// Starts the binary over PostgreSQL (schema `schema`) and waits until it serves.
pub async fn start(url: &str, schema: &str, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_messenger-api"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("DATABASE_URL", url)
        .env("DATABASE_SCHEMA", schema)
        .env("NGINX_THROTTLING", "y")
        .env("POOL_SIZE", "4")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("messenger-api starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/ping"))
            .send()
            .await
        {
            if r.status() == 200 {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("messenger-api did not serve within 30 s");
}

/// A started server that is killed (SIGKILL) and reaped when dropped, also when a test
/// fails half-way.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Starts one on a free port.
    pub async fn start(url: &str, schema: &str) -> Self {
        let port = free_port();
        let child = start(url, schema, port).await;
        Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL (std's `kill()` on Unix), then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("the killed process is reaped");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `POST url` with a JSON body (and the session token when given): status and body.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.header("Authorization", format!("session_id {t}"));
    }
    let r = req.send().await.expect("an answer");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `GET url` with the session token: status and JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let r = client
        .get(url)
        .header("Authorization", format!("session_id {token}"))
        .send()
        .await
        .expect("an answer");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Drops the schema (leave nothing behind).
pub async fn drop_schema(url: &str, schema: &str) {
    if let Ok((db, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        let driver = tokio::spawn(conn);
        let _ = db
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
        drop(db);
        let _ = driver.await;
    }
}

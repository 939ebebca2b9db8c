//! Test support for this crate's tests and those of its users (feature `testing`): the gate
//! on `MESSENGER_TEST_REDIS_URL`, a configuration under a unique key prefix, and a TCP
//! proxy in front of Redis that can refuse connections or hang them; and [`TlsRedis`], a
//! throw-away Redis that speaks TLS only.

mod tls_server;
pub use tls_server::TlsRedis;

use crate::RedisConfig;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The variable naming the Redis to test against.
pub const REDIS_VAR: &str = "MESSENGER_TEST_REDIS_URL";

/// The Redis to test against, or `None` after printing that `test` is skipped.
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("skipped: {test} needs {REDIS_VAR} (e.g. redis://127.0.0.1:6379)");
            None
        }
    }
}

/// A key prefix no other test or run uses: wall-clock nanoseconds, the process id and a
/// per-process counter.
pub fn unique_prefix(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{nanos:x}-{:x}-{n}:", std::process::id())
}

/// A configuration for `url` under a unique prefix, probing a down Redis often (tests
/// wait for it to come back).
pub fn unique_config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.key_prefix = unique_prefix("messenger-test");
    config.probe_interval = Duration::from_millis(50);
    config
}

/// A local address nobody listens on (bound for a moment, then released).
///
/// # Errors
/// When no port can be bound.
pub fn dead_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards to Redis.
    Pass,
    /// Not listening: connections are refused, open ones are closed.
    Refuse,
    /// Accepts and never answers; open connections stop answering too (a hung Redis).
    Blackhole,
}

/// A TCP proxy on 127.0.0.1 in front of Redis. Stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy to the Redis of `url` (`redis://[…@]host[:port][/db]`), passing traffic.
    ///
    /// # Errors
    /// When Redis's address does not resolve or no port can be bound.
    pub async fn start(url: &str) -> std::io::Result<Self> {
        let upstream = upstream_addr(url).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, rx) = watch::channel(Mode::Pass);
        let task = tokio::spawn(accept_loop(listener, addr, upstream, rx));
        Ok(Self { addr, mode, task })
    }

    /// The URL to give the adapter (no credentials: pass them in the configuration).
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Switches what the proxy does; open connections are cut or hung accordingly.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn upstream_addr(url: &str) -> std::io::Result<SocketAddr> {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.rsplit('@').next().unwrap_or(rest);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    tokio::net::lookup_host(host_port)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("Redis's host has no address"))
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut rx: watch::Receiver<Mode>,
) {
    let mut listener = Some(listener);
    loop {
        let mode = *rx.borrow_and_update();
        if mode == Mode::Refuse {
            // Closing the socket makes the port refuse connections until it is bound again.
            listener = None;
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((socket, _)) = accepted {
                    tokio::spawn(serve(socket, upstream, rx.clone()));
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, mut rx: watch::Receiver<Mode>) {
    let mode = *rx.borrow_and_update();
    match mode {
        Mode::Refuse => {}
        // Held open, never read, never answered, until the mode changes.
        Mode::Blackhole => {
            let _ = rx.changed().await;
        }
        Mode::Pass => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                changed = rx.changed() => {
                    // Hung: both ends stay open and silent until the next change.
                    let now = *rx.borrow_and_update();
                    if changed.is_ok() && now == Mode::Blackhole {
                        let _ = rx.changed().await;
                    }
                }
            }
        }
    }
}

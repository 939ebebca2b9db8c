//! What the tests share: the gate on `MESSENGER_TEST_REDIS_URL`, a unique key prefix per
//! test, real-time travel, and a TCP proxy that can cut or hang the way to Redis.

use messenger_domain::Timestamp;
use messenger_ports::testing::{unique_name, TimeTravel};
use messenger_ports::Clock;
use messenger_redis::{RedisConfig, RedisStore};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The Redis to test against, or `None` (after printing why the test is skipped).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("MESSENGER_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!(
                "skipped: {test} needs MESSENGER_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)"
            );
            None
        }
    }
}

/// A configuration for `url` under a prefix no other test or run uses.
pub fn config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.key_prefix = format!("{}:", unique_name("messenger-test-"));
    config.probe_interval = Duration::from_millis(50);
    config
}

/// A store for `config` (connected, or at least trying).
pub async fn store(config: &RedisConfig) -> RedisStore {
    RedisStore::connect(config)
        .await
        .expect("a usable configuration")
}

/// Time passes for real: Redis keeps time itself.
pub fn real_time() -> TimeTravel {
    TimeTravel::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Deletes the test's keys (every key under its prefix).
pub async fn clean_up(store: &RedisStore) {
    store
        .delete_prefixed_keys()
        .await
        .expect("deleting the test's keys");
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

/// A TCP proxy on 127.0.0.1 in front of Redis.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy to the Redis of `url` (`redis://host:port`), passing traffic.
    pub async fn start(url: &str) -> Self {
        let upstream = upstream_addr(url).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("the proxy's address");
        let (mode, rx) = watch::channel(Mode::Pass);
        let task = tokio::spawn(accept_loop(listener, addr, upstream, rx));
        Self { addr, mode, task }
    }

    /// The URL to give the adapter.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Switches what the proxy does (open connections are cut or hung accordingly).
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn upstream_addr(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host_port = rest.rsplit('@').next().unwrap_or(rest);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    tokio::net::lookup_host(host_port)
        .await
        .expect("resolve Redis")
        .next()
        .expect("an address for Redis")
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
                    // Hung: keep both ends open and silent until the next change.
                    let now = *rx.borrow_and_update();
                    if changed.is_ok() && now == Mode::Blackhole {
                        let _ = rx.changed().await;
                    }
                }
            }
        }
    }
}

/// The wall clock (what production uses).
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        let us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        Timestamp::from_micros(i64::try_from(us).unwrap())
    }
}

/// The wall clock, shared.
pub fn wall_clock() -> Arc<dyn Clock> {
    Arc::new(WallClock)
}

/// A clock that moves only when told (instant time travel for clock-driven rules).
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starting at the wall clock's now.
    pub fn starting_now() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(WallClock.now().as_micros())))
    }

    /// Moves it forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = i64::try_from(d.as_micros()).unwrap();
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

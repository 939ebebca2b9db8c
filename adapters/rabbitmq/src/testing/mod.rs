//! Test support (feature `testing`): the gate on `MESSENGER_TEST_AMQP_URL`, unique queue
//! names cleaned up afterwards, and a TCP proxy in front of the broker that can blackhole
//! or cut connections (a partition, a killed process), for this crate's tests and those of
//! the crates that use it; and [`TlsBroker`], a throw-away node that speaks TLS only.

mod tls_broker;
pub use tls_broker::TlsBroker;

use crate::{delete_topology, AmqpConfig};
use std::{
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// The broker URL, or `None` after printing why the test is skipped.
pub fn amqp_url(test: &str) -> Option<String> {
    match std::env::var("MESSENGER_TEST_AMQP_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: {test} needs MESSENGER_TEST_AMQP_URL (a RabbitMQ to test against)");
            None
        }
    }
}

/// Settings on a queue name no other run uses, with quick reconnects for tests.
pub fn unique_config(url: &str) -> AmqpConfig {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut cfg = AmqpConfig::new(url)
        .with_queue(format!("messenger.test.{}.{nanos}.{n}", std::process::id()));
    cfg.reconnect_min = Duration::from_millis(20);
    cfg.reconnect_max = Duration::from_millis(200);
    cfg.retry_pause = Duration::from_millis(5);
    cfg.prefetch = 4;
    cfg
}

/// Deletes the test's queues when dropped, also when the test fails half-way.
pub struct Cleanup(
    /// The settings naming the queues.
    pub AmqpConfig,
);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let cfg = self.0.clone();
        // A fresh runtime on its own thread: this may run inside a test's runtime.
        let done = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(delete_topology(&cfg)))
        })
        .join();
        if !matches!(done, Ok(Ok(Ok(())))) {
            eprintln!("could not delete the test queue {}", self.0.queue);
        }
    }
}

/// The same settings with the URL's host and port replaced by `addr` (a proxy, a dead
/// port).
pub fn via(cfg: &AmqpConfig, addr: SocketAddr) -> AmqpConfig {
    let mut out = cfg.clone();
    let url = &cfg.url;
    // amqp://[userinfo@]host:port/vhost — swap the authority's host:port.
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let path_start = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..path_start];
    let userinfo = authority
        .rfind('@')
        .map(|i| &authority[..=i])
        .unwrap_or_default();
    out.url = format!(
        "{}{userinfo}{addr}{}",
        &url[..scheme_end],
        &rest[path_start..]
    );
    out
}

/// The broker's address from its URL.
pub fn broker_addr(cfg: &AmqpConfig) -> String {
    let url = &cfg.url;
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5672")
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
///
/// # Errors
/// When no port can be bound.
pub async fn dead_port() -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    l.local_addr()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Forward,
    Blackhole,
}

/// A TCP proxy in front of the broker. `blackhole` stops moving bytes (connections stay
/// open and silent, as in a network partition); `forward` resumes; `cut` closes every
/// connection at once, as when a process is killed.
pub struct Proxy {
    /// Where to connect to reach the broker through the proxy.
    pub addr: SocketAddr,
    flow: watch::Sender<Flow>,
    cuts: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(upstream: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let flow = watch::Sender::new(Flow::Forward);
        let cuts = watch::Sender::new(0u64);
        let (flow_tx, cuts_tx) = (flow.clone(), cuts.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                tokio::spawn(pump(ir, ow, flow_tx.subscribe(), cuts_tx.subscribe()));
                tokio::spawn(pump(or, iw, flow_tx.subscribe(), cuts_tx.subscribe()));
            }
        });
        Ok(Self {
            addr,
            flow,
            cuts,
            accept,
        })
    }

    /// Stops moving bytes; connections stay open and silent.
    pub fn blackhole(&self) {
        self.flow.send_replace(Flow::Blackhole);
    }

    /// Moves bytes again (what was held back flows on).
    pub fn forward(&self) {
        self.flow.send_replace(Flow::Forward);
    }

    /// Closes every connection made so far.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<Flow>,
    mut cuts: watch::Receiver<u64>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // While blackholed, read nothing: the bytes wait in the kernel's buffers.
        tokio::select! {
            r = flow.wait_for(|f| *f == Flow::Forward) => if r.is_err() { return },
            _ = cuts.changed() => return,
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = cuts.changed() => return,
            _ = flow.wait_for(|f| *f == Flow::Blackhole) => continue,
        };
        // Bytes read just before a blackhole are held back too.
        tokio::select! {
            r = flow.wait_for(|f| *f == Flow::Forward) => if r.is_err() { return },
            _ = cuts.changed() => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Runs `f` until it answers `Some`, for at most `limit`, pausing briefly between tries.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

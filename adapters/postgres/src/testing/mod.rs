//! Test support for this crate's tests and those of its users (feature `testing`): a TCP
//! proxy on 127.0.0.1 between a client and PostgreSQL that can cut connections, hang them
//! (a database that accepts and never answers) or slow every answer down; and
//! [`TlsCluster`], a throw-away PostgreSQL that speaks TLS only.

mod tls_cluster;
pub use tls_cluster::TlsCluster;

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward both ways.
    Pass,
    /// Close every connection, and new ones at once.
    Cut,
    /// Hold every connection open and forward nothing.
    Blackhole,
    /// Forward, holding each piece the database sends back for this long first (a slow
    /// database: every round trip takes at least this).
    Delay(Duration),
}

/// A TCP proxy on 127.0.0.1 in front of a database. Stops, cutting its connections,
/// when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `upstream`.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(ProxyMode::Pass);
        let tx = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, upstream, tx.subscribe()));
            }
        });
        Ok(Self { addr, mode, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches what it does; open connections follow at once.
    pub fn set(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.mode.send_replace(ProxyMode::Cut);
    }
}

/// One proxied connection: forwards while `Pass` (slowly while `Delay`); closes on `Cut`;
/// on `Blackhole` holds the sockets silently until the mode changes, then closes.
async fn serve(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<ProxyMode>) {
    let current = *mode.borrow_and_update();
    match current {
        ProxyMode::Cut => return,
        ProxyMode::Blackhole => {
            let _ = mode.changed().await;
            return;
        }
        ProxyMode::Pass | ProxyMode::Delay(_) => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut a = vec![0u8; 16 * 1024];
    let mut b = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            r = cr.read(&mut a) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if sw.write_all(&a[..n]).await.is_err() { return },
            },
            r = sr.read(&mut b) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let current = *mode.borrow();
                    if let ProxyMode::Delay(d) = current {
                        tokio::time::sleep(d).await;
                    }
                    if cw.write_all(&b[..n]).await.is_err() { return }
                }
            },
            changed = mode.changed() => {
                let now = *mode.borrow_and_update();
                if changed.is_err() || now == ProxyMode::Cut {
                    return;
                }
                if now == ProxyMode::Blackhole {
                    let _ = mode.changed().await;
                    return;
                }
            }
        }
    }
}

/// The socket address of the database a `postgres://` URL names (TCP hosts only;
/// `localhost` is 127.0.0.1).
///
/// # Errors
/// When the URL does not parse or names no TCP address.
pub fn upstream_addr(url: &str) -> Result<SocketAddr, String> {
    use tokio_postgres::config::Host;
    let pg: tokio_postgres::Config = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let host = match pg.get_hosts().first() {
        Some(Host::Tcp(h)) if h != "localhost" => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("{url}: no TCP address: {e}"))
}

/// `url` with its host and port replaced by `addr` (user, password, database and
/// parameters kept).
///
/// # Errors
/// When the URL is not a `postgres://` or `postgresql://` URL.
pub fn url_via(url: &str, addr: SocketAddr) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url}: not a URL"))?;
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((u, r)) => (format!("{u}@"), r),
        None => (String::new(), rest),
    };
    let tail = rest.find(['/', '?']).map_or("", |i| &rest[i..]);
    Ok(format!("{scheme}://{userinfo}{addr}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_pointed_at_another_address() {
        let addr: SocketAddr = "127.0.0.1:7777".parse().unwrap_or_else(|_| unreachable!());
        let via = |u: &str| url_via(u, addr).unwrap_or_default();
        assert_eq!(
            via("postgres://root@127.0.0.1:5432/test"),
            "postgres://root@127.0.0.1:7777/test"
        );
        assert_eq!(
            via("postgresql://u:p@db/x?sslmode=disable"),
            "postgresql://u:p@127.0.0.1:7777/x?sslmode=disable"
        );
        assert_eq!(via("postgres://localhost"), "postgres://127.0.0.1:7777");
        assert_eq!(
            upstream_addr("postgres://root@localhost/test").ok(),
            "127.0.0.1:5432".parse().ok()
        );
    }
}

//! The health-check subcommands of both binaries (`messenger-api healthcheck`,
//! `messenger-worker healthcheck`): one `GET /ping` to the process's own port, for a
//! container's health check (no curl in the image). Plain HTTP/1.1 over a TCP socket: the
//! answer's status line is all it needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why the process is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// No connection, or no answer in time.
    #[error("{addr}: {reason}")]
    Unreachable {
        /// Where it looked.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// An answer other than 200.
    #[error("{addr}: GET /ping answered {status_line:?}")]
    Unhealthy {
        /// Where it looked.
        addr: SocketAddr,
        /// The answer's status line.
        status_line: String,
    },
}

/// Asks `GET /ping` of the server listening on `addr` (one listening on every address is
/// reached on loopback) for a 200 within `timeout`.
///
/// # Errors
/// [`HealthError`] when it does not answer 200.
pub async fn ping(addr: SocketAddr, timeout: Duration) -> Result<(), HealthError> {
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(host, addr.port());
    let unreachable = |reason: String| HealthError::Unreachable { addr, reason };
    let status_line = tokio::time::timeout(timeout, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        Ok::<_, std::io::Error>(line.lines().next().unwrap_or_default().to_owned())
    })
    .await
    .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
    .map_err(|e| unreachable(e.to_string()))?;
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthError::Unhealthy { addr, status_line })
    }
}

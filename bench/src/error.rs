//! The one error type of the tool.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything that can go wrong while setting up or measuring.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The base URL is not an `http://` URL of this machine.
    #[error("target {url:?} refused: {reason}")]
    Target {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The TCP connection could not be opened.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// Where to.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection reset, protocol error...).
    #[error("HTTP exchange failed: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a bad header value or path).
    #[error("building a request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The server closed the connection before answering.
    #[error("connection closed by the server")]
    Closed,
    /// No complete answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with another status than the call expects.
    #[error("{what}: expected HTTP {expected}, got {status} {body}")]
    Status {
        /// The call that was made.
        what: &'static str,
        /// The status it should answer.
        expected: u16,
        /// The status it did answer.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer's body is not the JSON the contract describes.
    #[error("{what}: unexpected answer body: {source}")]
    Json {
        /// The call that was made.
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A search task ended as `FAILED` or answered an unknown status.
    #[error("search task ended with status {0}")]
    Task(String),
    /// A search task did not finish within its deadline.
    #[error("search task not finished within {0:?}")]
    TaskDeadline(Duration),
    /// `/proc/<pid>/status` could not be read or has no `VmRSS` line.
    #[error("reading the RSS of process {pid}: {reason}")]
    Rss {
        /// The process.
        pid: u32,
        /// What went wrong.
        reason: String,
    },
    /// The server did not answer `GET /ping` in time at start.
    #[error("{0} did not answer GET /ping with 200 within {1:?}")]
    NotReady(String, Duration),
    /// Computing the reference argon2 hash failed.
    #[error("argon2: {0}")]
    Argon2(String),
    /// A load task panicked or was cancelled.
    #[error("load task: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Local I/O (binding a probe socket, building the runtime).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// An option is out of its range.
    #[error("bad option: {0}")]
    Option(String),
}

impl BenchError {
    /// Whether the connection must be dropped and opened anew after this error.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Http(_) | Self::Closed | Self::Timeout(_)
        )
    }
}

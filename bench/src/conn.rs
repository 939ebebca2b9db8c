//! One keep-alive HTTP/1.1 connection, opened and reopened by its owner.
//!
//! Each load worker owns exactly one [`Conn`] (hyper's per-connection
//! `client::conn::http1` API rather than a pooled client), so "32
//! connections" means exactly 32 TCP connections to the server.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::BenchError;
use crate::target::Target;

/// A status and a fully read body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, read to its end.
    pub body: Bytes,
}

impl Answer {
    /// The body when the status is `expected`, else [`BenchError::Status`].
    ///
    /// # Errors
    /// [`BenchError::Status`] naming `what` and the start of the body.
    pub fn expect(self, what: &'static str, expected: StatusCode) -> Result<Bytes, BenchError> {
        if self.status == expected {
            return Ok(self.body);
        }
        let shown = &self.body[..self.body.len().min(200)];
        Err(BenchError::Status {
            what,
            expected: expected.as_u16(),
            status: self.status.as_u16(),
            body: String::from_utf8_lossy(shown).into_owned(),
        })
    }
}

type Io = TokioIo<TcpStream>;

/// The two halves hyper hands out for one connection: the request sender
/// and the future that performs the I/O.
struct Open {
    sender: SendRequest<Full<Bytes>>,
    connection: Pin<Box<http1::Connection<Io, Full<Bytes>>>>,
}

/// One connection to the target, reopened lazily after a failure.
///
/// The connection's I/O future is polled by the worker's own task, beside
/// the request, rather than spawned: one task per connection means no
/// cross-task wake-up per request, which keeps the load generator's share
/// of the CPU it shares with the server small.
pub struct Conn {
    target: Arc<Target>,
    timeout: Duration,
    open: Option<Open>,
}

impl Conn {
    /// A connection that opens on first use; every exchange must finish
    /// within `timeout`.
    pub fn new(target: Arc<Target>, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            open: None,
        }
    }

    /// Opens the TCP connection now (so that opening it is not measured).
    ///
    /// # Errors
    /// [`BenchError::Connect`] or [`BenchError::Http`] when the handshake fails.
    pub async fn open(&mut self) -> Result<(), BenchError> {
        if self.open.is_none() {
            self.open = Some(self.connect().await?);
        }
        Ok(())
    }

    async fn connect(&self) -> Result<Open, BenchError> {
        let addr = self.target.addr;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| BenchError::Connect { addr, source })?;
        // Small requests and answers: waiting for Nagle would add latency
        // that is the client's, not the server's.
        stream
            .set_nodelay(true)
            .map_err(|source| BenchError::Connect { addr, source })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        Ok(Open {
            sender,
            connection: Box::pin(connection),
        })
    }

    /// Sends one request and reads the whole answer, within the timeout.
    /// After a transport error or a timeout the connection is dropped and the
    /// next call opens a new one.
    ///
    /// # Errors
    /// [`BenchError::Connect`], [`BenchError::Http`], [`BenchError::Closed`]
    /// or [`BenchError::Timeout`].
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, BenchError> {
        let timeout = self.timeout;
        let outcome = match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(BenchError::Timeout(timeout)),
        };
        if outcome.as_ref().is_err_and(BenchError::breaks_connection) {
            self.open = None;
        }
        outcome
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, BenchError> {
        if self.open.is_none() {
            self.open = Some(self.connect().await?);
        }
        let Some(Open { sender, connection }) = self.open.as_mut() else {
            return Err(BenchError::Closed);
        };
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, BenchError>(Answer { status, body })
        };
        // The connection future only returns when the connection ends; until
        // then it moves the bytes the exchange waits for.
        tokio::select! {
            biased;
            answer = exchange => answer,
            ended = connection.as_mut() => Err(ended.err().map_or(BenchError::Closed, BenchError::Http)),
        }
    }

    /// Builds a request for `path` on this connection's target, with an
    /// optional `Authorization` value and an optional JSON body.
    ///
    /// # Errors
    /// [`BenchError::Request`] when `path` is not a valid request target.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, BenchError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.target.host.clone());
        if let Some(auth) = auth {
            builder = builder.header(header::AUTHORIZATION, auth.clone());
        }
        let body = match json {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                json
            }
            None => Bytes::new(),
        };
        Ok(builder.body(Full::new(body))?)
    }
}

//! One keep-alive HTTP/1.1 connection, opened and reopened by its owner.
//!
//! Each load worker owns exactly one [`Conn`] (hyper's per-connection
//! `client::conn::http1` API rather than a pooled client), so "32
//! connections" means exactly 32 TCP connections to the server.

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

/// One connection to the target, reopened lazily after a failure.
pub struct Conn {
    target: Arc<Target>,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// A connection that opens on first use; every exchange must finish
    /// within `timeout`.
    pub fn new(target: Arc<Target>, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            sender: None,
        }
    }

    /// Opens the TCP connection now (so that opening it is not measured).
    ///
    /// # Errors
    /// [`BenchError::Connect`] or [`BenchError::Http`] when the handshake fails.
    pub async fn open(&mut self) -> Result<(), BenchError> {
        self.sender_ready().await.map(|_| ())
    }

    async fn sender_ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, BenchError> {
        if self.sender.as_ref().is_some_and(SendRequest::is_closed) {
            self.sender = None;
        }
        let sender = match self.sender.take() {
            Some(sender) => sender,
            None => {
                let addr = self.target.addr;
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(|source| BenchError::Connect { addr, source })?;
                // Small requests and answers: waiting for Nagle would add
                // latency that is the client's, not the server's.
                stream
                    .set_nodelay(true)
                    .map_err(|source| BenchError::Connect { addr, source })?;
                let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
                // The connection task ends when the server closes or the
                // sender is dropped; its error also surfaces on the next send.
                tokio::spawn(async move {
                    let _ended = connection.await;
                });
                sender
            }
        };
        Ok(self.sender.insert(sender))
    }

    /// Sends one request and reads the whole answer, within the timeout.
    /// After a transport error or a timeout the connection is dropped and the
    /// next call opens a new one.
    ///
    /// # Errors
    /// [`BenchError::Connect`], [`BenchError::Http`] or [`BenchError::Timeout`].
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, BenchError> {
        let timeout = self.timeout;
        let exchange = async {
            let sender = self.sender_ready().await?;
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, BenchError>(Answer { status, body })
        };
        let outcome = match tokio::time::timeout(timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(BenchError::Timeout(timeout)),
        };
        if outcome.as_ref().is_err_and(BenchError::breaks_connection) {
            self.sender = None;
        }
        outcome
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

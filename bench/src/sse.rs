//! One event stream (`GET /v1/events/stream`) over a connection of its own, and the
//! splitting of its body into Server-Sent Events frames.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::error::BenchError;
use crate::target::Target;

/// Where a stream starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// `?after=<position>` (a position from the chat list).
    After(&'a str),
    /// `Last-Event-ID: <id>` (resuming after the last frame seen).
    LastEventId(&'a str),
}

/// An open stream: its body, read chunk by chunk. The connection closes when it is
/// dropped.
pub struct EventStream {
    body: Incoming,
    driver: JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl EventStream {
    /// Opens a stream on a new connection; 200 within `timeout` or an error.
    ///
    /// # Errors
    /// Transport errors, [`BenchError::Timeout`], or [`BenchError::Status`] (e.g. 429
    /// when the server's `STREAMS_PER_ACCOUNT` is reached).
    pub async fn open(
        target: &Target,
        auth: &HeaderValue,
        start: Start<'_>,
        timeout: Duration,
    ) -> Result<Self, BenchError> {
        match tokio::time::timeout(timeout, Self::open_now(target, auth, start)).await {
            Ok(opened) => opened,
            Err(_elapsed) => Err(BenchError::Timeout(timeout)),
        }
    }

    async fn open_now(
        target: &Target,
        auth: &HeaderValue,
        start: Start<'_>,
    ) -> Result<Self, BenchError> {
        let addr = target.addr;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| BenchError::Connect { addr, source })?;
        tcp.set_nodelay(true)
            .map_err(|source| BenchError::Connect { addr, source })?;
        let (mut sender, connection) =
            http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)).await?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut builder = Request::builder()
            .method(Method::GET)
            .header(header::HOST, target.host.clone())
            .header(header::AUTHORIZATION, auth.clone())
            .header(header::ACCEPT, "text/event-stream");
        builder = match start {
            // Positions are hex: nothing to escape.
            Start::After(position) => builder.uri(format!("/v1/events/stream?after={position}")),
            Start::LastEventId(id) => builder.uri("/v1/events/stream").header("Last-Event-ID", id),
        };
        let request = builder.body(Full::new(Bytes::new()))?;
        let response = sender.send_request(request).await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return Err(e.into());
            }
        };
        let status = response.status();
        if status != StatusCode::OK {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            driver.abort();
            let shown = &body[..body.len().min(200)];
            return Err(BenchError::Status {
                what: "open event stream",
                expected: 200,
                status: status.as_u16(),
                body: String::from_utf8_lossy(shown).into_owned(),
            });
        }
        Ok(Self {
            body: response.into_body(),
            driver,
        })
    }

    /// The next chunk of the body; `None` when the server ended the stream.
    ///
    /// # Errors
    /// [`BenchError::Http`] when the connection broke.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, BenchError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

/// One event frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id:` (the position).
    pub id: String,
    /// `event:` (the type).
    pub kind: String,
    /// `data:` lines, joined with `\n`.
    pub data: String,
}

/// Bytes of a stream not yet split into frames.
#[derive(Debug, Default)]
pub struct Frames {
    pending: Vec<u8>,
    /// `retry:` lines seen.
    pub retries: u64,
}

impl Frames {
    /// Appends a chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
    }

    /// The next complete event frame; comments (keep-alives) and `retry:` frames are
    /// consumed on the way.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let end = self.pending.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let (mut id, mut kind, mut data) = (None, None, None::<String>);
            for line in text.lines() {
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => id = Some(value.to_owned()),
                    "event" => kind = Some(value.to_owned()),
                    "data" => match &mut data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(value);
                        }
                        None => data = Some(value.to_owned()),
                    },
                    "retry" => self.retries += 1,
                    _ => {}
                }
            }
            if let (Some(id), Some(kind)) = (id, kind) {
                return Some(Event {
                    id,
                    kind,
                    data: data.unwrap_or_default(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_come_out_whole() {
        let mut frames = Frames::default();
        frames.push(b"retry: 2000\n\n: keep-alive\n\nid: 0a\nevent: message.cre");
        assert_eq!(frames.next_event(), None);
        assert_eq!(frames.retries, 1);
        frames.push(b"ated\ndata: {\"a\":1}\n\nid: 0b\nevent: reset\ndata: {}\n\n");
        assert_eq!(
            frames.next_event(),
            Some(Event {
                id: "0a".into(),
                kind: "message.created".into(),
                data: "{\"a\":1}".into()
            })
        );
        assert_eq!(frames.next_event().map(|e| e.kind), Some("reset".into()));
        assert_eq!(frames.next_event(), None);
    }

    #[test]
    fn data_lines_are_joined() {
        let mut frames = Frames::default();
        frames.push(b"id:1\nevent:x\ndata:a\ndata:b\n\n");
        assert_eq!(frames.next_event().map(|e| e.data), Some("a\nb".into()));
    }
}

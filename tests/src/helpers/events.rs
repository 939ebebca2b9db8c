//! Live updates as a client sees them: the long poll (`GET /v1/events`) and the event
//! stream (`GET /v1/events/stream`, read frame by frame from the streaming body).

use super::{encode_query_value, is_lower_hex_32, Auth, Reply, TestApp};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One event as both routes give it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireEvent {
    /// Its position.
    pub id: String,
    /// Its type (`message.created`, …, `reset`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its data object.
    pub data: Value,
}

/// An answer of the long poll.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventsAnswer {
    /// The events, in log order.
    pub events: Vec<WireEvent>,
    /// Where to continue.
    pub next: super::Next,
}

impl TestApp {
    /// `GET /v1/events?<query>`, the query sent verbatim.
    pub async fn poll_events_query(&self, auth: impl Into<Auth>, query: &str) -> Reply {
        let path = format!("/v1/events?{query}");
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// One long poll after `after`, asserting 200 and the answer's shape.
    pub async fn poll_events_ok(
        &self,
        auth: impl Into<Auth>,
        after: &str,
        limit: u32,
        timeout_secs: u32,
    ) -> EventsAnswer {
        let query = format!(
            "after={}&limit={limit}&timeout={timeout_secs}",
            encode_query_value(after)
        );
        let reply = self.poll_events_query(auth, &query).await;
        reply.assert_status(200, "poll events");
        let answer: EventsAnswer = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not an events page ({e}): {reply}"));
        assert!(
            is_lower_hex_32(&answer.next.iterator),
            "poll events: next.iterator is not 32 lowercase hex: {reply}"
        );
        for e in &answer.events {
            assert!(is_lower_hex_32(&e.id), "an event id: {reply}");
            assert!(e.data.is_object(), "an event's data is an object: {reply}");
        }
        answer
    }

    /// Every event after `after` until `done` says the collected ones are enough, polling
    /// with a 1 s timeout, for at most `within`; returns them and the position after them.
    pub async fn events_until(
        &self,
        auth: impl Into<Auth>,
        after: &str,
        within: Duration,
        done: impl Fn(&[WireEvent]) -> bool,
    ) -> (Vec<WireEvent>, String) {
        let auth = auth.into();
        let began = Instant::now();
        let mut all = Vec::new();
        let mut next = after.to_owned();
        loop {
            let page = self.poll_events_ok(&auth, &next, 1000, 1).await;
            all.extend(page.events);
            next = page.next.iterator;
            if done(&all) || began.elapsed() > within {
                return (all, next);
            }
        }
    }

    /// Opens `GET /v1/events/stream` (with `?after=` and/or `Last-Event-ID` when given).
    pub async fn open_stream(
        &self,
        auth: impl Into<Auth>,
        after: Option<&str>,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut path = "/v1/events/stream".to_owned();
        if let Some(after) = after {
            path.push_str(&format!("?after={}", encode_query_value(after)));
        }
        let mut request = self
            .client
            .request(Method::GET, format!("{}{path}", self.base_url));
        if let Some((name, value)) = self.auth_header_for(&auth.into()) {
            request = request.header(name, value);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("opening the stream failed: {e}"))
    }

    /// Opens a stream, asserting 200 and `text/event-stream`.
    pub async fn stream_ok(
        &self,
        auth: impl Into<Auth>,
        after: Option<&str>,
        last_event_id: Option<&str>,
    ) -> SseReader {
        let response = self.open_stream(auth, after, last_event_id).await;
        assert_eq!(response.status().as_u16(), 200, "opening the stream");
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "the stream's content type: {content_type}"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }
}

/// A frame of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `retry: <ms>`.
    Retry(u64),
    /// An event frame.
    Event(WireEvent),
}

/// What a stream gave within a wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// A frame.
    Frame(Frame),
    /// Nothing within the wait.
    Idle,
    /// The server ended the stream.
    Ended,
}

/// Reads a stream's frames (comments, the keep-alives, are skipped).
#[derive(Debug)]
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// The next frame within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(frame) = self.take_frame() {
                return Read::Frame(frame);
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Read::Idle,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return Read::Ended,
            }
        }
    }

    /// The next event frame within `wait` (skipping `retry:`), panicking otherwise.
    pub async fn event(&mut self, wait: Duration) -> WireEvent {
        loop {
            match self.next(wait).await {
                Read::Frame(Frame::Event(e)) => return e,
                Read::Frame(Frame::Retry(_)) => continue,
                other => panic!("expected an event within {wait:?}, got {other:?}"),
            }
        }
    }

    /// Event frames until `n` have come, each within `wait`.
    pub async fn events(&mut self, n: usize, wait: Duration) -> Vec<WireEvent> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(self.event(wait).await);
        }
        out
    }

    /// Whether the stream stays without events for `wait` (keep-alives and `retry:` do
    /// not count); panics when it ends.
    pub async fn quiet_for(&mut self, wait: Duration) -> Option<WireEvent> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Read::Idle => return None,
                Read::Frame(Frame::Retry(_)) => continue,
                Read::Frame(Frame::Event(e)) => return Some(e),
                Read::Ended => panic!("the stream ended"),
            }
        }
    }

    fn take_frame(&mut self) -> Option<Frame> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut kind = None;
            let mut data = String::new();
            let mut retry = None;
            for line in block.lines() {
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => id = Some(value.to_owned()),
                    "event" => kind = Some(value.to_owned()),
                    "data" => {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(value);
                    }
                    "retry" => retry = value.parse().ok(),
                    _ => {}
                }
            }
            if let Some(ms) = retry {
                return Some(Frame::Retry(ms));
            }
            if let (Some(id), Some(kind)) = (id, kind) {
                let data = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("a frame's data is not JSON ({e}): {block:?}"));
                return Some(Frame::Event(WireEvent { id, kind, data }));
            }
            // A comment (keep-alive): read on.
        }
    }
}

//! Live updates: the event stream (Server-Sent Events) and the long poll, both reading the
//! durable event log after a position (API.md, "Live updates").

use super::{
    event_data::{self, RESET},
    messages::cursor_param,
    streams::{self, Frame, StreamSlots},
    ApiTags, Next,
};
use crate::http::{answers::api_response, security::Session};
use messenger_domain::{Error, Limit, UncheckedCursor};
use messenger_ports::{EventsPage, Messenger};
use poem::{IntoResponse, Response};
use poem_openapi::{
    param::{Header, Query},
    payload::{Json, Payload},
    registry::{MetaSchemaRef, Registry},
    types::Type,
    Object, OpenApi,
};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Keep-alive comments on an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The longest long poll.
const MAX_POLL_SECS: u64 = 30;

/// The live-update routes.
pub struct EventsApi {
    messenger: Messenger,
    slots: Arc<StreamSlots>,
    closing: watch::Receiver<bool>,
}

impl EventsApi {
    /// Over these use cases, with at most `streams_per_account` open streams per account;
    /// every stream ends once `closing` turns true (the service is shutting down).
    pub fn new(
        messenger: Messenger,
        streams_per_account: u32,
        closing: watch::Receiver<bool>,
    ) -> Self {
        Self {
            messenger,
            slots: StreamSlots::new(streams_per_account),
            closing,
        }
    }
}

/// One event.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "Event")]
pub struct EventSchema {
    /// Its position (pass it as `after`, or `Last-Event-ID`, to continue after it).
    pub id: String,
    /// `message.created`, `member.joined`, `member.left`, `chat.created`, `chat.renamed`,
    /// `read.updated` or `reset`; clients ignore types they do not know.
    #[oai(rename = "type")]
    pub kind: String,
    /// The event's data (API.md, "Live updates").
    pub data: Data,
}

/// An event's `data` object.
pub type Data = std::collections::BTreeMap<String, serde_json::Value>;

/// `value`'s fields (every event's data is an object).
fn object(value: serde_json::Value) -> Data {
    match value {
        serde_json::Value::Object(fields) => fields.into_iter().collect(),
        _ => Data::new(),
    }
}

/// A long poll's answer.
#[derive(Object)]
#[oai(rename = "EventsPage")]
pub struct EventsPageSchema {
    /// The events, in log order (a `reset` first when the position was too old).
    pub events: Vec<EventSchema>,
    /// Where to continue: pass it as the next `after`.
    pub next: Next,
}

impl From<EventsPage> for EventsPageSchema {
    fn from(page: EventsPage) -> Self {
        let mut events = Vec::with_capacity(page.events.len() + 1);
        if page.reset {
            events.push(EventSchema {
                id: page.next.encode(),
                kind: RESET.to_owned(),
                data: object(event_data::reset_data()),
            });
        }
        events.extend(page.events.iter().map(|e| {
            let (id, kind, data) = event_data::wire(e);
            EventSchema {
                id,
                kind: kind.to_owned(),
                data: object(data),
            }
        }));
        Self {
            events,
            next: Next {
                iterator: page.next.encode(),
            },
        }
    }
}

api_response! {
    /// Answers of `GET /v1/events/stream`.
    pub enum StreamResponse {
        /// The stream: `id`, `event` and `data` lines per event (data as the long poll's
        /// `Event.data`), a keep-alive comment every 15 s, `retry:` first.
        #[oai(status = 200)]
        Ok(EventFrames),
    }
    errors {
        /// A malformed position.
        #[oai(status = 400)]
        BadRequest(BadCursorError),
    }
    session;
    throttled = "Too many requests, or too many open streams of this account.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/events`.
    pub enum PollResponse {
        /// The events after `after` (at once when there are some; else the first within
        /// `timeout` seconds, or none).
        #[oai(status = 200)]
        Ok(Json<EventsPageSchema>),
    }
    errors {
        /// Bad input, or a malformed position.
        #[oai(status = 400)]
        BadRequest(PageBadRequestError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Follows everything the caller may see — messages, members, chats, its own read
    /// markers — live, as Server-Sent Events. With `Last-Event-ID` (or `after`) it first
    /// replays every event after that position, then goes on live: nothing missed,
    /// nothing repeated, also on another instance. Without a position it starts at "now".
    #[oai(
        path = "/v1/events/stream",
        method = "get",
        operation_id = "event_stream"
    )]
    async fn stream(
        &self,
        session: Session,
        /// Continue after this position (an event's `id`, or a chat list's
        /// `events.iterator`).
        after: Query<Option<String>>,
        /// Continue after this position (what browsers send when they reconnect); wins
        /// over `after`.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> StreamResponse {
        let caller = session.0;
        let position = cursor_param(last_event_id.0.as_deref().or(after.0.as_deref()));
        let run = async {
            let feed = self.messenger.follow_live(&caller, position).await?;
            let slot = self
                .slots
                .take(caller.account_id)
                .ok_or(Error::RequestLimitExceeded {
                    retry_after_secs: 1,
                })?;
            Ok::<_, messenger_ports::AppError>((feed, slot))
        };
        match run.await {
            Ok((feed, slot)) => StreamResponse::Ok(EventFrames::new(streams::spawn(
                self.messenger.clone(),
                caller,
                feed,
                slot,
                self.closing.clone(),
            ))),
            Err(e) => e.into(),
        }
    }

    /// The same events as the stream, for clients and proxies that cannot hold one: those
    /// after `after`, at once when there are some, otherwise the first within `timeout`
    /// seconds (0 by default: answer at once).
    #[oai(path = "/v1/events", method = "get", operation_id = "poll_events")]
    async fn poll(
        &self,
        session: Session,
        /// Continue after this position (`next.iterator` of the previous answer, an event's
        /// `id`, or a chat list's `events.iterator`).
        after: Query<String>,
        /// Most events to answer: 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<i64>,
        /// Seconds to wait for a first event when there is none yet: 0–30.
        #[oai(validator(minimum(value = "0"), maximum(value = "30")))]
        timeout: Query<Option<i64>>,
    ) -> PollResponse {
        let run = async {
            let limit = Limit::events(limit.0)?;
            let wait = match timeout.0 {
                None => 0,
                Some(s) => u64::try_from(s)
                    .ok()
                    .filter(|s| *s <= MAX_POLL_SECS)
                    .ok_or(Error::BadParameters)?,
            };
            // `after` is required here: an empty one is no position at all.
            let after = UncheckedCursor::parse(&after.0);
            self.messenger
                .poll_events(
                    &session.0,
                    Some(after),
                    limit.get(),
                    Duration::from_secs(wait),
                )
                .await
        };
        match run.await {
            Ok(page) => PollResponse::Ok(Json(page.into())),
            Err(e) => e.into(),
        }
    }
}

/// A stream's answer: `text/event-stream`, written frame by frame as the stream's task
/// hands them over, with keep-alive comments; documented as a stream of [`EventSchema`].
pub struct EventFrames {
    frames: mpsc::Receiver<Frame>,
    /// A keep-alive comment after this long without a frame.
    keep_alive: Duration,
}

impl EventFrames {
    /// The frames of a stream task, with a keep-alive comment every [`KEEP_ALIVE`] of quiet.
    pub fn new(frames: mpsc::Receiver<Frame>) -> Self {
        Self::with_keep_alive(frames, KEEP_ALIVE)
    }

    fn with_keep_alive(frames: mpsc::Receiver<Frame>, keep_alive: Duration) -> Self {
        Self { frames, keep_alive }
    }
}

impl Payload for EventFrames {
    const CONTENT_TYPE: &'static str = "text/event-stream";

    fn schema_ref() -> MetaSchemaRef {
        EventSchema::schema_ref()
    }

    fn register(registry: &mut Registry) {
        EventSchema::register(registry);
    }
}

impl IntoResponse for EventFrames {
    fn into_response(self) -> Response {
        let Self {
            mut frames,
            keep_alive,
        } = self;
        // A keep-alive comment when nothing was written for a while.
        let mut idle =
            tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
        let bytes = futures_util::stream::poll_fn(move |cx| {
            if let Poll::Ready(frame) = frames.poll_recv(cx) {
                idle.reset();
                return Poll::Ready(frame.map(|f| Ok::<_, std::io::Error>(f.into_bytes())));
            }
            idle.poll_tick(cx)
                .map(|_| Some(Ok(Frame::keep_alive().into_bytes())))
        });
        Response::builder()
            .content_type("text/event-stream")
            .header("Cache-Control", "no-cache")
            // Proxies that buffer answers (nginx) must pass this one through as it comes.
            .header("X-Accel-Buffering", "no")
            .body(poem::Body::from_bytes_stream(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn frames_go_out_as_they_come_with_a_keep_alive_comment_only_when_quiet() {
        let (tx, rx) = mpsc::channel(4);
        let quiet = Duration::from_millis(200);
        let resp = EventFrames::with_keep_alive(rx, quiet).into_response();
        assert_eq!(
            resp.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        assert_eq!(
            resp.headers()
                .get("x-accel-buffering")
                .map(|v| v.as_bytes()),
            Some(&b"no"[..])
        );
        let mut body = resp.into_body().into_bytes_stream();
        tx.send(Frame::retry()).await.unwrap();
        let first = body.next().await.unwrap().unwrap();
        assert_eq!(first, "retry: 2000\n\n");
        // Frames closer together than the quiet time: no comment between them.
        for i in 0..3 {
            tokio::time::sleep(quiet / 2).await;
            tx.send(Frame::event(&format!("p{i}"), "chat.renamed", "{}"))
                .await
                .unwrap();
            let got = body.next().await.unwrap().unwrap();
            assert!(got.starts_with(b"id: p"), "{got:?}");
        }
        // Then quiet: a comment after the quiet time, and the stream goes on.
        let began = std::time::Instant::now();
        assert_eq!(body.next().await.unwrap().unwrap(), ":\n\n");
        assert!(began.elapsed() >= quiet / 2, "{:?}", began.elapsed());
        drop(tx);
        assert!(body.next().await.is_none(), "the stream ends with its task");
    }
}

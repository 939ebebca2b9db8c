//! Event streams: one task per open stream reads the caller's feed of the durable log and
//! hands frames to the connection through a bounded buffer.
//!
//! - **Bounded memory.** A stream holds at most [`STREAM_BUFFER`] frames. A client that
//!   does not take a frame within [`SLOW_READER`] while the buffer is full is
//!   disconnected; it resumes from its last id, and nothing is lost (the log keeps it).
//! - **Sessions.** The caller's session is checked again every [`SESSION_RECHECK`]; a
//!   logged-out or expired session ends the stream.
//! - **Shutdown.** Every stream ends when the service starts shutting down, so clients
//!   reconnect to another instance instead of holding this one open.
//! - **A limit per account.** At most `STREAMS_PER_ACCOUNT` streams of one account are
//!   open on an instance at once ([`StreamSlots`]).

use super::event_data::{self, RESET};
use bytes::Bytes;
use messenger_domain::{AccountId, Caller};
use messenger_ports::{LiveFeed, LivePage, Messenger};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Frames a stream buffers for a client that reads slower than events come.
pub const STREAM_BUFFER: usize = 256;

/// How long a full buffer may wait for the client before the stream is dropped.
pub const SLOW_READER: Duration = Duration::from_secs(10);

/// How often a stream checks that its session is still valid.
pub const SESSION_RECHECK: Duration = Duration::from_secs(2);

/// Events read from the log at a time.
const BATCH: u32 = 100;

/// What `retry:` tells browsers: reconnect after about 2 s.
pub const RETRY_MS: u64 = 2_000;

/// One frame of a stream, encoded as it goes on the wire. An event's frame is encoded
/// once per event and shared by every stream it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame(Bytes);

impl Frame {
    /// `retry: <ms>`.
    pub fn retry() -> Self {
        Self(Bytes::from(format!("retry: {RETRY_MS}\n\n")))
    }

    /// The keep-alive comment.
    pub fn keep_alive() -> Self {
        Self(Bytes::from_static(b":\n\n"))
    }

    /// An event: its `id`, `event` and `data` lines (`data` is one line of JSON).
    pub fn event(id: &str, kind: &str, data: &str) -> Self {
        Self(Bytes::from(sse_text(id, kind, data)))
    }

    /// The frame's bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// An event as Server-Sent Events text. Compact JSON has no line breaks, so `data` is one
/// line.
fn sse_text(id: &str, kind: &str, data: &str) -> String {
    format!("id: {id}\nevent: {kind}\ndata: {data}\n\n")
}

/// Shared text as the bytes of a frame (no copy per stream).
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Open streams per account on this instance, with a ceiling.
#[derive(Debug)]
pub struct StreamSlots {
    per_account: u32,
    open: Mutex<HashMap<AccountId, u32>>,
}

impl StreamSlots {
    /// At most `per_account` streams per account.
    pub fn new(per_account: u32) -> Arc<Self> {
        Arc::new(Self {
            per_account,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `account`, or `None` when it has its ceiling of open streams.
    pub fn take(self: &Arc<Self>, account: AccountId) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(account).or_insert(0);
        if *n >= self.per_account {
            return None;
        }
        *n += 1;
        metrics::gauge!("messenger_event_streams_open").increment(1.0);
        Some(Slot {
            slots: Arc::clone(self),
            account,
        })
    }

    /// Open streams of `account`.
    pub fn open(&self, account: AccountId) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&account).copied().unwrap_or(0)
    }
}

/// A held stream slot; dropping it frees it.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<StreamSlots>,
    account: AccountId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.account);
            }
        }
        metrics::gauge!("messenger_event_streams_open").decrement(1.0);
    }
}

/// Starts the task that feeds one stream; the receiver is the stream's frames. The task
/// ends (and the stream with it) when the client goes away or is too slow, the session
/// ends, the store fails, or the service shuts down.
pub fn spawn(
    messenger: Messenger,
    caller: Caller,
    mut feed: LiveFeed,
    slot: Slot,
    mut closing: watch::Receiver<bool>,
) -> mpsc::Receiver<Frame> {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(async move {
        let _slot = slot;
        if tx.send(Frame::retry()).await.is_err() {
            return;
        }
        let mut checked = Instant::now();
        let mut first = true;
        loop {
            if *closing.borrow() {
                return;
            }
            let recheck = SESSION_RECHECK.saturating_sub(checked.elapsed());
            let page = tokio::select! {
                _ = closing.changed() => return,
                // The client went away while nothing was happening: free the slot now.
                _ = tx.closed() => return,
                // Nothing for a while: the session is checked below.
                _ = tokio::time::sleep(recheck) => None,
                page = feed.next(BATCH, SESSION_RECHECK) => Some(page),
            };
            if let Some(page) = page {
                let page = match page {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream: the log cannot be read; closing it");
                        return;
                    }
                };
                let frames = frames(&messenger, &page);
                if first {
                    metrics::histogram!(messenger_wiring::metrics::EVENT_REPLAY_SIZE)
                        .record(frames.len() as f64);
                    first = false;
                }
                for frame in frames {
                    if !deliver(&tx, frame, SLOW_READER).await {
                        return;
                    }
                }
            }
            if checked.elapsed() >= SESSION_RECHECK {
                checked = Instant::now();
                if let Err(e) = messenger.check_session(&caller).await {
                    tracing::debug!(error = %e, "event stream: the session ended");
                    return;
                }
            }
        }
    });
    rx
}

/// A page's frames: a reset first when there is one, then each event, encoded once per
/// event for every stream it goes to.
fn frames(messenger: &Messenger, page: &LivePage) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(page.events.len() + 1);
    if page.reset {
        frames.push(Frame::event(
            &page.next.encode(),
            RESET,
            &event_data::reset_data().to_string(),
        ));
    }
    let now = messenger.now();
    for e in &page.events {
        if let messenger_domain::Event::MessageCreated { message } = &e.logged.event {
            // From the message's commit to its delivery here (as far as the clocks of the
            // instances agree): what a wake-up across instances costs.
            metrics::histogram!("messenger_event_delivery_lag_seconds")
                .record(now.since(message.created_at).as_secs_f64());
        }
        let text = e.encoded(|logged| {
            sse_text(
                &logged.position.encode(),
                logged.event.type_name(),
                &event_data::data(&logged.event).to_string(),
            )
        });
        frames.push(Frame(Bytes::from_owner(SharedText(text))));
    }
    frames
}

/// Hands one frame to the connection; `false` when the stream must end (the client went
/// away, or kept a full buffer for `patience`).
async fn deliver(tx: &mpsc::Sender<Frame>, frame: Frame, patience: Duration) -> bool {
    let event = frame.0.starts_with(b"id:");
    match tokio::time::timeout(patience, tx.send(frame)).await {
        Ok(Ok(())) => {
            if event {
                metrics::counter!("messenger_events_delivered_total").increment(1);
            }
            true
        }
        Ok(Err(_)) => false,
        Err(_) => {
            metrics::counter!("messenger_event_streams_slow_total").increment(1);
            tracing::info!(
                "event stream: the client did not read for {SLOW_READER:?}; disconnected"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_hold_a_ceiling_per_account_and_free_on_drop() {
        let slots = StreamSlots::new(2);
        let a = AccountId::from_u128(1);
        let b = AccountId::from_u128(2);
        let one = slots.take(a).unwrap();
        let two = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a third stream of one account");
        assert!(
            slots.take(b).is_some(),
            "another account has its own ceiling"
        );
        drop(one);
        assert_eq!(slots.open(a), 1);
        assert!(slots.take(a).is_some());
        drop(two);
    }

    #[tokio::test]
    async fn a_reader_that_leaves_the_buffer_full_is_dropped_and_a_gone_one_noticed() {
        let (tx, mut rx) = mpsc::channel(2);
        let patience = Duration::from_millis(50);
        assert!(deliver(&tx, Frame::retry(), patience).await);
        assert!(deliver(&tx, Frame::retry(), patience).await);
        let began = Instant::now();
        assert!(
            !deliver(&tx, Frame::retry(), patience).await,
            "a full buffer for longer than the patience ends the stream"
        );
        assert!(began.elapsed() >= patience);
        // A reader that takes frames keeps the stream going.
        assert!(rx.recv().await.is_some());
        assert!(deliver(&tx, Frame::retry(), patience).await);
        drop(rx);
        assert!(
            !deliver(&tx, Frame::retry(), patience).await,
            "a gone client"
        );
    }

    #[test]
    fn frames_are_written_as_sse() {
        let frame = Frame::event(
            "p1",
            "chat.renamed",
            r#"{"chat":{"chat_id":"c","chat_name":"n"}}"#,
        );
        assert_eq!(
            frame.into_bytes(),
            "id: p1\nevent: chat.renamed\ndata: {\"chat\":{\"chat_id\":\"c\",\"chat_name\":\"n\"}}\n\n"
        );
        assert_eq!(Frame::retry().into_bytes(), "retry: 2000\n\n");
        assert_eq!(Frame::keep_alive().into_bytes(), ":\n\n");
        let shared = Frame(Bytes::from_owner(SharedText(Arc::from("id: x\n\n"))));
        assert_eq!(shared.into_bytes(), "id: x\n\n");
    }
}

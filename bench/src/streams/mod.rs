//! `streams`: live updates under load. Opens N event streams (one connection each,
//! spread over a few accounts, all members of one chat) on one instance, posts M
//! messages a second into that chat through the same or another instance, and checks
//! that every stream received every acknowledged message exactly once. Prints the
//! delivery latency (the post's 201 → its frame on a stream), deliveries/s, the
//! server's RSS before and after opening the streams, and with `--compare` the
//! `/ping` latency and closed-loop posting throughput without and with the streams open.
//!
//! Every phase is bounded: opening by the request timeout, posting by `--duration`,
//! the wait for late deliveries by `--grace`, each comparison by its duration.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{self, ChatRef, Session};
use crate::cli::StreamsArgs;
use crate::conn::Conn;
use crate::error::BenchError;
use crate::load::{self, Budget, Outcome};
use crate::report::{self, Row};
use crate::rss;
use crate::run::load_average;
use crate::setup::{self, Ctx};
use crate::sse::{EventStream, Frames, Start};
use crate::target::Target;
use crate::workers::{Ping, Post};

mod run;
pub use run::run;

/// How every message of the delivery phase starts; its serial number follows.
const TEXT_PREFIX: &str = "stream-bench ";

/// Connections posting the delivery phase's messages (each its share of the rate).
const POSTERS: usize = 8;

/// Chats the comparison's posts go to when they are not the followed chat.
const COMPARE_CHATS: usize = 32;

/// How long to wait for the servers' first `/ping`.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// Pause after the streams are open, before their RSS is read (the server's CPU is
/// measured over it).
const SETTLE: Duration = Duration::from_secs(3);

/// Pause before opening again a stream the server ended or refused (the `retry:` the
/// server sends).
const REOPEN_PAUSE: Duration = Duration::from_secs(2);

/// Latencies in µs, up to 2 minutes.
const MAX_MICROS: u64 = 120_000_000;

fn validate(args: &StreamsArgs) -> Result<(), BenchError> {
    let bad = |what: &str| Err(BenchError::Option(what.to_owned()));
    if !(1..=200_000).contains(&args.streams) {
        return bad("--streams must be 1..=200000");
    }
    if args.accounts == 0 || args.accounts > args.streams.min(1000) {
        return bad("--accounts must be 1..=min(--streams, 1000)");
    }
    if args.rate > 10_000 {
        return bad("--rate must be at most 10000");
    }
    if args.rate > 0 && args.duration.is_zero() {
        return bad("--duration must be above zero");
    }
    if !(1..=4096).contains(&args.connections) {
        return bad("--connections must be 1..=4096");
    }
    if args.open_concurrency == 0 {
        return bad("--open-concurrency must be at least 1");
    }
    if args.timeout.is_zero() || (args.compare && args.compare_duration.is_zero()) {
        return bad("--timeout and --compare-duration must be above zero");
    }
    Ok(())
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
        .map_err(|e| BenchError::Option(format!("histogram bounds: {e:?}")))
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// The text of the delivery phase's message `serial` (about 100 bytes).
fn message_text(serial: u64) -> String {
    format!("{TEXT_PREFIX}{serial} lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor")
}

#[derive(Deserialize)]
struct Created<'a> {
    #[serde(borrow)]
    chat_id: Cow<'a, str>,
    #[serde(borrow)]
    message: CreatedMessage<'a>,
}

#[derive(Deserialize)]
struct CreatedMessage<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// The serial of a `message.created` frame's data when it is a delivery-phase message
/// of `chat_id`.
fn serial_of(data: &str, chat_id: &str) -> Option<u32> {
    let created: Created<'_> = serde_json::from_str(data).ok()?;
    if created.chat_id != chat_id {
        return None;
    }
    created
        .message
        .text
        .strip_prefix(TEXT_PREFIX)?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// What every stream reader shares.
struct Shared {
    target: Arc<Target>,
    chat_id: Arc<str>,
    timeout: Duration,
    epoch: Instant,
    /// Delivery-phase frames received, by all streams.
    delivered: AtomicU64,
    /// Streams whose `retry:` line came (they are live).
    live: AtomicUsize,
}

/// One stream's account and starting position.
struct Follower {
    auth: HeaderValue,
    position: String,
}

/// What one stream received.
#[derive(Default)]
struct Followed {
    /// (serial, µs since the epoch) of every delivery-phase frame, in arrival order.
    receipts: Vec<(u32, u64)>,
    /// Times the stream was reopened after the server ended it.
    reopened: u32,
    /// Attempts to reopen it that the server refused.
    refused: u32,
    /// Why it was not open at the end, if it was not.
    failure: Option<String>,
}

async fn follow(
    shared: Arc<Shared>,
    follower: Arc<Follower>,
    mut stream: EventStream,
    mut stop: watch::Receiver<bool>,
) -> Followed {
    let mut out = Followed::default();
    let mut frames = Frames::default();
    let mut last_id: Option<String> = None;
    let mut live = false;
    loop {
        let chunk = tokio::select! {
            _ = stop.changed() => return out,
            chunk = stream.chunk() => chunk,
        };
        match chunk {
            Some(Ok(bytes)) => {
                frames.push(&bytes);
                while let Some(event) = frames.next_event() {
                    if event.kind == "message.created" {
                        if let Some(serial) = serial_of(&event.data, &shared.chat_id) {
                            out.receipts.push((serial, micros_since(shared.epoch)));
                            shared.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    last_id = Some(event.id);
                }
                // `retry:` is the stream's first line: once it is read, the stream is live.
                if !live && frames.retries > 0 {
                    live = true;
                    shared.live.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Err(_)) | None => {
                if *stop.borrow() {
                    return out;
                }
                // Ended by the server (e.g. as a slow reader): resume after the last frame.
                let start = match &last_id {
                    Some(id) => Start::LastEventId(id),
                    None => Start::After(&follower.position),
                };
                // As a browser would: again every `retry:` interval until it opens.
                let reopened = loop {
                    match EventStream::open(&shared.target, &follower.auth, start, shared.timeout)
                        .await
                    {
                        Ok(s) => break s,
                        Err(e) => {
                            out.refused += 1;
                            out.failure = Some(e.to_string());
                        }
                    }
                    tokio::select! {
                        _ = stop.changed() => return out,
                        () = tokio::time::sleep(REOPEN_PAUSE) => {}
                    }
                };
                out.failure = None;
                stream = reopened;
                frames = Frames::default();
                out.reopened += 1;
            }
        }
    }
}

/// The delivery phase's posts: the 201 time of each (µs since the epoch), `None` when
/// the post failed.
struct Posted {
    acks: Vec<Option<u64>>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latency: Histogram<u64>,
}

/// Posts `rate × duration` messages into `chat`, message `s` due at `s / rate` seconds
/// (spread over [`POSTERS`] connections; a late one is sent at once).
async fn post_at_rate(
    ctx: &Ctx,
    session: &Session,
    chat: &ChatRef,
    rate: u32,
    duration: Duration,
    epoch: Instant,
) -> Result<Posted, BenchError> {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as u64;
    let posters = POSTERS.min(total.max(1) as usize);
    let mut conns = Vec::with_capacity(posters);
    for _ in 0..posters {
        let mut conn = ctx.conn();
        conn.open().await?;
        conns.push(conn);
    }
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(posters);
    for (p, mut conn) in conns.into_iter().enumerate() {
        let (session, chat) = (session.clone(), chat.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut latency = histogram()?;
            let mut first_error = None;
            let mut serial = p as u64;
            while serial < total {
                let due = Duration::from_secs_f64(serial as f64 / f64::from(rate));
                tokio::time::sleep_until(start + due).await;
                let sent = Instant::now();
                match api::post_message(&mut conn, &session, &chat, &message_text(serial)).await {
                    Ok(()) => {
                        latency.saturating_record(micros_since(sent).max(1));
                        acks.push((serial, Some(micros_since(epoch))));
                    }
                    Err(e) => {
                        first_error.get_or_insert_with(|| e.to_string());
                        acks.push((serial, None));
                    }
                }
                serial += posters as u64;
            }
            Ok::<_, BenchError>((acks, latency, first_error))
        }));
    }
    let mut posted = Posted {
        acks: vec![None; usize::try_from(total).unwrap_or(usize::MAX)],
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: histogram()?,
    };
    for task in tasks {
        let (acks, latency, first_error) = task.await??;
        for (serial, ack) in acks {
            if ack.is_none() {
                posted.errors += 1;
            }
            if let Some(slot) = usize::try_from(serial)
                .ok()
                .and_then(|s| posted.acks.get_mut(s))
            {
                *slot = ack;
            }
        }
        posted
            .latency
            .add(&latency)
            .map_err(|e| BenchError::Option(format!("merging histograms: {e:?}")))?;
        if posted.first_error.is_none() {
            posted.first_error = first_error;
        }
    }
    posted.elapsed = start.elapsed();
    Ok(posted)
}

/// `/ping` on the streams' instance and closed-loop posting through the posting one.
async fn compare(
    args: &StreamsArgs,
    streams_ctx: &Ctx,
    posts_ctx: &Ctx,
    poster: &Session,
    chats: &Arc<[ChatRef]>,
) -> Result<(Outcome, Outcome), BenchError> {
    let budget = Budget::Timed {
        warmup: args.warmup,
        measure: args.compare_duration,
    };
    let n = args.connections;
    let ping = load::drive(
        &streams_ctx.target,
        args.timeout,
        budget,
        (0..n).map(|_| Ping).collect(),
    )
    .await?;
    let workers = (0..n)
        .map(|i| Post::new(poster.clone(), Arc::clone(chats), i))
        .collect();
    let post = load::drive(&posts_ctx.target, args.timeout, budget, workers).await?;
    Ok((ping, post))
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    pid.and_then(|pid| rss::read(pid).ok()).map(|r| r.rss_kib)
}

/// Runs the scenario and returns its report.
///
/// # Errors
/// Bad options, a refused or silent target, a failed setup, or a stream that cannot be
/// opened (e.g. 429: raise the server's `STREAMS_PER_ACCOUNT`; or too few file
/// descriptors: raise `ulimit -n`).
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
/// Every stream's receipts against the acknowledged posts.
struct Tally {
    /// Delay from 201 to frame of every first delivery of an acknowledged post, in µs.
    latency: Histogram<u64>,
    missing: u64,
    duplicates: u64,
    unacknowledged: u64,
    before_ack: u64,
}

fn tally(posted: &Posted, followed: &[Followed]) -> Result<Tally, BenchError> {
    let mut t = Tally {
        latency: histogram()?,
        missing: 0,
        duplicates: 0,
        unacknowledged: 0,
        before_ack: 0,
    };
    for f in followed {
        let mut seen = vec![0u8; posted.acks.len()];
        for &(serial, at) in &f.receipts {
            let index = serial as usize;
            let Some(count) = seen.get_mut(index) else {
                t.unacknowledged += 1;
                continue;
            };
            *count = count.saturating_add(1);
            if *count > 1 {
                t.duplicates += 1;
                continue;
            }
            match posted.acks.get(index).copied().flatten() {
                Some(ack) => {
                    if at < ack {
                        t.before_ack += 1;
                    }
                    t.latency.saturating_record(at.saturating_sub(ack).max(1));
                }
                None => t.unacknowledged += 1,
            }
        }
        t.missing += posted
            .acks
            .iter()
            .zip(&seen)
            .filter(|(ack, count)| ack.is_some() && **count == 0)
            .count() as u64;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_come_from_this_runs_messages_of_the_chat_only() {
        let data = format!(
            r#"{{"chat_id":"c1","message":{{"message_id":"m","text":"{}","user_id":"u"}}}}"#,
            message_text(42)
        );
        assert_eq!(serial_of(&data, "c1"), Some(42));
        assert_eq!(serial_of(&data, "c2"), None);
        let other = r#"{"chat_id":"c1","message":{"text":"benchmark alpha message 1"}}"#;
        assert_eq!(serial_of(other, "c1"), None);
        assert!((90..=110).contains(&message_text(123_456).len()));
    }

    #[test]
    fn the_tally_counts_missing_repeated_and_late_deliveries() {
        let mut latency = histogram().unwrap();
        latency.record(1).unwrap();
        let posted = Posted {
            acks: vec![Some(1_000), Some(2_000), None],
            errors: 1,
            first_error: None,
            elapsed: Duration::from_secs(1),
            latency,
        };
        let followed = [
            Followed {
                receipts: vec![(0, 1_500), (1, 1_900), (1, 2_100)],
                ..Followed::default()
            },
            Followed {
                receipts: vec![(1, 3_000), (2, 3_000)],
                ..Followed::default()
            },
        ];
        let t = tally(&posted, &followed).unwrap();
        assert_eq!(t.latency.len(), 3);
        assert_eq!(t.missing, 1);
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.unacknowledged, 1);
        assert_eq!(t.before_ack, 1);
    }
}

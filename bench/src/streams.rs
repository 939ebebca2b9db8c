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
use crate::error::BenchError;
use crate::load::{self, Budget, Outcome};
use crate::report::{self, Row};
use crate::rss;
use crate::run::load_average;
use crate::setup::{self, Ctx};
use crate::sse::{EventStream, Frames, Start};
use crate::target::Target;
use crate::workers::{Ping, Post};

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
pub async fn run(args: StreamsArgs) -> Result<String, BenchError> {
    validate(&args)?;
    let streams_target = Arc::new(Target::parse(&args.url)?);
    let posts_target = match &args.url2 {
        Some(url) => Arc::new(Target::parse(url)?),
        None => Arc::clone(&streams_target),
    };
    setup::wait_ready(&streams_target, READY_WITHIN).await?;
    setup::wait_ready(&posts_target, READY_WITHIN).await?;
    let streams_ctx = Ctx {
        target: Arc::clone(&streams_target),
        timeout: args.timeout,
    };
    let posts_ctx = Ctx {
        target: Arc::clone(&posts_target),
        timeout: args.timeout,
    };
    let n = args.streams;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "messenger-bench streams: {n} streams on {} ({} accounts), posts through {}, {} posts/s for {:?}",
        streams_target.url, args.accounts, posts_target.url, args.rate, args.duration
    );
    let _ = writeln!(out, "Load average at start: {}", load_average());

    eprintln!("setting up accounts and the chat...");
    let (_, poster) = setup::new_account(&posts_ctx, "stream-poster").await?;
    let mut chats = setup::new_chats(&posts_ctx, &poster, 1, "streams").await?;
    let chat = chats
        .pop()
        .ok_or_else(|| BenchError::Option("no chat".to_owned()))?;
    let mut members = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let (_, session) = setup::new_account(&streams_ctx, "stream-follower").await?;
        api::join(
            &mut streams_ctx.conn(),
            &session,
            &chat.chat_id,
            &format!("follower {i}"),
        )
        .await?;
        members.push(session);
    }
    let compare_chats: Option<Arc<[ChatRef]>> = if !args.compare {
        None
    } else if args.compare_fanout {
        Some(Arc::from(vec![chat.clone()]))
    } else {
        Some(
            setup::new_chats(&posts_ctx, &poster, COMPARE_CHATS, "compare")
                .await?
                .into(),
        )
    };
    let mut rows = Vec::new();
    if let Some(chats) = &compare_chats {
        eprintln!("measuring /ping and posting without streams...");
        let (ping, post) = compare(&args, &streams_ctx, &posts_ctx, &poster, chats).await?;
        rows.push(Row {
            name: "GET /ping, no streams".to_owned(),
            outcome: ping,
        });
        rows.push(Row {
            name: "POST message, no streams".to_owned(),
            outcome: post,
        });
    }

    // Open the streams, each from its account's position now (taken after the
    // comparison, whose posts the streams would otherwise replay first).
    let mut followers = Vec::with_capacity(members.len());
    for session in members {
        let position = api::events_position(&mut streams_ctx.conn(), &session).await?;
        followers.push(Arc::new(Follower {
            auth: session.auth,
            position,
        }));
    }
    let rss_before = rss_kib(args.rss_pid);
    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        target: Arc::clone(&streams_target),
        chat_id: Arc::from(chat.chat_id.as_str()),
        timeout: args.timeout,
        epoch,
        delivered: AtomicU64::new(0),
        live: AtomicUsize::new(0),
    });
    let (stop, stopped) = watch::channel(false);
    eprintln!("opening {n} streams...");
    let mut readers = Vec::with_capacity(n);
    let mut next = 0;
    while next < n {
        let end = (next + args.open_concurrency).min(n);
        let mut opening = JoinSet::new();
        for s in next..end {
            let follower = Arc::clone(&followers[s % followers.len()]);
            let shared = Arc::clone(&shared);
            opening.spawn(async move {
                let start = Start::After(&follower.position);
                let opened =
                    EventStream::open(&shared.target, &follower.auth, start, shared.timeout).await;
                (follower, opened)
            });
        }
        while let Some(joined) = opening.join_next().await {
            let (follower, opened) = joined?;
            let stream = opened.map_err(|e| {
                BenchError::Option(format!(
                    "opening stream {} of {n}: {e} (429: start the server with STREAMS_PER_ACCOUNT \
                     above streams ÷ accounts; a connect error: raise ulimit -n)",
                    readers.len() + 1
                ))
            })?;
            readers.push(tokio::spawn(follow(
                Arc::clone(&shared),
                follower,
                stream,
                stopped.clone(),
            )));
        }
        next = end;
    }
    let deadline = Instant::now() + args.timeout;
    while shared.live.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let opened_in = epoch.elapsed();
    let live = shared.live.load(Ordering::Relaxed);
    let idle_cpu_before = args.rss_pid.and_then(|p| rss::cpu_seconds(p).ok());
    tokio::time::sleep(SETTLE).await;
    let idle_cpu_after = args.rss_pid.and_then(|p| rss::cpu_seconds(p).ok());
    let rss_after = rss_kib(args.rss_pid);
    let _ = writeln!(
        out,
        "{n} streams opened in {:.2} s ({live} live)",
        opened_in.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (idle_cpu_before, idle_cpu_after) {
        let _ = writeln!(
            out,
            "server CPU with the {n} streams open and nothing posted: {:.0} % of a core (over {:?})",
            100.0 * (after - before) / SETTLE.as_secs_f64(),
            SETTLE
        );
    }
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        let per_stream = after.saturating_sub(before) as f64 / n as f64;
        let _ = writeln!(
            out,
            "server RSS: {:.1} MiB before the streams, {:.1} MiB with them open: {per_stream:.1} KiB per stream",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }

    if let Some(chats) = &compare_chats {
        eprintln!("measuring /ping and posting with {n} streams open...");
        let (ping, post) = compare(&args, &streams_ctx, &posts_ctx, &poster, chats).await?;
        rows.push(Row {
            name: format!("GET /ping, {n} streams open"),
            outcome: ping,
        });
        rows.push(Row {
            name: format!("POST message, {n} streams open"),
            outcome: post,
        });
    }

    let posted = if args.rate > 0 {
        eprintln!(
            "posting {} messages/s for {:?}...",
            args.rate, args.duration
        );
        let cpu = |pid: Option<u32>| pid.and_then(|p| rss::cpu_seconds(p).ok());
        let cpu_before = (cpu(args.rss_pid), cpu(Some(std::process::id())));
        let posted =
            post_at_rate(&posts_ctx, &poster, &chat, args.rate, args.duration, epoch).await?;
        let cpu_after = (cpu(args.rss_pid), cpu(Some(std::process::id())));
        let share = |before: Option<f64>, after: Option<f64>| match (before, after) {
            (Some(b), Some(a)) => format!(
                "{:.0} %",
                100.0 * (a - b) / posted.elapsed.as_secs_f64().max(1e-9)
            ),
            _ => "?".to_owned(),
        };
        let _ = writeln!(
            out,
            "CPU while posting (100 % = one core): server {} (with --rss-pid), this tool {}",
            share(cpu_before.0, cpu_after.0),
            share(cpu_before.1, cpu_after.1)
        );
        let acknowledged = posted.acks.iter().filter(|a| a.is_some()).count() as u64;
        let wanted = acknowledged * n as u64;
        let deadline = Instant::now() + args.grace;
        while shared.delivered.load(Ordering::Relaxed) < wanted && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Room for a repeat to show.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some(posted)
    } else {
        None
    };

    let _ = stop.send(true);
    let mut followed = Vec::with_capacity(readers.len());
    for reader in readers {
        followed.push(reader.await?);
    }
    let reopened: u32 = followed.iter().map(|f| f.reopened).sum();
    let refused: u32 = followed.iter().map(|f| f.refused).sum();
    let failures: Vec<&String> = followed.iter().filter_map(|f| f.failure.as_ref()).collect();
    let _ = writeln!(
        out,
        "streams reopened (Last-Event-ID) after the server ended them: {reopened} ({refused} attempts refused); streams closed at the end: {}{}",
        failures.len(),
        failures
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );

    if let Some(posted) = posted {
        let tally = tally(&posted, &followed)?;
        let acknowledged = posted.acks.iter().filter(|a| a.is_some()).count();
        let _ = writeln!(
            out,
            "posted {acknowledged} messages ({} failed{}) in {:.2} s: {:.1}/s; post latency p50 {:.3} ms, p99 {:.3} ms",
            posted.errors,
            posted
                .first_error
                .as_deref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default(),
            posted.elapsed.as_secs_f64(),
            acknowledged as f64 / posted.elapsed.as_secs_f64().max(1e-9),
            ms(&posted.latency, 0.5),
            ms(&posted.latency, 0.99)
        );
        let expected = acknowledged as u64 * n as u64;
        let _ = writeln!(
            out,
            "deliveries: {} of {expected} expected ({:.0}/s over the posting time); missing {}, duplicates {}, delivered without a 201 {}: {}",
            tally.latency.len(),
            tally.latency.len() as f64 / posted.elapsed.as_secs_f64().max(1e-9),
            tally.missing,
            tally.duplicates,
            tally.unacknowledged,
            if tally.missing == 0 && tally.duplicates == 0 && tally.latency.len() == expected {
                "EXACTLY ONCE"
            } else {
                "NOT exactly once"
            }
        );
        let _ = writeln!(
            out,
            "delivery latency (201 answered → frame received): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} frames came before their 201, counted as 0)",
            ms(&tally.latency, 0.5),
            ms(&tally.latency, 0.9),
            ms(&tally.latency, 0.99),
            tally.latency.max() as f64 / 1000.0,
            tally.before_ack
        );
    }

    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&report::table(&rows, None));
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        if let [ping0, post0, ping1, post1] = &rows[..] {
            let _ = writeln!(
                out,
                "/ping p99 with {n} streams ÷ without: {:.3} / {:.3} ms = {:.2}; posting throughput with ÷ without: {:.1} / {:.1} = {:.2} ({})",
                ping1.outcome.quantile_ms(0.99),
                ping0.outcome.quantile_ms(0.99),
                ratio(ping1.outcome.quantile_ms(0.99), ping0.outcome.quantile_ms(0.99)),
                post1.outcome.rate(),
                post0.outcome.rate(),
                ratio(post1.outcome.rate(), post0.outcome.rate()),
                if args.compare_fanout {
                    "posts into the followed chat: each goes to every stream"
                } else {
                    "posts into chats the streams do not follow"
                }
            );
        }
        for row in &rows {
            if let Some(e) = &row.outcome.first_error {
                let _ = writeln!(
                    out,
                    "{}: {} errors; first: {e}",
                    row.name, row.outcome.errors
                );
            }
        }
    }
    if let Some(pid) = args.rss_pid {
        if let Ok(rss) = rss::read(pid) {
            let _ = writeln!(out, "server RSS at end: {rss}");
        }
    }
    let _ = writeln!(out, "Load average at end: {}", load_average());
    Ok(out)
}

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

//! The `streams` run itself: set up, open the streams, post, wait for late deliveries,
//! tally, compare, and write the report.

use super::*;

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
    let (_idle, per_connection) = idle_connections(&args, &streams_target).await?;
    if let Some(kib) = per_connection {
        let _ = writeln!(
            out,
            "server RSS per idle keep-alive connection (one GET /ping, then nothing; {} held open): {kib:.1} KiB",
            args.idle_connections
        );
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
            "server RSS: {:.1} MiB before the streams, {:.1} MiB with them open: {per_stream:.1} KiB per stream{}",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            per_connection
                .map(|kib| format!(
                    " ({:.1} KiB more than an idle connection)",
                    per_stream - kib
                ))
                .unwrap_or_default()
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

/// Opens `--idle-connections` plain keep-alive connections (each after one `GET /ping`) and
/// measures the server's RSS per connection; the connections stay open while the caller
/// holds them.
async fn idle_connections(
    args: &StreamsArgs,
    target: &Arc<Target>,
) -> Result<(Vec<Conn>, Option<f64>), BenchError> {
    let (n, Some(pid)) = (args.idle_connections, args.rss_pid) else {
        return Ok((Vec::new(), None));
    };
    if n == 0 {
        return Ok((Vec::new(), None));
    }
    eprintln!("opening {n} idle keep-alive connections...");
    let before = rss_kib(Some(pid));
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = Conn::new(Arc::clone(target), args.timeout);
        api::ping(&mut conn).await?;
        conns.push(conn);
    }
    tokio::time::sleep(SETTLE).await;
    let after = rss_kib(Some(pid));
    let per = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / n as f64),
        _ => None,
    };
    Ok((conns, per))
}

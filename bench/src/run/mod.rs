//! `run`: set up the fixtures the chosen scenarios need, measure each
//! scenario in turn, print the table and the notes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::api;
use crate::argon;
use crate::cli::{RunArgs, Scenario};
use crate::error::BenchError;
use crate::load::{self, Budget, Outcome, Worker};
use crate::report::{self, Row};
use crate::rss;
use crate::setup::{self, Ctx};
use crate::target::Target;
use crate::workers::{CursorWalk, FixedGet, Login, Ping, Post, Search};

mod fixture;
use fixture::{build_fixture, Fixture};

/// Chats per page of the chats scenario (a client's first screen).
const LIST_LIMIT: u32 = 50;

/// How long to wait for a server to answer its first `/ping`.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// The query shapes of the search conformance suite, over `words` texts (see
/// [`crate::workers::words_text`]; shares of the messages that hold the words in brackets).
pub const SHAPES: [(&str, &str); 9] = [
    ("common word (57 %)", "word0"),
    ("mid word (0.8 %)", "word150"),
    ("rare word (0.008 %)", "word15000"),
    ("two common words", "word1 word2"),
    ("two mid words", "word150 word300"),
    ("phrase of common words", "\"word0 word1\""),
    ("phrase, other order", "\"word1 word0\""),
    ("phrase of mid words", "\"word150 word151\""),
    ("absent word", "nothing"),
];

/// Longest warm-up of one query shape.
const SHAPE_WARMUP: Duration = Duration::from_secs(1);

/// A search task counts as failed when it takes longer than this.
const TASK_DEADLINE: Duration = Duration::from_secs(30);

/// Everything a run measured.
pub struct Report {
    /// What was run, against what, in which conditions.
    pub header: Vec<String>,
    /// One row per measurement.
    pub rows: Vec<Row>,
    /// Derived figures (ratios, bounds, RSS) and explanations of errors.
    pub notes: Vec<String>,
    /// The limit server's GET /ping req/s, when it was measured.
    pub limit_ping: Option<f64>,
}

impl Report {
    /// The header, the table and the notes as printed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&report::table(&self.rows, self.limit_ping));
        out.push('\n');
        for note in &self.notes {
            out.push_str("- ");
            out.push_str(note);
            out.push('\n');
        }
        out
    }

    fn row(&mut self, name: &str, outcome: Outcome) {
        if outcome.errors > 0 {
            self.notes.push(format!(
                "{name}: {} failed requests; first: {}",
                outcome.errors,
                outcome.first_error.as_deref().unwrap_or("?")
            ));
        }
        self.rows.push(Row {
            name: name.to_owned(),
            outcome,
        });
    }
}

fn validate(args: &RunArgs) -> Result<(), BenchError> {
    let bad = |what: &str| Err(BenchError::Option(what.to_owned()));
    if !(1..=4096).contains(&args.connections) {
        return bad("--connections must be 1..=4096");
    }
    if args
        .flood_connections
        .is_some_and(|n| !(1..=4096).contains(&n))
    {
        return bad("--flood-connections must be 1..=4096");
    }
    if args.duration.is_zero() {
        return bad("--duration must be above zero");
    }
    if !(1..=1000).contains(&args.page_limit) {
        return bad("--page-limit must be 1..=1000");
    }
    if args.post_chats == 0 || args.search_chats == 0 || args.list_chats == 0 {
        return bad("--post-chats, --search-chats and --list-chats must be at least 1");
    }
    if args.walk_messages < u64::from(args.page_limit) {
        return bad("--walk-messages must be at least one page");
    }
    if args.timeout.is_zero() {
        return bad("--timeout must be above zero");
    }
    Ok(())
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| fields.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn rss_note(pid: Option<u32>, when: &str, notes: &mut Vec<String>) {
    if let Some(pid) = pid {
        match rss::read(pid) {
            Ok(rss) => notes.push(format!("server RSS {when}: {rss}")),
            Err(e) => notes.push(format!("server RSS {when}: {e}")),
        }
    }
}

/// Sets up, measures every chosen scenario and returns the report
/// (progress goes to stderr).
///
/// # Errors
/// Bad options, a target that is refused or not answering, or a failed setup.
pub async fn run(args: RunArgs) -> Result<Report, BenchError> {
    validate(&args)?;
    let target = Arc::new(Target::parse(&args.url)?);
    let limit = args
        .limit_url
        .as_deref()
        .map(Target::parse)
        .transpose()?
        .map(Arc::new);
    setup::wait_ready(&target, READY_WITHIN).await?;
    if let Some(limit) = &limit {
        setup::wait_ready(limit, READY_WITHIN).await?;
    }
    let ctx = Ctx {
        target: Arc::clone(&target),
        timeout: args.timeout,
    };
    let wants = |s: Scenario| args.scenarios.contains(&s);

    let mut measured = Report {
        header: vec![
            format!(
                "messenger-bench: {} ({} connections, {:?} measured after {:?} warm-up per scenario)",
                target.url, args.connections, args.duration, args.warmup
            ),
            "The server should run with in-app throttling off (NGINX_THROTTLING=y) and RUST_LOG=warn.".to_owned(),
            format!("Load average at start: {}", load_average()),
        ],
        rows: Vec::new(),
        notes: Vec::new(),
        limit_ping: None,
    };
    rss_note(args.rss_pid, "at start (before setup)", &mut measured.notes);

    // Measured before any load, so other work does not slow the hashes.
    let argon_bound = if wants(Scenario::Login) || wants(Scenario::Flood) {
        let bound = argon::measure(5).await?;
        Some(bound)
    } else {
        None
    };

    let fixture = if args.scenarios.iter().any(|s| *s != Scenario::Ping) {
        eprintln!("setting up fixtures over the API...");
        let began = Instant::now();
        let fixture = build_fixture(&ctx, &args).await?;
        eprintln!("setup done in {:.1} s", began.elapsed().as_secs_f64());
        Some(fixture)
    } else {
        None
    };
    rss_note(args.rss_pid, "after setup", &mut measured.notes);

    let timed = Budget::Timed {
        warmup: args.warmup,
        measure: args.duration,
    };
    let n = args.connections;

    if let Some(limit) = &limit {
        eprintln!("measuring limit-server GET /ping...");
        let outcome = load::drive(limit, args.timeout, timed, repeat(n, |_| Ping)).await?;
        measured.limit_ping = Some(outcome.rate());
        measured.row("limit-server GET /ping", outcome);
        eprintln!("measuring limit-server GET /page...");
        let page = |_| FixedGet {
            path: Arc::from("/page"),
            auth: None,
        };
        let outcome = load::drive(limit, args.timeout, timed, repeat(n, page)).await?;
        measured.row("limit-server GET /page", outcome);
    }

    for scenario in &args.scenarios {
        eprintln!("measuring {scenario:?}...");
        measure(
            *scenario,
            &args,
            &ctx,
            fixture.as_ref(),
            argon_bound,
            &mut measured,
        )
        .await?;
    }
    cursor_note(&mut measured);
    rss_note(args.rss_pid, "at end", &mut measured.notes);
    measured
        .notes
        .push(format!("load average at end: {}", load_average()));
    if measured.rows.iter().any(|r| {
        r.outcome
            .first_error
            .as_deref()
            .is_some_and(|e| e.contains("429"))
    }) {
        measured.notes.push(
            "429 answers seen: restart the server with NGINX_THROTTLING=y (in-app throttling off)"
                .to_owned(),
        );
    }
    if let Some(path) = &args.summary {
        write_summary(path, &measured.rows)?;
    }
    Ok(measured)
}

/// Pages by cursor (all full) against the same page again, when both were measured.
fn cursor_note(measured: &mut Report) {
    let find = |prefix: &str| {
        measured
            .rows
            .iter()
            .find(|r| r.name.starts_with(prefix))
            .map(|r| r.outcome.rate())
    };
    if let (Some(page), Some(cursor)) = (find("GET page of"), find("GET pages by cursor")) {
        if page > 0.0 {
            measured.notes.push(format!(
                "pages by cursor / the same page: {cursor:.0} / {page:.0} req/s = {:.2} (target >= 0.80)",
                cursor / page
            ));
        }
    }
}

/// Appends the rows to `path`, one tab-separated line each.
fn write_summary(path: &std::path::Path, rows: &[Row]) -> Result<(), BenchError> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for row in rows {
        let o = &row.outcome;
        writeln!(
            file,
            "{}\t{:.1}\t{:.3}\t{:.3}\t{}",
            row.name,
            o.rate(),
            o.quantile_ms(0.5),
            o.quantile_ms(0.99),
            o.errors
        )?;
    }
    Ok(())
}

fn repeat<W>(n: usize, make: impl FnMut(usize) -> W) -> Vec<W> {
    (0..n).map(make).collect()
}

fn missing(what: &str) -> BenchError {
    BenchError::Option(format!("internal: no fixture for {what}"))
}

async fn timed<W: Worker>(
    ctx: &Ctx,
    args: &RunArgs,
    workers: Vec<W>,
) -> Result<Outcome, BenchError> {
    let budget = Budget::Timed {
        warmup: args.warmup,
        measure: args.duration,
    };
    load::drive(&ctx.target, args.timeout, budget, workers).await
}

async fn measure(
    scenario: Scenario,
    args: &RunArgs,
    ctx: &Ctx,
    fixture: Option<&Fixture>,
    argon_bound: Option<argon::ArgonBound>,
    measured: &mut Report,
) -> Result<(), BenchError> {
    let n = args.connections;
    let page_workers = |f: &Fixture| -> Result<Vec<FixedGet>, BenchError> {
        let path = f.page_path.clone().ok_or_else(|| missing("page"))?;
        Ok(repeat(n, |_| FixedGet {
            path: Arc::clone(&path),
            auth: Some(f.session.auth.clone()),
        }))
    };
    let login_workers = |f: &Fixture, count: usize| {
        repeat(count, |_| Login {
            credentials: f.credentials.clone(),
        })
    };
    match scenario {
        Scenario::Ping => {
            let outcome = timed(ctx, args, repeat(n, |_| Ping)).await?;
            measured.row("GET /ping", outcome);
        }
        Scenario::Page => {
            let f = fixture.ok_or_else(|| missing("page"))?;
            let outcome = timed(ctx, args, page_workers(f)?).await?;
            measured.row(&format!("GET page of {} (same)", args.page_limit), outcome);
        }
        Scenario::Cursor => {
            let f = fixture.ok_or_else(|| missing("cursor"))?;
            let (chat_id, starts) = f.walk.as_ref().ok_or_else(|| missing("cursor"))?;
            let workers = repeat(n, |i| CursorWalk {
                session: f.session.clone(),
                chat_id: Arc::clone(chat_id),
                limit: args.page_limit,
                from: starts[i * starts.len() / n].clone(),
            });
            let outcome = timed(ctx, args, workers).await?;
            measured.row(
                &format!("GET pages by cursor ({} msgs)", args.walk_messages),
                outcome,
            );
        }
        Scenario::Post => {
            let f = fixture.ok_or_else(|| missing("post"))?;
            let chats = f.post_chats.clone().ok_or_else(|| missing("post"))?;
            let workers = repeat(n, |i| Post::new(f.session.clone(), Arc::clone(&chats), i));
            let outcome = timed(ctx, args, workers).await?;
            measured.row(&format!("POST message ({} chats)", chats.len()), outcome);
        }
        Scenario::Login => {
            let f = fixture.ok_or_else(|| missing("login"))?;
            let outcome = timed(ctx, args, login_workers(f, n)).await?;
            if let Some(bound) = argon_bound {
                measured.notes.push(format!(
                    "login: {:.1}/s = {:.0} % of the argon2 bound ({} cores / {:.1} ms per hash = {:.1}/s)",
                    outcome.rate(),
                    100.0 * outcome.rate() / bound.logins_per_sec(),
                    bound.cores,
                    bound.hash_time.as_secs_f64() * 1000.0,
                    bound.logins_per_sec()
                ));
            }
            measured.row("login", outcome);
        }
        Scenario::Shapes => {
            let f = fixture.ok_or_else(|| missing("shapes"))?;
            let session = f.search_session.clone().ok_or_else(|| missing("shapes"))?;
            let mut worst: Option<(f64, &str)> = None;
            for (label, query) in SHAPES {
                let body = Bytes::from(json!({ "message": query }).to_string());
                let worker = Search {
                    session: session.clone(),
                    query: body,
                    poll_interval: args.poll_interval,
                    task_deadline: TASK_DEADLINE,
                    polls: Arc::new(AtomicU64::new(0)),
                    tasks: Arc::new(AtomicU64::new(0)),
                };
                let budget = Budget::Timed {
                    warmup: args.warmup.min(SHAPE_WARMUP),
                    measure: args.shape_duration,
                };
                let outcome = load::drive(&ctx.target, args.timeout, budget, vec![worker]).await?;
                let p50 = outcome.quantile_ms(0.5);
                if worst.is_none_or(|(w, _)| p50 > w) {
                    worst = Some((p50, label));
                }
                measured.row(&format!("search {label}: {query}"), outcome);
            }
            if let Some((p50, label)) = worst {
                measured.notes.push(format!(
                    "search shapes: one round trip at a time (status polled every {:?}); the slowest p50 is {p50:.3} ms ({label})",
                    args.poll_interval
                ));
            }
        }
        Scenario::Search => {
            let f = fixture.ok_or_else(|| missing("search"))?;
            let session = f.search_session.clone().ok_or_else(|| missing("search"))?;
            let query = Bytes::from(json!({ "message": args.search_query }).to_string());
            let polls = Arc::new(AtomicU64::new(0));
            let tasks_started = Arc::new(AtomicU64::new(0));
            let workers = repeat(n, |_| Search {
                session: session.clone(),
                query: query.clone(),
                poll_interval: args.poll_interval,
                task_deadline: TASK_DEADLINE,
                polls: Arc::clone(&polls),
                tasks: Arc::clone(&tasks_started),
            });
            let outcome = timed(ctx, args, workers).await?;
            let tasks = tasks_started.load(Ordering::Relaxed).max(1);
            measured.notes.push(format!(
                "search round trip (POST, then status every {:?} until SUCCESS) over {}, query {:?}: {:.1} tasks/s, {:.1} status polls per task",
                args.poll_interval,
                match &args.search_chat {
                    Some(_) => "the chat given by --search-chat".to_owned(),
                    None => format!("{} messages in {} chats", args.search_messages, args.search_chats),
                },
                args.search_query,
                outcome.rate(),
                polls.load(Ordering::Relaxed) as f64 / tasks as f64
            ));
            measured.row("search round trip (tasks)", outcome);
        }
        Scenario::Chats => {
            let f = fixture.ok_or_else(|| missing("chats"))?;
            let session = f.list_session.clone().ok_or_else(|| missing("chats"))?;
            let path: Arc<str> = Arc::from(format!("/v1/chats?limit={LIST_LIMIT}"));
            let workers = repeat(n, |_| FixedGet {
                path: Arc::clone(&path),
                auth: Some(session.auth.clone()),
            });
            let outcome = timed(ctx, args, workers).await?;
            measured.row(
                &format!(
                    "GET /v1/chats?limit={LIST_LIMIT} ({} chats)",
                    args.list_chats
                ),
                outcome,
            );
        }
        Scenario::Newest => {
            let f = fixture.ok_or_else(|| missing("newest"))?;
            let (chat_id, _) = f.walk.as_ref().ok_or_else(|| missing("newest"))?;
            let first: Arc<str> = Arc::from(api::page_path(chat_id, args.page_limit, None));
            let newest: Arc<str> = Arc::from(format!("{first}&before="));
            let get = |path: &Arc<str>| {
                repeat(n, |_| FixedGet {
                    path: Arc::clone(path),
                    auth: Some(f.session.auth.clone()),
                })
            };
            let first_page = timed(ctx, args, get(&first)).await?;
            let newest_page = timed(ctx, args, get(&newest)).await?;
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
            measured.notes.push(format!(
                "newest page (before=) vs first page of a {}-message chat, {} messages a page: p50 {:.3} / {:.3} ms = {:.2}, p99 {:.3} / {:.3} ms = {:.2}, throughput {:.2} of the first page's (target: as fast, ratio <= 1.2)",
                args.walk_messages,
                args.page_limit,
                newest_page.quantile_ms(0.5),
                first_page.quantile_ms(0.5),
                ratio(newest_page.quantile_ms(0.5), first_page.quantile_ms(0.5)),
                newest_page.quantile_ms(0.99),
                first_page.quantile_ms(0.99),
                ratio(newest_page.quantile_ms(0.99), first_page.quantile_ms(0.99)),
                ratio(newest_page.rate(), first_page.rate()),
            ));
            measured.row(
                &format!("GET first page ({} msgs)", args.walk_messages),
                first_page,
            );
            measured.row(
                &format!("GET newest page, before= ({} msgs)", args.walk_messages),
                newest_page,
            );
        }
        Scenario::Flood => {
            let f = fixture.ok_or_else(|| missing("flood"))?;
            let flood_n = args.flood_connections.unwrap_or(n);
            let idle = timed(ctx, args, page_workers(f)?).await?;
            let (page, logins) = tokio::join!(
                timed(ctx, args, page_workers(f)?),
                timed(ctx, args, login_workers(f, flood_n))
            );
            let (page, logins) = (page?, logins?);
            let (idle_p99, flood_p99) = (idle.quantile_ms(0.99), page.quantile_ms(0.99));
            let ratio = if idle_p99 > 0.0 {
                flood_p99 / idle_p99
            } else {
                f64::NAN
            };
            measured.notes.push(format!(
                "login flood vs page: GET page p99 idle {idle_p99:.3} ms, during a flood of {flood_n} login connections {flood_p99:.3} ms: ratio {ratio:.2} (target <= 3); logins during the flood {:.1}/s",
                logins.rate()
            ));
            measured.row("GET page, idle (flood reference)", idle);
            measured.row("GET page during login flood", page);
            measured.row("login during flood", logins);
        }
    }
    Ok(())
}

//! End-to-end runs of the tool against the mock server.

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::{mock, run, seed};

fn run_args(url: &str, extra: &[&str]) -> crate::cli::RunArgs {
    let mut argv = vec![
        "messenger-bench",
        "run",
        "--url",
        url,
        "--connections",
        "4",
        "--duration",
        "300ms",
        "--warmup",
        "50ms",
        "--walk-messages",
        "450",
        "--search-messages",
        "200",
        "--search-chats",
        "2",
        "--post-chats",
        "4",
    ];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Run(args) => args,
        other => panic!("parsed as {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_measures_every_scenario_without_errors() {
    let (addr, state) = mock::spawn().await;
    let url = format!("http://{addr}");
    let report = run::run(run_args(&url, &["--limit-url", &url, "--rss-pid", "1"]))
        .await
        .unwrap();

    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "limit-server GET /ping",
            "limit-server GET /page",
            "GET /ping",
            "GET page of 100 (same)",
            "GET pages by cursor (450 msgs)",
            "POST message (4 chats)",
            "login",
            "search round trip (tasks)",
            "GET page, idle (flood reference)",
            "GET page during login flood",
            "login during flood",
        ]
    );
    for row in &report.rows {
        assert!(row.outcome.ok > 0, "{} measured nothing", row.name);
        assert_eq!(
            row.outcome.errors, 0,
            "{}: {:?}",
            row.name, row.outcome.first_error
        );
    }
    assert!(report.limit_ping.is_some_and(|r| r > 0.0));

    // Posts went to every one of the 4 post chats (beyond the setup chats).
    let per_chat = state.messages.lock().unwrap().clone();
    let posted_chats = per_chat.values().filter(|n| **n > 0).count();
    assert!(posted_chats >= 1 + 1 + 2 + 4, "{per_chat:?}");

    let text = report.render();
    assert!(text.contains("vs limit /ping"));
    assert!(text.contains("NGINX_THROTTLING=y"));
    for note in [
        "argon2 bound",
        "login flood vs page",
        "status polls per task",
        "server RSS at end",
    ] {
        assert!(text.contains(note), "no {note:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_walk_restarts_at_the_end_of_the_chat() {
    let (addr, _) = mock::spawn().await;
    let url = format!("http://{addr}");
    // 450 messages = 4 full pages and a short one: walkers must wrap round.
    let report = run::run(run_args(&url, &["--scenarios", "cursor"]))
        .await
        .unwrap();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].outcome.errors, 0);
    assert!(report.rows[0].outcome.ok > 5 * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_stores_exactly_the_messages_asked_for() {
    let (addr, state) = mock::spawn().await;
    let url = format!("http://{addr}");
    let cli = Cli::try_parse_from([
        "messenger-bench",
        "seed",
        "--url",
        &url,
        "--messages",
        "1000",
        "--chats",
        "7",
        "--connections",
        "8",
    ])
    .unwrap();
    let Command::Seed(args) = cli.command else {
        panic!("not seed")
    };
    seed::seed(args).await.unwrap();
    let per_chat = state.messages.lock().unwrap().clone();
    assert_eq!(per_chat.len(), 7);
    assert_eq!(per_chat.values().sum::<u64>(), 1000);
    assert!(per_chat.values().all(|n| *n > 100), "{per_chat:?}");
}

#[tokio::test]
async fn a_target_that_does_not_answer_is_reported_not_waited_for_forever() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = std::sync::Arc::new(
        crate::target::Target::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
    );
    let result = crate::setup::wait_ready(&target, std::time::Duration::from_millis(200)).await;
    assert!(matches!(
        result,
        Err(crate::error::BenchError::NotReady(..))
    ));
}

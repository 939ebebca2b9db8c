//! The service when PostgreSQL is down, hung or slow, over HTTP (API.md "Health" and the
//! README's "When a dependency is down"): `/ping` still answers 200; `/ping_db` and the
//! data routes answer 503 `service-unavailable` within about the dependency timeout; once
//! the database answers again the same instance uses it, without a restart. And a slow
//! database costs a request one budget for all its store calls together, not one per call.
//!
//! Runs when `MESSENGER_TEST_DATABASE_URL` is set (else each test says it is skipped and
//! passes). The service reaches the database through a TCP proxy on 127.0.0.1 that cuts,
//! hangs or slows the connections on demand.

// Test code: a failed expectation must end the test with a message naming it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use messenger_postgres::testing::{upstream_addr, url_via, Proxy, ProxyMode};
use messenger_tests::helpers::{spawn_app, Auth, Backend, TestApp, TestOptions};
use std::time::{Duration, Instant};

/// The dependency timeout the services of these tests run with (the default).
const BUDGET: Duration = Duration::from_millis(1000);
/// The most an answer may take while the database is unreachable or slow: about the
/// budget, with room for a loaded 2-core machine, and well under two budgets.
const WITHIN: Duration = Duration::from_millis(1500);

/// The PostgreSQL backend reached through a new proxy, or `None` (skipped).
async fn proxied_backend() -> Option<(Backend, Proxy)> {
    let mut backend = Backend::postgres()?;
    let url = backend.database_url.clone()?;
    let proxy = Proxy::start(upstream_addr(&url).unwrap()).await.unwrap();
    backend.database_url = Some(url_via(&url, proxy.addr()).unwrap());
    if !backend.is_wired().await {
        return None;
    }
    Some((backend, proxy))
}

async fn spawn(backend: &Backend, dependency_timeout: Duration) -> TestApp {
    spawn_app(
        TestOptions::new(backend.clone())
            .with(|c| c.server.dependency_timeout = dependency_timeout),
    )
    .await
}

/// Asserts 503 `service-unavailable` answered within [`WITHIN`].
macro_rules! unavailable_quickly {
    ($what:expr, $call:expr) => {{
        let started = Instant::now();
        let reply = $call.await;
        let took = started.elapsed();
        reply.assert_error(503, "service-unavailable", $what);
        assert!(took <= WITHIN, "{}: took {took:?}", $what);
        took
    }};
}

async fn outage_and_return(mode: ProxyMode) {
    let Some((backend, proxy)) = proxied_backend().await else {
        return;
    };
    let app = spawn(&backend, BUDGET).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &chat, &member, "before the outage")
        .await;

    proxy.set(mode);
    let started = Instant::now();
    app.get("/ping").await.assert_status(200, "ping");
    assert!(
        started.elapsed() <= WITHIN,
        "ping took {:?}",
        started.elapsed()
    );
    let mut slowest = Duration::ZERO;
    slowest = slowest.max(unavailable_quickly!("ping_db", app.get("/ping_db")));
    slowest = slowest.max(unavailable_quickly!(
        "a page",
        app.get_messages(&user, &chat, "10", None)
    ));
    slowest = slowest.max(unavailable_quickly!(
        "a post",
        app.post_message(&user, &chat, &member, "during the outage")
    ));
    slowest = slowest.max(unavailable_quickly!(
        "a new chat",
        app.create_chat(&user, "during the outage")
    ));
    println!("PostgreSQL {mode:?}: the slowest answer took {slowest:?}");

    proxy.set(ProxyMode::Pass);
    let back = Instant::now();
    loop {
        let reply = app.get("/ping_db").await;
        if reply.status == 200 {
            break;
        }
        reply.assert_error(503, "service-unavailable", "ping_db while coming back");
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the database was not used again within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("PostgreSQL {mode:?}: used again after {:?}", back.elapsed());
    app.post_ok(&user, &chat, &member, "after the outage").await;
    let page = app.get_messages(&user, &chat, "10", None).await;
    page.assert_status(200, "a page after the outage");
    assert!(
        page.text().contains("before the outage") && page.text().contains("after the outage"),
        "the page after the outage: {}",
        page.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_cut_ping_answers_data_routes_503_quickly_and_it_is_used_once_back() {
    outage_and_return(ProxyMode::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_hung_ping_answers_data_routes_503_quickly_and_it_is_used_once_back() {
    outage_and_return(ProxyMode::Blackhole).await;
}

/// Every answer of the database held back this long: one statement fits easily in the
/// budget, a handful do not.
const SLOW: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_database_costs_a_request_one_budget_for_all_its_store_calls() {
    let Some((backend, proxy)) = proxied_backend().await else {
        return;
    };
    let app = spawn(&backend, BUDGET).await;
    // The same request with a budget it cannot use up: how long it takes when every
    // call may wait what it needs.
    let patient = spawn(&backend, Duration::from_secs(9)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let other = patient.login_ok(&user.name, &user.password).await;

    proxy.set(ProxyMode::Delay(SLOW));
    // One store call fits in the budget.
    let started = Instant::now();
    app.get("/ping_db")
        .await
        .assert_status(200, "ping_db, slowly");
    println!("one call to the slow database: {:?}", started.elapsed());

    let started = Instant::now();
    patient
        .post_message(Auth::Token(other.clone()), &chat, &member, "patiently")
        .await
        .assert_status(201, "a post with a budget to spare");
    let unbounded = started.elapsed();
    println!("a post with time to spare: {unbounded:?}");
    assert!(
        unbounded > WITHIN,
        "the post makes too few store calls to show the budget ({unbounded:?})"
    );

    let took = unavailable_quickly!(
        "a post whose store calls together outlast the budget",
        app.post_message(&user, &chat, &member, "hastily")
    );
    println!("the same post within one budget: 503 after {took:?}");

    proxy.set(ProxyMode::Pass);
}

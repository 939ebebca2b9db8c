//! The service when Redis is refused, hung or absent (issue 4): every route answers within
//! about a second and never 500 — sessions come from the durable record, pages from the
//! store, limits from this instance's own limiter, and search answers 503 — and once Redis
//! answers again it is used again without a restart.
//!
//! Runs when `MESSENGER_TEST_REDIS_URL` is set (else each test says it is skipped and
//! passes); storage is in memory. Redis is reached through a TCP proxy that refuses or
//! hangs connections on demand.

// Test code: a failed expectation must end the test with a message naming it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod redis_support;

use messenger_redis::testing::{dead_port, Mode, Proxy};
use messenger_tests::helpers::unique;
use messenger_wiring::{CacheType, Storage};
use redis_support::{Answer, Instance, Setup, User};
use std::time::{Duration, Instant};

/// The most a request may take while Redis is unreachable.
const DEADLINE: Duration = Duration::from_millis(1200);

/// An instance over memory storage and `setup`'s Redis, with the page cache in Redis and
/// throttling on.
async fn spawn_on_redis(setup: &Setup) -> Instance {
    setup
        .spawn(|c| {
            c.storage = Storage::Memory;
            c.cache.cache_type = CacheType::Redis;
            c.limits.throttling = true;
            c.limits.rate_limit_per_sec = 1000;
            c.limits.rate_limit_burst = 1000;
        })
        .await
}

/// What a user has made before the outage.
struct Made {
    user: User,
    chat: String,
    member: String,
    task: String,
}

async fn make_things(app: &Instance, search: bool) -> Made {
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    for i in 0..12 {
        let posted = app
            .post(&user.token, &chat, &member, &format!("message {i}"))
            .await;
        assert_eq!(posted.status, 201, "post: {posted:?}");
    }
    // A full page, now cached.
    app.page_ok(&user.token, &chat, 5, None).await;
    let task = if search {
        let task =
            app.start_search(&user.token, "message")
                .await
                .field(201, "task_id", "start a search");
        app.wait_for_search(&user.token, &task).await;
        task
    } else {
        // No search can run without Redis: an id no task has.
        "0123456789abcdef0123456789abcdef".to_owned()
    };
    Made {
        user,
        chat,
        member,
        task,
    }
}

/// Calls every route while Redis is unreachable: each answers as expected, within the
/// deadline, never 500.
async fn every_route_degrades(app: &Instance, made: &Made, situation: &str) {
    let name = unique("outage");
    let t = made.user.token.as_str();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut check = |answer: Answer, status: u16, what: &str, took: Duration| {
        assert_eq!(answer.status, status, "{situation}: {what}: {answer:?}");
        assert!(took <= DEADLINE, "{situation}: {what} took {took:?}");
        slowest = slowest.max(took);
    };
    macro_rules! timed {
        ($status:expr, $what:expr, $call:expr) => {{
            let started = Instant::now();
            let answer = $call.await;
            check(answer, $status, $what, started.elapsed());
        }};
    }
    timed!(
        200,
        "ping",
        app.call(reqwest::Method::GET, "/ping", None, None)
    );
    timed!(201, "register", app.register(&name));
    timed!(400, "a failed login", app.login(&name, "wrong password"));
    timed!(
        201,
        "login",
        app.login(&name, messenger_tests::helpers::PASSWORD)
    );
    timed!(201, "create chat", app.create_chat(t, "during the outage"));
    timed!(201, "join", app.join(t, &made.chat, "another"));
    timed!(201, "post", app.post(t, &made.chat, &made.member, "hi"));
    timed!(200, "a cached page", app.page(t, &made.chat, 5, None));
    timed!(200, "a page", app.page(t, &made.chat, 100, None));
    timed!(503, "start a search", app.start_search(t, "message"));
    timed!(503, "search status", app.search_status(t, &made.task));
    timed!(503, "search results", app.search_results(t, &made.task, 10));
    // Logging out revokes the durable record, but other instances cannot be told: 503.
    // (A second session of the user, so the first keeps working after the outage.)
    let second = app.login_ok(&made.user.name).await;
    timed!(
        503,
        "logout (other instances could not be told)",
        app.logout(&second)
    );
    println!(
        "{situation}: every route answered in {:?}, the slowest in {slowest:?}",
        started.elapsed()
    );
}

/// Polls until a search can be started again (Redis used again), at most 5 s.
async fn wait_until_redis_is_used_again(app: &Instance, made: &Made, situation: &str) {
    let t = made.user.token.as_str();
    let started = Instant::now();
    loop {
        let answer = app.start_search(t, "message").await;
        if answer.status == 201 {
            println!(
                "{situation}: Redis used again after {:?}",
                started.elapsed()
            );
            break;
        }
        assert_eq!(answer.status, 503, "{situation}: while waiting: {answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{situation}: Redis still not used 5 s after it came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = app.search_status(t, &made.task).await;
    assert_eq!(
        status.status, 200,
        "the task from before the outage: {status:?}"
    );
    let logout = app.logout(t).await;
    assert_eq!(logout.status, 200, "logout once Redis is back: {logout:?}");
}

async fn outage_and_return(mode: Mode, test: &str) {
    let Some(mut setup) = Setup::from_env(test) else {
        return;
    };
    let proxy = Proxy::start(&setup.redis_url).await.unwrap();
    setup.redis_url = proxy.url();
    let app = spawn_on_redis(&setup).await;
    let made = make_things(&app, true).await;

    proxy.set(mode);
    every_route_degrades(&app, &made, &format!("Redis {mode:?}")).await;

    proxy.set(Mode::Pass);
    wait_until_redis_is_used_again(&app, &made, &format!("after {mode:?}")).await;
    setup.clean_up().await;
}

#[tokio::test]
async fn with_redis_refusing_every_route_answers_quickly_and_redis_is_used_once_back() {
    outage_and_return(
        Mode::Refuse,
        "with_redis_refusing_every_route_answers_quickly_and_redis_is_used_once_back",
    )
    .await;
}

#[tokio::test]
async fn with_redis_hung_every_route_answers_quickly_and_redis_is_used_once_back() {
    outage_and_return(
        Mode::Blackhole,
        "with_redis_hung_every_route_answers_quickly_and_redis_is_used_once_back",
    )
    .await;
}

#[tokio::test]
async fn with_no_redis_at_all_the_service_starts_and_every_route_answers_quickly() {
    let Some(mut setup) =
        Setup::from_env("with_no_redis_at_all_the_service_starts_and_every_route_answers_quickly")
    else {
        return;
    };
    setup.redis_url = format!("redis://{}", dead_port().unwrap());
    let started = Instant::now();
    let app = spawn_on_redis(&setup).await;
    println!("started without Redis in {:?}", started.elapsed());
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "start-up waited too long"
    );
    let made = make_things(&app, false).await;
    every_route_degrades(&app, &made, "no Redis").await;
}

//! Two instances of the service on one Redis behave as one (issue 4): a session from one
//! works on the other and a logout on one is seen by the other at once; one account's
//! requests over both instances share one budget, another account's budget untouched; a
//! search task started on one is read on the other; a page cached before a post is still
//! right after it, on either instance. A session ended on one instance (by its public id,
//! a password change, or signing out everywhere) is refused on the other at once.
//!
//! Runs when `MESSENGER_TEST_REDIS_URL` is set (else each test says it is skipped and
//! passes). With `MESSENGER_TEST_DATABASE_URL` too, both instances share PostgreSQL;
//! without it each keeps its data in its own memory, so only what lives in Redis is shared
//! (sessions once cached, budgets, tasks), and the page-cache test, which needs shared
//! messages, is skipped. Both instances use one key prefix, unique to the test, whose keys
//! are deleted at the end.

// Test code: a failed expectation must end the test with a message naming it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod redis_support;

use messenger_tests::helpers::PASSWORD;
use messenger_wiring::CacheType;
use redis_support::{Instance, Setup};
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two instances with the same configuration on one Redis and prefix, their clocks set
/// to the same time (as instances on hosts with synchronised clocks).
async fn two_instances(
    setup: &Setup,
    change: impl Fn(&mut messenger_wiring::Config),
) -> (Instance, Instance) {
    let a = setup.spawn(&change).await;
    let b = setup.spawn(&change).await;
    b.clock.set(messenger_ports::Clock::now(a.clock.as_ref()));
    (a, b)
}

/// A chat id nobody created: answers 404 `chat-not-found` once authenticated (and 401
/// before), so it shows whether a session is accepted without needing shared storage.
const NO_SUCH_CHAT: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_session_from_one_instance_works_on_the_other_and_a_logout_is_seen_at_once() {
    let Some(setup) = Setup::from_env(
        "a_session_from_one_instance_works_on_the_other_and_a_logout_is_seen_at_once",
    ) else {
        return;
    };
    let (a, b) = two_instances(&setup, |_| {}).await;
    let user = a.new_user().await;
    // Accepted once on A: the session is now in the shared cache (and, with shared
    // storage, in the shared durable record).
    let on_a = a.page(&user.token, NO_SUCH_CHAT, 10, None).await;
    assert_eq!(
        (on_a.status, on_a.code()),
        (404, "chat-not-found"),
        "A: {on_a:?}"
    );
    let on_b = b.page(&user.token, NO_SUCH_CHAT, 10, None).await;
    assert_eq!(
        (on_b.status, on_b.code()),
        (404, "chat-not-found"),
        "B must accept A's session: {on_b:?}"
    );
    if setup.shared_storage() {
        let chat = b.create_chat(&user.token, "made on B").await.field(
            201,
            "chat_id",
            "create a chat on B",
        );
        a.join(&user.token, &chat, "joined on A")
            .await
            .field(201, "user_id", "join it on A");
    }

    let logout = a.logout(&user.token).await;
    assert_eq!(logout.status, 200, "logout on A: {logout:?}");
    for (name, instance) in [("B", &b), ("A", &a)] {
        let after = instance.page(&user.token, NO_SUCH_CHAT, 10, None).await;
        assert_eq!(
            (after.status, after.code()),
            (401, "invalid-session-id"),
            "{name} right after the logout on A: {after:?}"
        );
    }
    setup.clean_up().await;
}

/// Moves both instances' clocks with real time until dropped, as instances on hosts with
/// synchronised clocks see it (the limiter keeps time with the `Clock` port).
struct RealTime(tokio::task::JoinHandle<()>);

impl RealTime {
    fn start(a: &Instance, b: &Instance) -> Self {
        let (a, b) = (Arc::clone(&a.clock), Arc::clone(&b.clock));
        // A minute on: every budget the set-up used is full again.
        let base = messenger_ports::Clock::now(a.as_ref()).plus(Duration::from_secs(60));
        let started = Instant::now();
        Self(tokio::spawn(async move {
            loop {
                let now = base.plus(started.elapsed());
                a.set(now);
                b.set(now);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }))
    }
}

impl Drop for RealTime {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn one_accounts_requests_over_both_instances_share_one_budget() {
    let Some(setup) = Setup::from_env("one_accounts_requests_over_both_instances_share_one_budget")
    else {
        return;
    };
    let (per_sec, burst) = (20u32, 5u32);
    let (a, b) = two_instances(&setup, |c| {
        c.limits.throttling = true;
        c.limits.rate_limit_per_sec = per_sec;
        c.limits.rate_limit_burst = burst;
    })
    .await;
    let user = a.new_user().await;
    let other = a.new_user().await;
    let (chat, _) = a.chat_with_member(&user).await;
    a.join(&other.token, &chat, "other")
        .await
        .field(201, "user_id", "the other account joins");
    // Both sessions are in the shared cache once A has accepted them.
    for u in [&user, &other] {
        let read = a.page(&u.token, &chat, 10, None).await;
        assert_eq!(read.status, 200, "set-up read on A: {read:?}");
    }
    let clocks = RealTime::start(&a, &b);

    let period = Duration::from_secs(3);
    let allowed = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let instances = [&a, &b];
    let shared = setup.shared_storage();
    let workers = (0..4).map(|i| {
        let instance = instances[i % 2];
        let (allowed, refused) = (Arc::clone(&allowed), Arc::clone(&refused));
        let (token, chat) = (user.token.clone(), chat.clone());
        async move {
            while started.elapsed() < period {
                let answer = instance.page(&token, &chat, 10, None).await;
                match answer.status {
                    429 => refused.fetch_add(1, Ordering::Relaxed),
                    200 => allowed.fetch_add(1, Ordering::Relaxed),
                    // Without shared storage B does not know the chat; the limiter let the
                    // request through all the same.
                    404 if !shared => allowed.fetch_add(1, Ordering::Relaxed),
                    _ => panic!("unexpected answer while throttled: {answer:?}"),
                };
            }
        }
    });
    futures_util::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = allowed.load(Ordering::Relaxed) as f64;
    let ceiling = f64::from(burst) + f64::from(per_sec) * elapsed;
    println!(
        "two instances: {allowed} allowed, {} refused in {elapsed:.2} s; \
         limit·T + burst = {ceiling:.1}",
        refused.load(Ordering::Relaxed)
    );
    assert!(
        allowed <= ceiling + 1.0,
        "{allowed} requests allowed over both instances: more than limit·T + burst = {ceiling:.1}"
    );
    assert!(
        allowed >= 0.9 * ceiling,
        "{allowed} requests allowed over both instances: under 90 % of {ceiling:.1}"
    );

    // The other account's budget is untouched, on either instance.
    for (i, instance) in [&b, &a, &b].into_iter().enumerate() {
        let answer = instance.page(&other.token, &chat, 10, None).await;
        assert_ne!(
            answer.status, 429,
            "the other account's request {i}: {answer:?}"
        );
    }
    drop(clocks);
    setup.clean_up().await;
}

#[tokio::test]
async fn a_search_task_started_on_one_instance_is_read_on_the_other() {
    let Some(setup) = Setup::from_env("a_search_task_started_on_one_instance_is_read_on_the_other")
    else {
        return;
    };
    let (a, b) = two_instances(&setup, |_| {}).await;
    let user = a.new_user().await;
    let (chat, member) = a.chat_with_member(&user).await;
    for text in ["hello shared world", "nothing to find here"] {
        let posted = a.post(&user.token, &chat, &member, text).await;
        assert_eq!(posted.status, 201, "post: {posted:?}");
    }
    let task =
        a.start_search(&user.token, "shared")
            .await
            .field(201, "task_id", "start a search on A");
    // B reads the status and results that A's worker stored in Redis.
    assert_eq!(b.wait_for_search(&user.token, &task).await, "SUCCESS");
    let results = b.search_results(&user.token, &task, 10).await;
    assert_eq!(results.status, 200, "results on B: {results:?}");
    let texts: Vec<_> = results.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["hello shared world"], "B's page of A's task");
    let stranger = b.new_user().await;
    let theirs = b.search_status(&stranger.token, &task).await;
    assert_eq!(
        (theirs.status, theirs.code()),
        (404, "task-not-found"),
        "another account on B: {theirs:?}"
    );
    setup.clean_up().await;
}

#[tokio::test]
async fn a_page_cached_before_a_post_is_still_right_after_it_on_either_instance() {
    let test = "a_page_cached_before_a_post_is_still_right_after_it_on_either_instance";
    let Some(setup) = Setup::from_env(test) else {
        return;
    };
    if !setup.shared_storage() {
        println!(
            "skipped: {test} needs shared storage ({})",
            messenger_tests::helpers::backend::DATABASE_VAR
        );
        return;
    }
    let (a, b) = two_instances(&setup, |c| c.cache.cache_type = CacheType::Redis).await;
    let user = a.new_user().await;
    let (chat, member) = a.chat_with_member(&user).await;
    for i in 1..=10 {
        let posted = a.post(&user.token, &chat, &member, &format!("m{i}")).await;
        assert_eq!(posted.status, 201, "post: {posted:?}");
    }
    let t = &user.token;
    // Full pages cached through A and through B, and the (empty) page after them read on
    // both.
    let first = a.page_ok(t, &chat, 5, None).await;
    let second = b.page_ok(t, &chat, 5, Some(&first.1)).await;
    let end = second.1.clone();
    assert!(a.page_ok(t, &chat, 5, Some(&end)).await.0.is_empty());
    assert!(b.page_ok(t, &chat, 5, Some(&end)).await.0.is_empty());

    let posted = b.post(t, &chat, &member, "m11").await;
    assert_eq!(posted.status, 201, "post on B: {posted:?}");
    for (name, instance) in [("A", &a), ("B", &b)] {
        assert_eq!(
            instance.page_ok(t, &chat, 5, Some(&end)).await.0,
            ["m11"],
            "{name}'s next page after the post on B"
        );
        assert_eq!(
            instance.page_ok(t, &chat, 5, None).await,
            first,
            "{name}: first page"
        );
        assert_eq!(
            instance.page_ok(t, &chat, 5, Some(&first.1)).await,
            second,
            "{name}: second page"
        );
    }
    setup.clean_up().await;
}

/// Whether `token` is accepted by `instance` (a chat nobody created answers 404 once
/// authenticated); the status and code otherwise.
async fn accepted(instance: &Instance, token: &str) -> Result<(), (u16, String)> {
    let answer = instance.page(token, NO_SUCH_CHAT, 10, None).await;
    match (answer.status, answer.code()) {
        (404, "chat-not-found") => Ok(()),
        (status, code) => Err((status, code.to_owned())),
    }
}

#[tokio::test]
async fn sessions_ended_on_one_instance_are_refused_on_the_other_at_once() {
    let test = "sessions_ended_on_one_instance_are_refused_on_the_other_at_once";
    let Some(setup) = Setup::from_env(test) else {
        return;
    };
    if !setup.shared_storage() {
        println!("skipped: {test} needs the shared PostgreSQL as well");
        return;
    }
    let (a, b) = two_instances(&setup, |_| {}).await;
    let user = a.new_user().await;
    let second = a.login_ok(&user.name).await;
    let third = b.login_ok(&user.name).await;
    // Every session accepted on both: each is in the shared cache.
    for token in [&user.token, &second, &third] {
        for (name, instance) in [("A", &a), ("B", &b)] {
            assert_eq!(accepted(instance, token).await, Ok(()), "{name}, before");
        }
    }

    // Ending one session by its public id on A.
    let listed = a
        .call(Method::GET, "/v1/auth/sessions", Some(&third), None)
        .await;
    assert_eq!(listed.status, 200, "the list on A: {listed:?}");
    let third_id = listed.body["sessions"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["current"] == true))
        .and_then(|s| s["session_id"].as_str())
        .unwrap_or_else(|| panic!("the current session in {listed:?}"))
        .to_owned();
    let ended = a
        .call(
            Method::DELETE,
            &format!("/v1/auth/sessions/{third_id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(ended.status, 200, "DELETE on A: {ended:?}");
    assert_eq!(
        accepted(&b, &third).await,
        Err((401, "invalid-session-id".to_owned())),
        "B right after the session was ended on A"
    );
    assert_eq!(accepted(&b, &second).await, Ok(()), "B: the others stay");

    // A password change on A ends every other session, on B too.
    let changed = a
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&user.token),
            Some(json!({ "password": PASSWORD, "new_password": "another passphrase" })),
        )
        .await;
    assert_eq!(changed.status, 200, "password change on A: {changed:?}");
    assert_eq!(
        accepted(&b, &second).await,
        Err((401, "invalid-session-id".to_owned())),
        "B right after the password change on A"
    );
    assert_eq!(
        accepted(&b, &user.token).await,
        Ok(()),
        "B: the session that changed the password stays"
    );

    // Signing out everywhere on B ends the last one on A.
    let out = b
        .call(Method::POST, "/v1/auth/logout-all", Some(&user.token), None)
        .await;
    assert_eq!(out.status, 200, "logout-all on B: {out:?}");
    assert_eq!(
        accepted(&a, &user.token).await,
        Err((401, "invalid-session-id".to_owned())),
        "A right after logout-all on B"
    );
    setup.clean_up().await;
}

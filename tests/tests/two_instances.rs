//! Two instances of the service on one Redis behave as one (issue 4): a session from one
//! works on the other and a logout on one is seen by the other at once; one account's
//! requests over both instances share one budget; a search task started on one is read on
//! the other; a page cached before a post is still right after it, on either instance.
//!
//! Runs when `MESSENGER_TEST_REDIS_URL` is set (else each test says it is skipped and
//! passes). With `MESSENGER_TEST_DATABASE_URL` too, both instances share PostgreSQL;
//! without it each has its own in-memory store, so only what lives in Redis is shared
//! (sessions once cached, budgets, tasks) and the page-cache test, which needs shared
//! messages, is skipped. Both instances use one key prefix, unique to the test, whose keys
//! are deleted at the end.

// Test code: a failed expectation must end the test with a message naming it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use messenger_redis::{RedisConfig, RedisStore};
use messenger_tests::helpers::backend::{DATABASE_VAR, REDIS_VAR};
use messenger_tests::helpers::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two running instances over one Redis (and PostgreSQL, when shared).
struct Pair {
    a: TestApp,
    b: TestApp,
    shared_storage: bool,
    redis_url: String,
    prefix: String,
}

impl Pair {
    /// Two instances with the same configuration (`change` applied to both) and one
    /// unique key prefix; `None` when Redis is not configured for tests.
    async fn start(test: &str, change: impl Fn(&mut messenger_api::Config)) -> Option<Self> {
        let Some(redis_url) = std::env::var(REDIS_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
        else {
            println!("skipped: {test} needs {REDIS_VAR}");
            return None;
        };
        let database_url = std::env::var(DATABASE_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let shared_storage = database_url.is_some();
        let backend = Backend {
            name: if shared_storage {
                "postgres_redis"
            } else {
                "memory_redis"
            },
            database_url,
            redis_url: Some(redis_url.clone()),
            amqp_url: None,
        };
        let prefix = format!("{}:", unique("two-instances"));
        let options = || {
            TestOptions::new(backend.clone()).with(|c| {
                c.redis_key_prefix.clone_from(&prefix);
                change(c);
            })
        };
        let a = spawn_app(options()).await;
        let b = spawn_app(options()).await;
        // One time for both, as instances with synchronised clocks have.
        b.set_time(a.now());
        Some(Self {
            a,
            b,
            shared_storage,
            redis_url,
            prefix,
        })
    }

    /// Deletes every key the pair wrote.
    async fn clean_up(self) {
        let mut config = RedisConfig::new(self.redis_url.clone());
        config.key_prefix.clone_from(&self.prefix);
        let store = RedisStore::connect(&config).await.unwrap();
        store.delete_prefixed_keys().await.unwrap();
    }
}

/// Moves both instances' clocks with real time until dropped, as two instances on hosts
/// with synchronised clocks see it (the limiter keeps time with the `Clock` port).
struct RealTime {
    task: tokio::task::JoinHandle<()>,
}

impl RealTime {
    fn start(pair: &Pair) -> Self {
        let (a, b) = (Arc::clone(&pair.a.clock), Arc::clone(&pair.b.clock));
        // A minute on: every budget the set-up used is full again.
        let base = pair.a.now().plus(Duration::from_secs(60));
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                let now = base.plus(started.elapsed());
                a.set(now);
                b.set(now);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        Self { task }
    }
}

impl Drop for RealTime {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A chat id nobody created: answers 404 `chat-not-found` once authenticated (and 401
/// before), so it shows whether a session is accepted without needing shared storage.
const NO_SUCH_CHAT: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_session_from_one_instance_works_on_the_other_and_a_logout_is_seen_at_once() {
    let Some(pair) = Pair::start(
        "a_session_from_one_instance_works_on_the_other_and_a_logout_is_seen_at_once",
        |_| {},
    )
    .await
    else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let user = a.new_user().await;
    // Authenticated once on A: the session is now in the shared cache (and, with shared
    // storage, in the shared durable record).
    a.get_messages(&user, NO_SUCH_CHAT, "10", None)
        .await
        .assert_error(404, "chat-not-found", "A accepts its own session");
    b.get_messages(&user, NO_SUCH_CHAT, "10", None)
        .await
        .assert_error(404, "chat-not-found", "B accepts A's session");
    if pair.shared_storage {
        let chat = b.create_chat_ok(&user).await;
        a.join_ok(&user, &chat, "on-a").await;
    }

    a.logout(&user).await.assert_empty(200, "logout on A");
    b.get_messages(&user, NO_SUCH_CHAT, "10", None)
        .await
        .assert_error(401, "invalid-session-id", "B right after the logout on A");
    a.get_messages(&user, NO_SUCH_CHAT, "10", None)
        .await
        .assert_error(401, "invalid-session-id", "A after its own logout");
    pair.clean_up().await;
}

#[tokio::test]
async fn one_accounts_requests_over_both_instances_share_one_budget() {
    let (per_sec, burst) = (20u32, 5u32);
    let Some(pair) = Pair::start(
        "one_accounts_requests_over_both_instances_share_one_budget",
        |c| {
            c.throttling = true;
            c.rate_limit_per_sec = per_sec;
            c.rate_limit_burst = burst;
        },
    )
    .await
    else {
        return;
    };
    let user = pair.a.new_user().await;
    let (chat, _) = pair.a.chat_with_member(&user).await;
    let other = pair.a.new_user().await;
    // Each session is in the shared cache once A has accepted it.
    for u in [&user, &other] {
        pair.a
            .get_messages(u, &chat, "10", None)
            .await
            .assert_status(200, "set-up read on A");
    }
    let _clocks = RealTime::start(&pair);

    let period = Duration::from_secs(3);
    let allowed = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let apps = [&pair.a, &pair.b];
    let mut workers = Vec::new();
    for i in 0..4 {
        let app = apps[i % 2];
        let (allowed, refused) = (Arc::clone(&allowed), Arc::clone(&refused));
        let (user, chat, shared) = (user.clone(), chat.clone(), pair.shared_storage);
        workers.push(async move {
            while started.elapsed() < period {
                let reply = app.get_messages(&user, &chat, "10", None).await;
                match reply.status {
                    429 => refused.fetch_add(1, Ordering::Relaxed),
                    200 => allowed.fetch_add(1, Ordering::Relaxed),
                    // Without shared storage B does not know the chat; the request was
                    // still let through by the limiter.
                    404 if !shared => allowed.fetch_add(1, Ordering::Relaxed),
                    _ => panic!("unexpected answer while throttled: {reply}"),
                };
            }
        });
    }
    futures_util::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = allowed.load(Ordering::Relaxed) as f64;
    let ceiling = f64::from(burst) + f64::from(per_sec) * elapsed;
    println!(
        "two instances: {allowed} allowed, {} refused in {elapsed:.2} s; limit·T + burst = {ceiling:.1}",
        refused.load(Ordering::Relaxed)
    );
    assert!(
        allowed <= ceiling + 1.0,
        "{allowed} requests allowed over both instances, more than limit·T + burst = {ceiling:.1}"
    );
    assert!(
        allowed >= 0.9 * ceiling,
        "{allowed} requests allowed over both instances, under 90 % of {ceiling:.1}"
    );

    // Another account's budget is untouched.
    for (i, app) in [&pair.b, &pair.a, &pair.b].into_iter().enumerate() {
        let reply = app.get_messages(&other, &chat, "10", None).await;
        assert_ne!(reply.status, 429, "another account's request {i}: {reply}");
    }
    drop(_clocks);
    pair.clean_up().await;
}

#[tokio::test]
async fn a_search_task_started_on_one_instance_is_read_on_the_other() {
    let Some(pair) = Pair::start(
        "a_search_task_started_on_one_instance_is_read_on_the_other",
        |_| {},
    )
    .await
    else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let user = a.new_user().await;
    let (chat, member) = a.chat_with_member(&user).await;
    a.post_ok(&user, &chat, &member, "hello shared world").await;
    a.post_ok(&user, &chat, &member, "nothing to find here")
        .await;
    let task = a.start_search_ok(&user, "shared").await;
    // B reads the status and results A's worker stored in Redis.
    assert_eq!(b.wait_for_search(&user, &task).await, "SUCCESS");
    let hits = b.hits_ok(&user, &task, 10, None).await;
    let texts: Vec<_> = hits.messages.iter().map(|h| h.text.as_str()).collect();
    assert_eq!(texts, ["hello shared world"], "B's page of A's task");
    let stranger = b.new_user().await;
    b.search_status(&stranger, &task).await.assert_error(
        404,
        "task-not-found",
        "another account on B",
    );
    pair.clean_up().await;
}

#[tokio::test]
async fn a_page_cached_before_a_post_is_still_right_after_it_on_either_instance() {
    let Some(pair) = Pair::start(
        "a_page_cached_before_a_post_is_still_right_after_it_on_either_instance",
        |c| c.cache_type = messenger_api::CacheType::Redis,
    )
    .await
    else {
        return;
    };
    if !pair.shared_storage {
        println!(
            "skipped: a_page_cached_before_a_post_is_still_right_after_it_on_either_instance \
             needs shared storage ({DATABASE_VAR})"
        );
        pair.clean_up().await;
        return;
    }
    let (a, b) = (&pair.a, &pair.b);
    let user = a.new_user().await;
    let (chat, member) = a.chat_with_member(&user).await;
    for i in 1..=10 {
        a.post_ok(&user, &chat, &member, &format!("m{i}")).await;
    }
    // Full pages cached through A and B, and the (empty) page after them read on both.
    let first = a.page_ok(&user, &chat, 5, None).await;
    let second = b.page_ok(&user, &chat, 5, Some(&first.next.iterator)).await;
    let end = second.next.iterator.clone();
    assert!(a
        .page_ok(&user, &chat, 5, Some(&end))
        .await
        .messages
        .is_empty());
    assert!(b
        .page_ok(&user, &chat, 5, Some(&end))
        .await
        .messages
        .is_empty());

    b.post_ok(&user, &chat, &member, "m11").await;
    let texts = |p: &Page<Message>| {
        p.messages
            .iter()
            .map(|m| m.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(&a.page_ok(&user, &chat, 5, Some(&end)).await),
        ["m11"],
        "A's next page after B's post"
    );
    assert_eq!(
        texts(&b.page_ok(&user, &chat, 5, Some(&end)).await),
        ["m11"],
        "B's next page after its post"
    );
    for app in [a, b] {
        assert_eq!(
            app.page_ok(&user, &chat, 5, None).await,
            first,
            "the cached first page"
        );
        assert_eq!(
            app.page_ok(&user, &chat, 5, Some(&first.next.iterator))
                .await,
            second,
            "the cached second page"
        );
    }
    pair.clean_up().await;
}

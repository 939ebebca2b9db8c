//! Redis refused, hung or absent: every call answers `Unavailable` within the deadline
//! (about 1 s; later calls at once), the fallback limiter takes over, and once Redis is
//! back it is used again without a restart.

use crate::support::{clean_up, config, redis_url, store, wall_clock, Mode, Proxy};
use async_trait::async_trait;
use messenger_domain::{
    AccountId, ChatId, MemberId, Message, MessageId, SearchQuery, SearchTask, Session, TaskId,
    TaskStatus, Timestamp, TokenHash,
};
use messenger_ports::testing::unique_u128;
use messenger_ports::{
    AttemptCounter, PageCache, PageKey, PortError, PortResult, RateDecision, RateLimiter,
    SessionCache, TaskStore,
};
use messenger_redis::{
    FallbackLimiter, RedisAttempts, RedisPageCache, RedisRateLimiter, RedisSessionCache,
    RedisStore, RedisTaskStore,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most any call may take while Redis is unreachable.
const DEADLINE: Duration = Duration::from_millis(1200);

type Outcome = (&'static str, Duration, PortResult<()>);

/// Calls every adapter operation once, timing each.
async fn every_call(store: &RedisStore) -> Vec<Outcome> {
    let pages = RedisPageCache::new(store);
    let sessions = RedisSessionCache::new(store);
    let limiter = RedisRateLimiter::new(store, "requests", 100, 100, wall_clock());
    let attempts = RedisAttempts::new(store, wall_clock());
    let tasks = RedisTaskStore::new(store, wall_clock());

    // A page key never put, so the in-process layer cannot answer for Redis.
    let chat = ChatId::from_u128(unique_u128());
    let key = PageKey {
        chat,
        after: 0,
        limit: 1,
    };
    let page = Arc::new(vec![Message {
        id: MessageId::from_u128(unique_u128()),
        chat_id: chat,
        seq: 1,
        user_id: MemberId::from_u128(1),
        user_name: "Ann".into(),
        text: "hi".into(),
        created_at: Timestamp::from_micros(1),
    }]);
    let session = Session {
        token_hash: TokenHash([7; 32]),
        account_id: AccountId::from_u128(1),
        created_at: Timestamp::from_micros(1),
        expires_at: Timestamp::from_micros(i64::MAX / 2),
        revoked: false,
        client_address: "127.0.0.1".into(),
        user_agent: None,
    };
    let task = SearchTask {
        id: TaskId::from_u128(unique_u128()),
        account_id: AccountId::from_u128(1),
        query: SearchQuery::parse("qqqq").unwrap(),
        all_chats: false,
        status: TaskStatus::Waiting,
        created_at: Timestamp::from_micros(1),
    };
    let ttl = Duration::from_secs(60);
    let mut out = Vec::new();
    macro_rules! timed {
        ($name:expr, $call:expr) => {{
            let started = Instant::now();
            let result = $call.await.map(|_| ());
            out.push(($name, started.elapsed(), result));
        }};
    }
    timed!("page get", pages.get(&key));
    timed!("page put", pages.put(&key, Arc::clone(&page)));
    timed!("session get", sessions.get(&session.token_hash));
    timed!("session put", sessions.put(&session, ttl));
    timed!("session remove", sessions.remove(&session.token_hash));
    timed!("rate check", limiter.check("k"));
    timed!("failures", attempts.failures("k"));
    timed!("record failure", attempts.record_failure("k", ttl));
    timed!("reset failures", attempts.reset("k"));
    timed!("insert task", tasks.insert_task(&task, ttl));
    timed!("read task", tasks.task(task.id));
    timed!(
        "set status",
        tasks.set_status(task.id, TaskStatus::InProcess, ttl)
    );
    timed!("complete", tasks.complete(task.id, &[], ttl));
    timed!("hits", tasks.hits(task.id, 0, 10));
    timed!("delete task", tasks.delete_task(task.id));
    out
}

/// Every call answered `Unavailable` within the deadline.
fn assert_all_unavailable(outcomes: &[Outcome], situation: &str) {
    for (name, took, result) in outcomes {
        assert!(
            matches!(result, Err(PortError::Unavailable(_))),
            "{situation}: {name} must answer Unavailable, got {result:?}"
        );
        assert!(
            *took <= DEADLINE,
            "{situation}: {name} took {took:?} (> {DEADLINE:?})"
        );
    }
    let total: Duration = outcomes.iter().map(|(_, took, _)| *took).sum();
    let slowest = outcomes.iter().max_by_key(|(_, took, _)| *took);
    println!(
        "{situation}: {} calls, all Unavailable, {total:?} in all; slowest {slowest:?}",
        outcomes.len()
    );
}

/// Waits (polling, at most 5 s) until every call succeeds again; returns how long it took.
async fn wait_until_used_again(store: &RedisStore, situation: &str) -> Duration {
    let started = Instant::now();
    loop {
        let outcomes = every_call(store).await;
        let failed: Vec<_> = outcomes.iter().filter(|(_, _, r)| r.is_err()).collect();
        if failed.is_empty() {
            let took = started.elapsed();
            println!("{situation}: Redis used again after {took:?}");
            return took;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{situation}: Redis still not used 5 s after it came back: {failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A local limiter that allows everything and counts its calls.
#[derive(Default)]
struct CountingLocal(AtomicU32);

#[async_trait]
impl RateLimiter for CountingLocal {
    async fn check(&self, _key: &str) -> PortResult<RateDecision> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(RateDecision::Allowed)
    }
}

/// The fallback limiter answers from the local limiter while Redis is out, quickly.
async fn assert_fallback_limiter_answers(store: &RedisStore) {
    let local = Arc::new(CountingLocal::default());
    let limiter = FallbackLimiter::new(
        Arc::new(RedisRateLimiter::new(
            store,
            "requests",
            100,
            100,
            wall_clock(),
        )),
        local.clone(),
    );
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(limiter.check("k").await, Ok(RateDecision::Allowed));
        assert!(started.elapsed() <= DEADLINE);
    }
    assert_eq!(
        local.0.load(Ordering::SeqCst),
        3,
        "the local limiter answered"
    );
    assert!(limiter.is_degraded());
}

async fn outage_and_recovery(mode: Mode, test: &str) {
    let Some(url) = redis_url(test) else {
        return;
    };
    let proxy = Proxy::start(&url).await.unwrap();
    let store = store(&config(&proxy.url())).await;
    let before = every_call(&store).await;
    assert!(
        before.iter().all(|(_, _, r)| r.is_ok()),
        "through the proxy, before the outage: {before:?}"
    );

    proxy.set(mode);
    // Let the proxy act on open connections.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_all_unavailable(&every_call(&store).await, &format!("{mode:?}"));
    assert_fallback_limiter_answers(&store).await;
    assert!(!store.is_up());

    proxy.set(Mode::Pass);
    wait_until_used_again(&store, &format!("after {mode:?}")).await;
    assert!(store.is_up());
    clean_up(&store).await;
}

#[tokio::test]
async fn refused_redis_answers_unavailable_quickly_and_is_used_again_once_back() {
    outage_and_recovery(
        Mode::Refuse,
        "refused_redis_answers_unavailable_quickly_and_is_used_again_once_back",
    )
    .await;
}

#[tokio::test]
async fn hung_redis_answers_unavailable_quickly_and_is_used_again_once_back() {
    outage_and_recovery(
        Mode::Blackhole,
        "hung_redis_answers_unavailable_quickly_and_is_used_again_once_back",
    )
    .await;
}

#[tokio::test]
async fn absent_redis_answers_unavailable_quickly_from_the_start() {
    let port = messenger_redis::testing::dead_port().unwrap().port();
    let started = Instant::now();
    let store = RedisStore::connect(&config(&format!("redis://127.0.0.1:{port}")))
        .await
        .unwrap();
    assert!(
        started.elapsed() <= DEADLINE,
        "connect must give up waiting within the connect timeout, took {:?}",
        started.elapsed()
    );
    assert!(!store.is_up());
    assert_all_unavailable(&every_call(&store).await, "absent");
    assert_fallback_limiter_answers(&store).await;
}

#[tokio::test]
async fn redis_hung_at_start_is_used_once_it_answers() {
    let Some(url) = redis_url("redis_hung_at_start_is_used_once_it_answers") else {
        return;
    };
    let proxy = Proxy::start(&url).await.unwrap();
    proxy.set(Mode::Blackhole);
    let started = Instant::now();
    let store = store(&config(&proxy.url())).await;
    assert!(
        started.elapsed() <= DEADLINE,
        "connect took {:?}",
        started.elapsed()
    );
    assert_all_unavailable(&every_call(&store).await, "hung at start");

    proxy.set(Mode::Pass);
    wait_until_used_again(&store, "hung at start, then answering").await;
    clean_up(&store).await;
}

//! Two adapter instances (two clients) on one Redis behave as one: budgets, sessions,
//! pages and tasks are shared; the combined rate is the configured one.

use crate::support::{clean_up, config, redis_url, store, wall_clock};
use messenger_domain::{
    AccountId, ChatId, MemberId, Message, MessageId, SearchHit, SearchQuery, SearchTask, Session,
    TaskId, TaskStatus, Timestamp, TokenHash,
};
use messenger_ports::testing::unique_u128;
use messenger_ports::{
    HitsSlice, PageCache, PageKey, RateDecision, RateLimiter, SessionCache, TaskStore,
};
use messenger_redis::{
    RedisPageCache, RedisRateLimiter, RedisSessionCache, RedisStore, RedisTaskStore,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two stores on one Redis and one prefix: two instances of the service.
async fn two_instances(url: &str) -> (RedisStore, RedisStore) {
    let config = config(url);
    (store(&config).await, store(&config).await)
}

fn now() -> Timestamp {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    Timestamp::from_micros(i64::try_from(us).unwrap())
}

#[tokio::test]
async fn a_budget_spent_on_one_instance_is_spent_on_the_other() {
    let Some(url) = redis_url("a_budget_spent_on_one_instance_is_spent_on_the_other") else {
        return;
    };
    let (a, b) = two_instances(&url).await;
    let on_a = RedisRateLimiter::new(&a, "requests", 1, 3, wall_clock());
    let on_b = RedisRateLimiter::new(&b, "requests", 1, 3, wall_clock());
    for i in 0..3 {
        assert_eq!(
            on_a.check("alice").await,
            Ok(RateDecision::Allowed),
            "request {i} on A"
        );
    }
    assert!(
        matches!(on_b.check("alice").await, Ok(RateDecision::Limited { .. })),
        "B must see the budget A used"
    );
    assert_eq!(
        on_b.check("bob").await,
        Ok(RateDecision::Allowed),
        "another key keeps its own budget"
    );
    let other_name = RedisRateLimiter::per_minute(&b, "registrations", 10, 3, wall_clock());
    assert_eq!(
        other_name.check("alice").await,
        Ok(RateDecision::Allowed),
        "a limiter of another name keeps its own budgets"
    );
    clean_up(&a).await;
}

#[tokio::test]
async fn retry_after_tells_when_the_next_request_fits() {
    let Some(url) = redis_url("retry_after_tells_when_the_next_request_fits") else {
        return;
    };
    let store = store(&config(&url)).await;
    let limiter = RedisRateLimiter::new(&store, "requests", 4, 1, wall_clock());
    assert_eq!(limiter.check("k").await, Ok(RateDecision::Allowed));
    let Ok(RateDecision::Limited { retry_after }) = limiter.check("k").await else {
        panic!("the second request at once must be limited");
    };
    assert!(
        retry_after > Duration::from_millis(200) && retry_after <= Duration::from_millis(250),
        "at 4/s the wait right after a request is just under 250 ms, got {retry_after:?}"
    );
    tokio::time::sleep(retry_after).await;
    assert_eq!(limiter.check("k").await, Ok(RateDecision::Allowed));
    clean_up(&store).await;
}

/// Four workers on two instances hammer one key for `T`: the allowed count must be the
/// burst plus the rate times the elapsed time (and at least 90 % of it).
#[tokio::test]
async fn combined_allowed_requests_match_the_rate_and_burst() {
    let Some(url) = redis_url("combined_allowed_requests_match_the_rate_and_burst") else {
        return;
    };
    let (a, b) = two_instances(&url).await;
    let (per_sec, burst) = (50u32, 10u32);
    let limiters: Vec<Arc<dyn RateLimiter>> = vec![
        Arc::new(RedisRateLimiter::new(
            &a,
            "requests",
            per_sec,
            burst,
            wall_clock(),
        )),
        Arc::new(RedisRateLimiter::new(
            &b,
            "requests",
            per_sec,
            burst,
            wall_clock(),
        )),
    ];
    let allowed = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs(2);
    let start = Instant::now();
    let mut workers = Vec::new();
    for i in 0..4 {
        let limiter = Arc::clone(&limiters[i % 2]);
        let (allowed, checks) = (Arc::clone(&allowed), Arc::clone(&checks));
        workers.push(tokio::spawn(async move {
            while start.elapsed() < period {
                checks.fetch_add(1, Ordering::Relaxed);
                if limiter.check("shared").await.expect("check") == RateDecision::Allowed {
                    allowed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let allowed = allowed.load(Ordering::Relaxed) as f64;
    let ceiling = f64::from(burst) + f64::from(per_sec) * elapsed;
    println!(
        "allowed {allowed} of {} checks in {elapsed:.3} s; ceiling {ceiling:.1}",
        checks.load(Ordering::Relaxed)
    );
    assert!(
        allowed <= ceiling + 1.0,
        "allowed {allowed} > burst + rate·T = {ceiling:.1}"
    );
    assert!(
        allowed >= 0.9 * ceiling,
        "allowed {allowed} < 90 % of {ceiling:.1}"
    );
    clean_up(&a).await;
}

fn session() -> Session {
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(&unique_u128().to_be_bytes());
    Session {
        token_hash: TokenHash(hash),
        account_id: AccountId::from_u128(unique_u128()),
        created_at: now(),
        expires_at: now().plus(Duration::from_secs(3600)),
        revoked: false,
        client_address: "127.0.0.1".into(),
        user_agent: Some("sharing-test".into()),
    }
}

#[tokio::test]
async fn a_logout_on_one_instance_is_seen_on_the_other_and_not_undone() {
    let Some(url) = redis_url("a_logout_on_one_instance_is_seen_on_the_other_and_not_undone")
    else {
        return;
    };
    let (a, b) = two_instances(&url).await;
    let (on_a, on_b) = (RedisSessionCache::new(&a), RedisSessionCache::new(&b));
    let s = session();
    on_a.put(&s, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        on_b.get(&s.token_hash).await,
        Ok(Some(s.clone())),
        "B sees A's session"
    );
    on_a.remove(&s.token_hash).await.unwrap();
    assert_eq!(
        on_b.get(&s.token_hash).await,
        Ok(None),
        "B sees A's logout at once"
    );
    // B read the durable record just before the logout and caches it just after: the
    // logout must win.
    on_b.put(&s, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        on_a.get(&s.token_hash).await,
        Ok(None),
        "a put racing a logout must not bring the session back"
    );
    clean_up(&a).await;
}

fn full_page(chat: ChatId, after: u64, limit: u32) -> Arc<Vec<Message>> {
    let user = MemberId::from_u128(unique_u128());
    Arc::new(
        (1..=u64::from(limit))
            .map(|i| Message {
                id: MessageId::from_u128(unique_u128()),
                chat_id: chat,
                seq: after + i,
                user_id: user,
                user_name: "Ann".into(),
                text: format!("message {}", after + i),
                created_at: now(),
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_page_cached_on_one_instance_is_served_by_the_other_and_kept_locally() {
    let Some(url) =
        redis_url("a_page_cached_on_one_instance_is_served_by_the_other_and_kept_locally")
    else {
        return;
    };
    let (a, b) = two_instances(&url).await;
    let (on_a, on_b) = (RedisPageCache::new(&a), RedisPageCache::new(&b));
    let chat = ChatId::from_u128(unique_u128());
    let key = PageKey {
        chat,
        after: 100,
        limit: 100,
    };
    let page = full_page(chat, 100, 100);
    on_a.put(&key, Arc::clone(&page)).await.unwrap();
    assert_eq!(
        on_b.get(&key).await.unwrap().as_deref(),
        Some(&*page),
        "B reads A's page"
    );

    // Both now hold it in process: even with Redis emptied they serve it, while a third
    // instance (nothing local) finds nothing.
    assert!(a.delete_prefixed_keys().await.unwrap() >= 1);
    assert_eq!(on_a.get(&key).await.unwrap().as_deref(), Some(&*page));
    assert_eq!(on_b.get(&key).await.unwrap().as_deref(), Some(&*page));
    let c = store(a.config()).await;
    assert_eq!(RedisPageCache::new(&c).get(&key).await, Ok(None));
    clean_up(&a).await;
}

fn hits(n: u64) -> Vec<SearchHit> {
    let chat = ChatId::from_u128(unique_u128());
    (0..n)
        .map(|i| SearchHit {
            message_id: MessageId::from_u128(unique_u128()),
            chat_id: chat,
            text: format!("hit {i}"),
            user_name: "Ann".into(),
            created_at: Timestamp::from_micros(1_000_000_000 - i64::try_from(i).unwrap()),
        })
        .collect()
}

#[tokio::test]
async fn a_task_started_on_one_instance_is_run_and_read_on_others() {
    let Some(url) = redis_url("a_task_started_on_one_instance_is_run_and_read_on_others") else {
        return;
    };
    let (a, b) = two_instances(&url).await;
    let (on_a, on_b) = (
        RedisTaskStore::new(&a, wall_clock()),
        RedisTaskStore::new(&b, wall_clock()),
    );
    let task = SearchTask {
        id: TaskId::from_u128(unique_u128()),
        account_id: AccountId::from_u128(unique_u128()),
        query: SearchQuery::parse("hello").unwrap(),
        all_chats: false,
        status: TaskStatus::Waiting,
        created_at: now(),
    };
    let ttl = Duration::from_secs(60);
    on_a.insert_task(&task, ttl).await.unwrap();
    assert_eq!(
        on_b.task(task.id).await,
        Ok(Some(task.clone())),
        "B reads A's task"
    );
    assert_eq!(
        on_b.set_status(task.id, TaskStatus::InProcess, ttl).await,
        Ok(true)
    );
    // More hits than one Lua push takes at once.
    let all = hits(1200);
    assert_eq!(on_b.complete(task.id, &all, ttl).await, Ok(true));
    assert_eq!(
        on_a.task(task.id).await.unwrap().map(|t| t.status),
        Some(TaskStatus::Success)
    );
    assert_eq!(
        on_a.hits(task.id, 495, 10).await,
        Ok(Some(HitsSlice {
            hits: all[495..505].to_vec(),
            total: 1200
        })),
        "A reads the hits B stored, across the pushes' chunks"
    );
    clean_up(&a).await;
}

#[tokio::test]
async fn every_key_is_under_the_prefix_and_clean_up_takes_only_those() {
    let Some(url) = redis_url("every_key_is_under_the_prefix_and_clean_up_takes_only_those") else {
        return;
    };
    let mine = store(&config(&url)).await;
    let theirs = store(&config(&url)).await;
    let s = session();
    for st in [&mine, &theirs] {
        RedisSessionCache::new(st)
            .put(&s, Duration::from_secs(60))
            .await
            .unwrap();
        RedisRateLimiter::new(st, "requests", 10, 10, wall_clock())
            .check("k")
            .await
            .unwrap();
    }
    assert_eq!(
        mine.delete_prefixed_keys().await,
        Ok(2),
        "one session and one budget"
    );
    assert_eq!(
        RedisSessionCache::new(&mine).get(&s.token_hash).await,
        Ok(None)
    );
    assert_eq!(
        RedisSessionCache::new(&theirs).get(&s.token_hash).await,
        Ok(Some(s.clone())),
        "another prefix's keys are untouched"
    );
    clean_up(&theirs).await;
}

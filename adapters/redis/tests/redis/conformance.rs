//! The ports' conformance suites, run against Redis (time passes for real: short sleeps).

use crate::support::{clean_up, config, real_time, redis_url, store, wall_clock, ManualClock};
use messenger_ports::testing::{
    attempts_suite, page_cache_suite, rate_limiter, rate_limiter_suite, session_cache,
    session_cache_suite, task_store, task_store_suite, TimeTravel,
};
use messenger_redis::{
    RedisAttempts, RedisPageCache, RedisRateLimiter, RedisSessionCache, RedisTaskStore,
};
use std::sync::Arc;

#[tokio::test]
async fn session_cache_conforms() {
    let Some(url) = redis_url("session_cache_conforms") else {
        return;
    };
    let store = store(&config(&url)).await;
    session_cache_suite(&RedisSessionCache::new(&store), &real_time()).await;
    clean_up(&store).await;
}

#[tokio::test]
async fn page_cache_conforms_with_and_without_the_local_layer() {
    let Some(url) = redis_url("page_cache_conforms_with_and_without_the_local_layer") else {
        return;
    };
    let mut redis_only = config(&url);
    redis_only.local_page_messages = 0;
    let store_redis_only = store(&redis_only).await;
    page_cache_suite(&RedisPageCache::new(&store_redis_only)).await;
    clean_up(&store_redis_only).await;

    let layered = store(&config(&url)).await;
    page_cache_suite(&RedisPageCache::new(&layered)).await;
    clean_up(&layered).await;
}

#[tokio::test]
async fn rate_limiter_conforms() {
    let Some(url) = redis_url("rate_limiter_conforms") else {
        return;
    };
    let store = store(&config(&url)).await;
    let (per_sec, burst) = (5, 10);
    let limiter = RedisRateLimiter::new(&store, "requests", per_sec, burst, wall_clock());
    rate_limiter_suite(&limiter, per_sec, burst, &real_time()).await;
    clean_up(&store).await;
}

/// Time-based rules follow the `Clock` port, so a manual clock drives them at once.
#[tokio::test]
async fn clock_driven_rules_conform_on_a_manual_clock() {
    let Some(url) = redis_url("clock_driven_rules_conform_on_a_manual_clock") else {
        return;
    };
    let store = store(&config(&url)).await;
    let clock = ManualClock::starting_now();
    let travel = {
        let clock = Arc::clone(&clock);
        TimeTravel::instant(move |d| clock.advance(d))
    };
    let limiter = RedisRateLimiter::new(&store, "requests", 100, 50, clock.clone());
    rate_limiter_suite(&limiter, 100, 50, &travel).await;
    attempts_suite(&RedisAttempts::new(&store, clock.clone()), &travel).await;
    task_store_suite(&RedisTaskStore::new(&store, clock.clone()), &travel).await;
    clean_up(&store).await;
}

#[tokio::test]
async fn attempt_counter_conforms() {
    let Some(url) = redis_url("attempt_counter_conforms") else {
        return;
    };
    let store = store(&config(&url)).await;
    attempts_suite(&RedisAttempts::new(&store, wall_clock()), &real_time()).await;
    clean_up(&store).await;
}

#[tokio::test]
async fn task_store_conforms() {
    let Some(url) = redis_url("task_store_conforms") else {
        return;
    };
    let store = store(&config(&url)).await;
    task_store_suite(&RedisTaskStore::new(&store, wall_clock()), &real_time()).await;
    clean_up(&store).await;
}

/// The checks for instances sharing a backend, with two clients on one Redis and prefix.
#[tokio::test]
async fn two_instances_conform_as_one() {
    let Some(url) = redis_url("two_instances_conform_as_one") else {
        return;
    };
    let config = config(&url);
    let (a, b) = (store(&config).await, store(&config).await);
    session_cache::removal_is_seen_by_every_instance(
        &RedisSessionCache::new(&a),
        &RedisSessionCache::new(&b),
    )
    .await;
    rate_limiter::instances_share_one_budget(
        &RedisRateLimiter::new(&a, "requests", 5, 10, wall_clock()),
        &RedisRateLimiter::new(&b, "requests", 5, 10, wall_clock()),
        10,
    )
    .await;
    task_store::instances_share_tasks(
        &RedisTaskStore::new(&a, wall_clock()),
        &RedisTaskStore::new(&b, wall_clock()),
    )
    .await;
    clean_up(&a).await;
}

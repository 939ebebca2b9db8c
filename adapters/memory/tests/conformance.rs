//! The port conformance suites of `messenger-ports` run against the in-memory adapters.
//! Time is a manual clock: every wait in the suites is an instant `advance`.

use messenger_domain::Timestamp;
use messenger_memory::{
    memory_task_queue, GcraLimiter, ManualClock, MemoryAttempts, MemoryEventBus, MemoryPageCache,
    MemorySessionCache, MemoryStore, MemoryTaskStore,
};
use messenger_ports::testing::{self, TimeTravel};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z.
const START: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// A manual clock, and the time control that advances it.
fn manual_time() -> (Arc<ManualClock>, TimeTravel) {
    let clock = Arc::new(ManualClock::new(START));
    let handle = Arc::clone(&clock);
    (clock, TimeTravel::instant(move |d| handle.advance(d)))
}

fn store() -> (Arc<ManualClock>, MemoryStore) {
    let clock = Arc::new(ManualClock::new(START));
    let store = MemoryStore::new(Arc::clone(&clock) as _);
    (clock, store)
}

#[tokio::test]
async fn accounts() {
    let (_, store) = store();
    testing::accounts_suite(&store).await;
}

#[tokio::test]
async fn sessions() {
    let (_, store) = store();
    testing::sessions_suite(&store, &store).await;
}

#[tokio::test]
async fn chats_and_members() {
    let (_, store) = store();
    testing::chats_suite(&store, &store, &store).await;
}

#[tokio::test]
async fn conversations() {
    let (_, store) = store();
    testing::conversations_suite(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn event_log_and_bus() {
    let (_, store) = store();
    let bus = MemoryEventBus::new();
    let repos = testing::conversations::Repos {
        accounts: &store,
        chats: &store,
        members: &store,
        messages: &store,
    };
    // The memory log makes a change readable at once: waiting is never needed.
    let time = TimeTravel::instant(|_| ());
    testing::events_suite(&repos, &store, &bus, &time).await;
}

#[tokio::test]
async fn messages() {
    let (clock, store) = store();
    testing::messages_suite(&store, &store, &store, &store, &*clock).await;
}

#[tokio::test]
async fn message_search() {
    let (_, store) = store();
    testing::search_suite(&store, &store, &store, &store, &store).await;
}

#[tokio::test]
async fn session_cache() {
    let (clock, time) = manual_time();
    let cache = MemorySessionCache::new(10_000, clock);
    testing::session_cache_suite(&cache, &time).await;
}

#[tokio::test]
async fn page_cache() {
    let cache = MemoryPageCache::new(100_000);
    testing::page_cache_suite(&cache).await;
}

/// The checks for instances sharing a backend: one in-process instance is its own
/// backend, so it stands for both (the Redis adapters run them with two clients).
#[tokio::test]
async fn one_instance_is_consistent_with_itself() {
    let (clock, _) = manual_time();
    let cache = MemorySessionCache::new(1000, Arc::clone(&clock) as _);
    testing::session_cache::removal_is_seen_by_every_instance(&cache, &cache).await;
    let limiter = GcraLimiter::new(5, 10, Arc::clone(&clock) as _);
    testing::rate_limiter::instances_share_one_budget(&limiter, &limiter, 10).await;
    let store = MemoryTaskStore::new(clock);
    testing::task_store::instances_share_tasks(&store, &store).await;
}

#[tokio::test]
async fn rate_limiter() {
    for (per_sec, burst) in [(100, 100), (5, 10), (1, 1), (3, 7)] {
        let (clock, time) = manual_time();
        let limiter = GcraLimiter::new(per_sec, burst, clock);
        testing::rate_limiter_suite(&limiter, per_sec, burst, &time).await;
    }
}

#[tokio::test]
async fn attempt_counter() {
    let (clock, time) = manual_time();
    let counter = MemoryAttempts::new(clock);
    testing::attempts_suite(&counter, &time).await;
}

#[tokio::test]
async fn task_store() {
    let (clock, time) = manual_time();
    let store = MemoryTaskStore::new(clock);
    testing::task_store_suite(&store, &time).await;
}

#[tokio::test]
async fn task_queue() {
    let (queue, consumer) = memory_task_queue(100);
    // Deliveries of the in-process queue are ready at once, so waiting is instant too.
    let wait = TimeTravel::instant(|_| ());
    testing::task_queue_suite(&queue, &consumer, &wait).await;
}

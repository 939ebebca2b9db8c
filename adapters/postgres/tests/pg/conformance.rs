//! The port conformance suites of `messenger-ports` against PostgreSQL, each on a schema
//! of its own. The adapter stamps idempotency keys with the message's `now`, so the
//! suites' clock is the system clock.

use crate::helpers::TestSchema;
use messenger_memory::SystemClock;
use messenger_ports::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts() {
    let Some(schema) = TestSchema::new("conformance::accounts") else {
        return;
    };
    testing::accounts_suite(&schema.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions() {
    let Some(schema) = TestSchema::new("conformance::sessions") else {
        return;
    };
    let store = schema.store().await;
    testing::sessions_suite(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_and_members() {
    let Some(schema) = TestSchema::new("conformance::chats_and_members") else {
        return;
    };
    let store = schema.store().await;
    testing::chats_suite(&store, &store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations() {
    let Some(schema) = TestSchema::new("conformance::conversations") else {
        return;
    };
    let store = schema.store().await;
    testing::conversations_suite(&store, &store, &store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages() {
    let Some(schema) = TestSchema::new("conformance::messages") else {
        return;
    };
    let store = schema.store().await;
    testing::messages_suite(&store, &store, &store, &store, &SystemClock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search() {
    let Some(schema) = TestSchema::new("conformance::search") else {
        return;
    };
    let store = schema.store().await;
    testing::search_suite(&store, &store, &store, &store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_log_and_bus() {
    let Some(schema) = TestSchema::new("conformance::event_log_and_bus") else {
        return;
    };
    let store = schema.store().await;
    let bus = messenger_postgres::PgEventBus::start(&schema.config());
    let repos = testing::conversations::Repos {
        accounts: &store,
        chats: &store,
        members: &store,
        messages: &store,
    };
    // A change is readable once every transaction begun before it has ended: wait for real.
    let time = testing::TimeTravel::new(|d| Box::pin(tokio::time::sleep(d)));
    testing::events_suite(&repos, &store, &bus, &time).await;
}

//! A database that is down, unreachable or silent answers `Unavailable` within about the
//! dependency timeout (1 s); when it is back, calls succeed again without a restart.

use crate::helpers::*;
use messenger_domain::ChatId;
use messenger_ports::{Chats, PortError};
use messenger_postgres::{PgError, PgStore};
use std::time::{Duration, Instant};

/// Generous over the 1 s deadline for a loaded 2-core machine, but far below "hangs".
const WITHIN: Duration = Duration::from_millis(1_600);

async fn expect_unavailable_quickly<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, PortError>>,
) {
    let start = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap_or_else(|_| panic!("{what}: hung"));
    let took = start.elapsed();
    assert!(matches!(r, Err(PortError::Unavailable(_))), "{what}: {r:?}");
    assert!(took <= WITHIN, "{what}: took {took:?}");
}

/// Retries `ping` until it succeeds (a stale pooled connection may fail once).
async fn recovers(store: &PgStore) {
    for _ in 0..10 {
        if store.ping().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the store did not recover");
}

async fn proxied_store(schema: &TestSchema, proxy: &Proxy) -> PgStore {
    // Migrate directly, then talk through the proxy.
    schema.store().await;
    PgStore::without_migrating(&proxied_config(&schema.url, &schema.name, proxy.addr())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_answers_unavailable_quickly_and_the_store_recovers() {
    let Some(schema) = TestSchema::new("a_cut_connection_answers_unavailable_quickly") else {
        return;
    };
    let proxy = Proxy::start(upstream_addr(&schema.url)).await.unwrap();
    let store = proxied_store(&schema, &proxy).await;
    let chat = chat_by(messenger_domain::AccountId::from_u128(id()));
    store.insert_chat(&chat).await.unwrap();

    proxy.set(ProxyMode::Cut);
    expect_unavailable_quickly("ping", store.ping()).await;
    expect_unavailable_quickly("chat", store.chat(chat.id)).await;
    expect_unavailable_quickly("insert", store.insert_chat(&chat_by(chat.creator))).await;

    proxy.set(ProxyMode::Pass);
    recovers(&store).await;
    assert_eq!(store.chat(chat.id).await.unwrap(), Some(chat));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_database_answers_unavailable_quickly_and_the_store_recovers() {
    let Some(schema) = TestSchema::new("a_blackholed_database_answers_unavailable_quickly") else {
        return;
    };
    let proxy = Proxy::start(upstream_addr(&schema.url)).await.unwrap();
    let store = proxied_store(&schema, &proxy).await;
    let chat = chat_by(messenger_domain::AccountId::from_u128(id()));
    store.insert_chat(&chat).await.unwrap();

    proxy.set(ProxyMode::Blackhole);
    // Pooled connections stop answering mid-statement; new ones never finish starting.
    expect_unavailable_quickly("chat on a pooled connection", store.chat(chat.id)).await;
    expect_unavailable_quickly("ping", store.ping()).await;
    expect_unavailable_quickly("chat", store.chat(ChatId::from_u128(id()))).await;

    proxy.set(ProxyMode::Pass);
    recovers(&store).await;
    assert_eq!(store.chat(chat.id).await.unwrap(), Some(chat));
}

#[tokio::test]
async fn a_port_nobody_listens_on_answers_unavailable_quickly() {
    let Some(url) = database_url("a_port_nobody_listens_on_answers_unavailable_quickly") else {
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = proxied_config(&url, &unique_schema(), port);
    let store = PgStore::without_migrating(&config).unwrap();
    expect_unavailable_quickly("ping", store.ping()).await;
    expect_unavailable_quickly("chat", store.chat(ChatId::from_u128(id()))).await;

    // Start-up waits until its deadline, then gives up with a clear error.
    let start = Instant::now();
    let r = PgStore::connect(&config, Duration::from_millis(700)).await;
    assert!(
        matches!(&r, Err(PgError::Migrate(e)) if e.is_unavailable()),
        "{r:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_for_a_database_that_comes_up_late() {
    let Some(schema) = TestSchema::new("start_up_waits_for_a_database_that_comes_up_late") else {
        return;
    };
    let proxy = Proxy::start(upstream_addr(&schema.url)).await.unwrap();
    proxy.set(ProxyMode::Cut);
    let config = proxied_config(&schema.url, &schema.name, proxy.addr());
    let connecting =
        tokio::spawn(async move { PgStore::connect(&config, Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !connecting.is_finished(),
        "start-up should still be waiting"
    );
    proxy.set(ProxyMode::Pass);
    let store = connecting.await.unwrap().unwrap();
    store.ping().await.unwrap();
}

//! RabbitMQ down (API.md: a task id is handed out only for a task that will run): starting
//! a search answers 503 `service-unavailable` quickly, and no task exists afterwards (the
//! would-be task's status is 404 and the task store holds nothing); once the broker is
//! back, searches are queued again without a restart. Over PostgreSQL, Redis and RabbitMQ,
//! the broker reached through a proxy that the test silences. A publish to a silent broker
//! takes only what the request's budget (`DEPENDENCY_TIMEOUT_MS`) has left, and the
//! would-be task is still removed.

use crate::prelude::*;
use messenger_domain::TaskId;
use messenger_memory::RandomIds;
use messenger_ports::IdGenerator;
use messenger_rabbitmq::testing::Proxy;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Random ids, remembering each one handed out: the would-be task's id is the one a
/// refused search drew.
#[derive(Default)]
struct RecordingIds {
    inner: RandomIds,
    issued: Mutex<Vec<u128>>,
}

impl RecordingIds {
    fn issued(&self) -> Vec<u128> {
        self.issued.lock().unwrap().clone()
    }
}

impl IdGenerator for RecordingIds {
    fn new_id(&self) -> u128 {
        let id = self.inner.new_id();
        self.issued.lock().unwrap().push(id);
        id
    }

    fn token_bytes(&self) -> [u8; 16] {
        self.inner.token_bytes()
    }
}

/// `host:port` of an AMQP URL.
fn broker(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5672")
    }
}

/// A stack whose RabbitMQ is reached through a proxy, with `adjust` applied to its options,
/// one search already run through it (so the publisher's link is up), and the user who ran
/// it; `None` when the backends are not there.
async fn searched_through_proxy(
    adjust: impl FnOnce(TestOptions) -> TestOptions,
) -> Option<(TestApp, Proxy, Arc<RecordingIds>, User)> {
    let mut backend = Backend::postgres_redis_rabbitmq()?;
    let url = backend.amqp_url.clone()?;
    let proxy = Proxy::start(broker(&url)).await.unwrap();
    backend.amqp_url = Some(url.replacen(&broker(&url), &proxy.addr.to_string(), 1));
    if !backend.is_wired().await {
        return None;
    }
    let ids = Arc::new(RecordingIds::default());
    let app = spawn_app(adjust(TestOptions::new(backend).with_ids(ids.clone()))).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &chat, &member, "hello world").await;
    let task = app.start_search_ok(&user, "hello").await;
    assert_eq!(app.wait_for_search(&user, &task).await, "SUCCESS");
    Some((app, proxy, ids, user))
}

#[tokio::test]
async fn with_rabbitmq_down_starting_a_search_is_503_and_leaves_no_task() {
    let Some((app, proxy, ids, user)) = searched_through_proxy(|o| o).await else {
        return;
    };

    // The broker goes silent (as in a partition or a dead host).
    proxy.blackhole();
    let before = ids.issued().len();
    let started = Instant::now();
    app.start_search(&user, "hello").await.assert_error(
        503,
        "service-unavailable",
        "start a search, RabbitMQ down",
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within the publish deadline: {:?}",
        started.elapsed()
    );
    let drawn = ids.issued()[before..].to_vec();
    assert_eq!(drawn.len(), 1, "the refused search drew one id: its task's");
    let would_be = TaskId::from_u128(drawn[0]);
    app.search_status(&user, &would_be.to_string())
        .await
        .assert_error(404, "task-not-found", "the would-be task's status");
    app.search_results(&user, &would_be.to_string(), "10", None)
        .await
        .assert_error(404, "task-not-found", "the would-be task's results");
    let stored = app.messenger().ports().task_store.task(would_be).await;
    assert_eq!(stored, Ok(None), "the task store holds nothing for it");

    // Back again: searches are queued and run, without a restart.
    proxy.forward();
    proxy.cut();
    let mut again = None;
    for _ in 0..50 {
        let reply = app.start_search(&user, "world").await;
        if reply.status == 201 {
            again = Some(reply.field("task_id"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = again.expect("a search is queued once RabbitMQ is back");
    assert_eq!(app.wait_for_search(&user, &again).await, "SUCCESS");
}

/// The request's budget for its dependencies (`DEPENDENCY_TIMEOUT_MS`) in the test below:
/// well under the publish's own limit (1 s), so an answer that waited for that limit shows.
const BUDGET: Duration = Duration::from_millis(250);

#[tokio::test]
async fn a_publish_to_a_silent_broker_takes_only_what_the_requests_budget_has_left() {
    // Connected: the publisher's link is up when the broker goes silent.
    let Some((app, proxy, ids, user)) =
        searched_through_proxy(|o| o.with(|c| c.server.dependency_timeout = BUDGET)).await
    else {
        return;
    };

    proxy.blackhole();
    let before = ids.issued().len();
    let started = Instant::now();
    app.start_search(&user, "hello").await.assert_error(
        503,
        "service-unavailable",
        "start a search, RabbitMQ silent",
    );
    let took = started.elapsed();
    println!("503 after {took:?} with a budget of {BUDGET:?}");
    // The session lookup and the task's insert, then the publish with what is left: about
    // the budget in all (the clean-up runs outside it, on a Redis that answers at once).
    // A publish on its own 1 s limit would take longer than the budget plus that.
    assert!(
        took < BUDGET + Duration::from_millis(500),
        "answered within the request's budget ({BUDGET:?}), not the publish's own limit: {took:?}"
    );
    let drawn = ids.issued()[before..].to_vec();
    assert_eq!(drawn.len(), 1, "the refused search drew one id: its task's");
    let would_be = TaskId::from_u128(drawn[0]);
    let stored = app.messenger().ports().task_store.task(would_be).await;
    assert_eq!(
        stored,
        Ok(None),
        "the task was removed although the publish spent the budget"
    );
    proxy.forward();
}

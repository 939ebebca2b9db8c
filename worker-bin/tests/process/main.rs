//! The real `messenger-worker` binary over PostgreSQL, Redis and RabbitMQ (skipped unless
//! `MESSENGER_TEST_DATABASE_URL`, `MESSENGER_TEST_REDIS_URL` and `MESSENGER_TEST_AMQP_URL`
//! are set): a worker killed mid-task (SIGKILL) leaves the task to another, which completes
//! it once; a task whose worker keeps crashing ends `FAILED` within seconds, and its dead
//! letter can be listed, requeued and purged; `/metrics` and `/ping` say what happened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod tls;

use messenger_domain::{CursorParam, Limit, TaskStatus};
use messenger_ports::{AppError, TaskConsumer};
use messenger_rabbitmq::{
    queue_depths,
    testing::{eventually, Proxy},
    AmqpTaskConsumer, QueueDepths,
};
use std::net::SocketAddr;
use std::time::Duration;
use support::{services, Stack};

/// `host:port` of a PostgreSQL URL (`postgres://user@host:port/db`).
fn pg_addr(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    }
}

/// The same PostgreSQL URL through `addr`.
fn pg_via(url: &str, addr: SocketAddr) -> String {
    url.replacen(&pg_addr(url), &addr.to_string(), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_task_leaves_it_to_another_which_completes_it_once() {
    let Some(services) = services("a_worker_killed_mid_task_leaves_it_to_another") else {
        return;
    };
    let stack = Stack::start(services.clone()).await;
    // Worker A reaches PostgreSQL through a proxy that can go silent: its search then hangs
    // in the middle of the task.
    let proxy = Proxy::start(pg_addr(&services.0)).await.unwrap();
    let a_db = pg_via(&services.0, proxy.addr);
    let mut a = stack
        .spawn_worker(&[
            ("DATABASE_URL", a_db.as_str()),
            ("DEPENDENCY_TIMEOUT_MS", "30000"),
        ])
        .await;
    a.wait_ready().await;
    proxy.blackhole();
    let id = stack.search("world 7").await;
    assert_eq!(
        stack
            .wait_status(id, TaskStatus::InProcess, Duration::from_secs(10))
            .await,
        TaskStatus::InProcess,
        "worker A took the task"
    );
    // SIGKILL: no drain, no settling; the broker hands the task on when the connection drops.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    drop(proxy);

    let mut b = stack.spawn_worker(&[]).await;
    b.wait_ready().await;
    assert_eq!(
        stack
            .wait_status(id, TaskStatus::Success, Duration::from_secs(15))
            .await,
        TaskStatus::Success,
        "worker B completed the task"
    );
    assert_eq!(stack.hit_texts(id).await, ["hello world 7"]);

    // B's metrics: the task was a redelivery, processed once, completed once.
    let counted = eventually(Duration::from_secs(5), || async {
        let processed = b
            .metric(r#"messenger_worker_tasks_total{outcome="processed"}"#)
            .await;
        (processed == Some(1.0)).then_some(())
    })
    .await;
    assert!(counted.is_some(), "{:?}", b.get("/metrics").await);
    let one = Some(1.0);
    assert_eq!(b.metric("messenger_worker_redeliveries_total").await, one);
    assert_eq!(
        b.metric(r#"messenger_search_tasks_total{status="SUCCESS"}"#)
            .await,
        one,
        "completed exactly once"
    );
    assert_eq!(
        b.metric("messenger_worker_tasks_in_flight").await,
        Some(0.0)
    );
    assert!(b
        .metric("messenger_worker_task_duration_seconds_count")
        .await
        .is_some());
    // The queues' counts come from the broker: B consumes both queues.
    let probed = eventually(Duration::from_secs(12), || async {
        let tasks = b
            .metric(r#"messenger_queue_consumers{queue="tasks"}"#)
            .await;
        let dead = b.metric(r#"messenger_queue_consumers{queue="dead"}"#).await;
        (tasks == one && dead == one).then_some(())
    })
    .await;
    assert!(probed.is_some(), "{:?}", b.get("/metrics").await);
    assert_eq!(
        b.metric(r#"messenger_queue_messages{queue="tasks"}"#).await,
        Some(0.0)
    );
    assert_eq!(b.get("/ping").await.map(|(s, _)| s), Some(200));
    assert_eq!(b.get("/nothing").await.map(|(s, _)| s), Some(404));
    assert!(
        stack
            .run_command_with(&b, &["healthcheck"])
            .status
            .success(),
        "healthcheck passes"
    );
    assert!(b.terminate(), "B stops cleanly on SIGTERM");
    let after = stack.run_command_with(&b, &["healthcheck"]);
    assert!(!after.status.success(), "healthcheck fails once it is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_worker_keeps_crashing_ends_failed_and_its_dead_letter_is_kept() {
    let Some(services) = services("a_task_whose_worker_keeps_crashing_ends_failed") else {
        return;
    };
    let stack = Stack::start(services).await;
    let id = stack.search("world 3").await;
    // A worker that crashes on this task every time: it takes it, marks it IN_PROCESS, and
    // its connection drops before it settles anything, until the broker gives up.
    stack
        .api
        .ports()
        .task_store
        .set_status(id, TaskStatus::InProcess, Duration::from_secs(3600))
        .await
        .unwrap();
    let mut crashes = 0;
    for _ in 0..12 {
        let consumer = AmqpTaskConsumer::new(stack.amqp.clone()).unwrap();
        let taken = tokio::time::timeout(Duration::from_secs(2), consumer.next()).await;
        let Ok(Ok(Some(delivery))) = taken else {
            break;
        };
        consumer.close().await;
        drop(delivery);
        crashes += 1;
    }
    let given_up = eventually(Duration::from_secs(5), || async {
        let d = queue_depths(&stack.amqp).await.unwrap();
        (d == QueueDepths { ready: 0, dead: 1 }).then_some(())
    })
    .await;
    assert!(given_up.is_some(), "after {crashes} crashes: dead-lettered");
    assert_eq!(
        stack.status(id).await,
        TaskStatus::InProcess,
        "nobody marked it yet"
    );

    let mut worker = stack.spawn_worker(&[]).await;
    worker.wait_ready().await;
    assert_eq!(
        stack
            .wait_status(id, TaskStatus::Failed, Duration::from_secs(5))
            .await,
        TaskStatus::Failed,
        "the dead-lettered task ends FAILED within seconds"
    );
    let results = stack
        .api
        .search_results(
            &stack.caller,
            id,
            CursorParam::Start,
            Limit::search_hits(10).unwrap(),
        )
        .await;
    assert!(
        matches!(
            results,
            Err(AppError::Domain(messenger_domain::Error::TaskFailed))
        ),
        "{results:?}"
    );
    let parked = eventually(Duration::from_secs(5), || async {
        let n = worker
            .metric(r#"messenger_worker_dead_letters_total{outcome="parked"}"#)
            .await;
        (n == Some(1.0)).then_some(())
    })
    .await;
    assert!(parked.is_some(), "{:?}", worker.get("/metrics").await);

    // Listed, and still there after listing.
    for _ in 0..2 {
        let out = stack.run_command(&["dead-letters", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&id.to_string()))
            .unwrap_or_else(|| panic!("the task is listed: {text}"));
        assert!(line.contains("parked"), "{line}");
        assert!(line.contains("delivery_limit"), "{line}");
        assert!(text.contains("1 dead letter(s)"), "{text}");
    }

    // Requeued: the task runs again, and this time it succeeds.
    let out = stack.run_command(&["dead-letters", "requeue"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 dead letter(s) moved back"), "{text}");
    assert_eq!(
        stack
            .wait_status(id, TaskStatus::Success, Duration::from_secs(10))
            .await,
        TaskStatus::Success
    );
    let out = stack.run_command(&["dead-letters", "purge"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("purged 0 from"), "{text}");
    assert!(worker.terminate());
}

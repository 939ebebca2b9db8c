//! The worker over a real RabbitMQ (`MESSENGER_TEST_AMQP_URL`; skipped without it), with
//! the in-memory repository and task store standing in for PostgreSQL and Redis (which
//! are not the point here). Each test uses its own queue and deletes it at the end. The
//! real binary, killed with SIGKILL, is tested in `tests/process`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use messenger_domain::TaskStatus;
use messenger_ports::{Settings, TaskOutcome, TaskStore};
use messenger_rabbitmq::{queue_depths, testing::*, AmqpTaskConsumer, QueueDepths};
use messenger_worker::{process_one, Step, Worker};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use support::*;
use tokio::sync::Notify;

#[tokio::test]
async fn process_one_runs_a_queued_search_end_to_end() {
    let Some(url) = amqp_url("process_one_runs_a_queued_search_end_to_end") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg).await;
    let id = w.search("world 7").await;
    assert_eq!(w.status(id).await, TaskStatus::Waiting);
    let m = w.messenger(0, Arc::default());
    let consumer = w.consumer();
    let step = process_one(&m, &*consumer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(step, Step::Done(TaskOutcome::Processed));
    assert_eq!(w.status(id).await, TaskStatus::Success);
    let hits = w.tasks.hits(id, 0, 100).await.unwrap().unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].text, "hello world 7");
    assert_eq!(
        process_one(&m, &*consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Empty
    );
    consumer.close().await;
    assert_eq!(
        process_one(&m, &*consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Closed
    );
}

#[tokio::test]
async fn poison_messages_end_in_the_dead_letter_queue_while_the_rest_run() {
    let Some(url) = amqp_url("poison_messages_end_in_the_dead_letter_queue_while_the_rest_run")
    else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    w.queue.publish_raw(b"this is not a task id").await.unwrap();
    let failing = w.search("explode").await;
    let mut good = Vec::new();
    for i in 0..10 {
        good.push(w.search(&format!("world {i}")).await);
    }
    let worker = Worker::new(
        w.messenger(0, Arc::default()),
        w.consumer(),
        quick_options(4),
    );
    let mut all = good.clone();
    all.push(failing);
    let w = Arc::new(w);
    let done = {
        let w = w.clone();
        async move {
            eventually(Duration::from_secs(15), || async {
                w.all_final(&all).await.then_some(())
            })
            .await;
        }
    };
    assert!(worker.run(done).await, "drained");
    for id in &good {
        assert_eq!(w.status(*id).await, TaskStatus::Success);
        assert_eq!(w.completions(*id), 1);
    }
    assert_eq!(w.status(failing).await, TaskStatus::Failed);
    // Tried exactly as often as allowed, then given up: no hot loop.
    assert_eq!(
        w.runs_of("explode").len(),
        Settings::default().task_max_attempts as usize
    );
    let depths = eventually(Duration::from_secs(5), || async {
        let d = queue_depths(&cfg).await.unwrap();
        (d == QueueDepths { ready: 0, dead: 2 }).then_some(d)
    })
    .await;
    assert!(
        depths.is_some(),
        "the malformed message and the failed task are dead-lettered: {:?}",
        queue_depths(&cfg).await
    );
}

#[tokio::test]
async fn a_worker_cut_off_mid_task_leaves_it_to_another_which_finishes_it_once() {
    let Some(url) =
        amqp_url("a_worker_cut_off_mid_task_leaves_it_to_another_which_finishes_it_once")
    else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    let id = w.search("world 3").await;

    // Worker A reaches the broker through a proxy, and hangs inside the search.
    let proxy = Proxy::start(broker_addr(&cfg)).await.unwrap();
    let gate = Arc::new(Gate::default());
    gate.arm();
    let a = w.messenger(1, gate.clone());
    let a_consumer = Arc::new(AmqpTaskConsumer::new(via(&cfg, proxy.addr)).unwrap());
    let entered = gate.entered.notified();
    let a_task = {
        let c = a_consumer.clone();
        tokio::spawn(async move { process_one(&a, &*c, Duration::from_secs(5)).await })
    };
    tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("worker A started the task");
    assert_eq!(w.status(id).await, TaskStatus::InProcess);

    // A dies: its connection drops without an ack, its work is lost.
    proxy.cut();
    a_task.abort();

    // Worker B gets the task again and finishes it.
    let b = w.messenger(2, Arc::default());
    let b_consumer = w.consumer();
    let step = process_one(&b, &*b_consumer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(step, Step::Done(TaskOutcome::Processed));
    assert_eq!(w.status(id).await, TaskStatus::Success);
    assert_eq!(w.completions(id), 1, "stored exactly once");
    assert_eq!(w.runs_of("world 3"), vec![1, 2]);
    let hits = w.tasks.hits(id, 0, 100).await.unwrap().unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(
        process_one(&b, &*b_consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Empty,
        "nothing left over"
    );
    b_consumer.close().await;
    a_consumer.close().await;
}

#[tokio::test]
async fn a_stale_worker_finishing_late_cannot_complete_the_task_a_second_time() {
    let Some(url) = amqp_url("a_stale_worker_finishing_late_cannot_complete_the_task") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    let id = w.search("world 5").await;

    // Worker A takes the task and stalls inside the search; then its connection drops
    // (a partition), but A itself lives on, holding a result it will store late.
    let proxy = Proxy::start(broker_addr(&cfg)).await.unwrap();
    let gate = Arc::new(Gate::default());
    gate.arm();
    let a = w.messenger(1, gate.clone());
    let a_consumer = Arc::new(AmqpTaskConsumer::new(via(&cfg, proxy.addr)).unwrap());
    let entered = gate.entered.notified();
    let a_task = {
        let c = a_consumer.clone();
        tokio::spawn(async move { process_one(&a, &*c, Duration::from_secs(5)).await })
    };
    tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("worker A started the task");
    proxy.cut();

    // Worker B gets the task again and completes it.
    let b = w.messenger(2, Arc::default());
    let b_consumer = w.consumer();
    let step = process_one(&b, &*b_consumer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(step, Step::Done(TaskOutcome::Processed));
    assert_eq!(w.status(id).await, TaskStatus::Success);
    let hits_by_b = w.tasks.hits(id, 0, 100).await.unwrap().unwrap();

    // A finishes late: its completion is asked for and refused.
    gate.release.notify_one();
    let late = tokio::time::timeout(Duration::from_secs(10), a_task)
        .await
        .expect("worker A finishes")
        .unwrap();
    assert!(late.is_ok(), "{late:?}");
    assert_eq!(w.runs_of("world 5"), vec![1, 2], "both searched");
    assert_eq!(w.completion_attempts(id), 2, "both tried to complete it");
    assert_eq!(w.completions(id), 1, "the task store took one completion");
    assert_eq!(w.status(id).await, TaskStatus::Success);
    assert_eq!(w.tasks.hits(id, 0, 100).await.unwrap().unwrap(), hits_by_b);
    b_consumer.close().await;
    a_consumer.close().await;
}

#[tokio::test]
async fn two_workers_share_the_load_and_each_task_runs_once() {
    let Some(url) = amqp_url("two_workers_share_the_load_and_each_task_runs_once") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 2;
    let _cleanup = Cleanup(cfg.clone());
    let mut w = World::new(cfg).await;
    w.search_delay = Duration::from_millis(5);
    let w = Arc::new(w);
    // Both subscribed before the tasks come, so neither is first to everything.
    let consumers = [w.consumer(), w.consumer()];
    for c in &consumers {
        c.connect().await.unwrap();
    }
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(w.search(&format!("hello {}", i % 10)).await);
    }
    let stop = Arc::new(Notify::new());
    let mut runs = Vec::new();
    for (n, consumer) in consumers.into_iter().enumerate() {
        let worker = Worker::new(w.messenger(n, Arc::default()), consumer, quick_options(2));
        let stop = stop.clone();
        runs.push(tokio::spawn(async move {
            worker.run(async move { stop.notified().await }).await
        }));
    }
    let finished = eventually(Duration::from_secs(15), || async {
        w.all_final(&ids).await.then_some(())
    })
    .await;
    stop.notify_waiters();
    for r in runs {
        assert!(r.await.unwrap());
    }
    assert!(finished.is_some(), "every task finished");
    for id in &ids {
        assert_eq!(w.status(*id).await, TaskStatus::Success);
        assert_eq!(w.completions(*id), 1, "no task stored twice");
    }
    let runs = w.runs.lock().unwrap().clone();
    let by_first = runs.iter().filter(|(n, _)| *n == 0).count();
    assert_eq!(runs.len(), 40, "each task searched once");
    assert!(
        by_first > 0 && by_first < 40,
        "both workers took tasks ({by_first} of 40 by the first)"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_task_in_hand_and_hands_back_the_rest() {
    let Some(url) = amqp_url("shutdown_finishes_the_task_in_hand_and_hands_back_the_rest") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 3;
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    let ids = [
        w.search("world 1").await,
        w.search("world 2").await,
        w.search("world 3").await,
    ];
    let gate = Arc::new(Gate::default());
    gate.arm();
    let entered = gate.entered.notified();
    let consumer = w.consumer();
    let worker = Worker::new(
        w.messenger(0, gate.clone()),
        consumer.clone(),
        quick_options(1),
    );
    let signal = Arc::new(Notify::new());
    let run = {
        let signal = signal.clone();
        tokio::spawn(async move { worker.run(async move { signal.notified().await }).await })
    };
    tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("the first task started");
    // SIGTERM arrives while the first task runs; then the task completes.
    signal.notify_one();
    eventually(Duration::from_secs(5), || async {
        consumer.is_stopped().then_some(())
    })
    .await
    .expect("the worker stopped consuming");
    gate.release.notify_one();
    let drained = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the worker stops promptly")
        .unwrap();
    assert!(drained);
    assert_eq!(w.status(ids[0]).await, TaskStatus::Success);
    assert_eq!(w.status(ids[1]).await, TaskStatus::Waiting);
    assert_eq!(w.status(ids[2]).await, TaskStatus::Waiting);
    let depths = eventually(Duration::from_secs(5), || async {
        let d = queue_depths(&cfg).await.unwrap();
        (d == QueueDepths { ready: 2, dead: 0 }).then_some(d)
    })
    .await;
    assert!(depths.is_some(), "the two others are back in the queue");
}

#[tokio::test]
async fn a_worker_without_a_broker_keeps_trying_and_stops_on_signal() {
    let Some(url) = amqp_url("a_worker_without_a_broker_keeps_trying_and_stops_on_signal") else {
        return;
    };
    let nowhere = via(&unique_config(&url), dead_port().await.unwrap());
    let w = World::new(nowhere.clone()).await;
    let messenger = w.messenger(0, Arc::default());
    let consumer = w.consumer();
    let worker = Worker::new(messenger.clone(), consumer.clone(), quick_options(2));
    let started = Instant::now();
    let drained = worker
        .run(tokio::time::sleep(Duration::from_millis(500)))
        .await;
    assert!(drained);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the signal ends the retrying at once"
    );
    assert_eq!(
        process_one(&messenger, &*consumer, Duration::from_millis(100))
            .await
            .unwrap(),
        Step::Closed
    );
}

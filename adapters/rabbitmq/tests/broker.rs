//! The adapter against a real RabbitMQ (`MESSENGER_TEST_AMQP_URL`; skipped without it).
//! Every test uses its own queue and deletes it at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use messenger_domain::TaskId;
use messenger_ports::{Delivery, PortError, TaskConsumer, TaskQueue};
use messenger_rabbitmq::testing::*;
use messenger_rabbitmq::{
    delete_topology, queue_depths, AmqpConfig, AmqpTaskConsumer, AmqpTaskQueue, QueueDepths,
};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

fn task(n: u128) -> TaskId {
    TaskId::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + n)
}

/// The next delivery, or `None` if none comes within `wait`.
async fn next_within(c: &AmqpTaskConsumer, wait: Duration) -> Option<Box<dyn Delivery>> {
    match tokio::time::timeout(wait, c.next()).await {
        Ok(Ok(Some(d))) => Some(d),
        Ok(Ok(None)) => panic!("consumer closed"),
        Ok(Err(e)) => panic!("consumer failed: {e}"),
        Err(_) => None,
    }
}

async fn expect_next(c: &AmqpTaskConsumer) -> Box<dyn Delivery> {
    next_within(c, Duration::from_secs(5))
        .await
        .expect("a delivery within 5 s")
}

/// The queue depths once they equal `want`, or the last seen after 5 s.
async fn depths_settle(cfg: &AmqpConfig, want: QueueDepths) -> QueueDepths {
    let end = Instant::now() + Duration::from_secs(5);
    let mut last = queue_depths(cfg).await.unwrap();
    while last != want && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(25)).await;
        last = queue_depths(cfg).await.unwrap();
    }
    last
}

#[tokio::test]
async fn publishes_confirmed_tasks_and_consumes_them_with_acks() {
    let Some(url) = amqp_url("publishes_confirmed_tasks_and_consumes_them_with_acks") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    queue.connect().await.unwrap();
    for n in 0..3 {
        queue.publish(task(n)).await.unwrap();
    }
    assert_eq!(
        queue_depths(&cfg).await.unwrap(),
        QueueDepths { ready: 3, dead: 0 }
    );
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let d = expect_next(&consumer).await;
        assert_eq!(d.attempt(), 1);
        seen.push(String::from_utf8(d.payload().to_vec()).unwrap());
        d.ack().await.unwrap();
    }
    let expected: Vec<String> = (0..3).map(|n| task(n).to_string()).collect();
    assert_eq!(seen, expected, "32-hex task ids, in publishing order");
    assert!(seen.iter().all(|s| s.len() == 32));
    assert!(next_within(&consumer, Duration::from_millis(300))
        .await
        .is_none());
    consumer.close().await;
    assert!(consumer.next().await.unwrap().is_none(), "closed for good");
    assert_eq!(
        queue_depths(&cfg).await.unwrap(),
        QueueDepths { ready: 0, dead: 0 }
    );
}

#[tokio::test]
async fn an_unroutable_publish_fails_although_the_broker_acks_it() {
    let Some(url) = amqp_url("an_unroutable_publish_fails_although_the_broker_acks_it") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    queue.publish(task(1)).await.unwrap();
    // The queue disappears under the publisher: the broker confirms the next message but
    // returns it as unroutable (it was sent mandatory).
    delete_topology(&cfg).await.unwrap();
    let err = queue.publish(task(2)).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Unavailable(m) if m.contains("returned")),
        "{err:?}"
    );
    // The next publish reconnects and declares the queue again.
    queue.publish(task(3)).await.unwrap();
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    let d = expect_next(&consumer).await;
    assert_eq!(d.payload(), task(3).to_string().as_bytes());
    d.ack().await.unwrap();
    consumer.close().await;
}

#[tokio::test]
async fn retries_count_attempts_and_dead_lettering_moves_to_the_dead_letter_queue() {
    let Some(url) = amqp_url("retries_count_attempts_and_dead_lettering") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    queue.publish(task(7)).await.unwrap();
    for expected in 1..=3 {
        let d = expect_next(&consumer).await;
        assert_eq!(d.attempt(), expected);
        d.retry().await.unwrap();
    }
    let d = expect_next(&consumer).await;
    assert_eq!(d.attempt(), 4);
    d.dead_letter().await.unwrap();
    assert!(next_within(&consumer, Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(
        depths_settle(&cfg, QueueDepths { ready: 0, dead: 1 }).await,
        QueueDepths { ready: 0, dead: 1 }
    );
    consumer.close().await;
}

#[tokio::test]
async fn the_delivery_limit_dead_letters_a_message_nobody_settles() {
    let Some(url) = amqp_url("the_delivery_limit_dead_letters_a_message_nobody_settles") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.delivery_limit = 2;
    // One message per consumer: a prefetched one would be returned (and counted) too.
    cfg.prefetch = 1;
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    queue.publish(task(9)).await.unwrap();
    queue.publish(task(10)).await.unwrap();
    // A consumer that crashes on the message (its connection drops without a settle)
    // over and over: the broker counts each return and gives up past the limit.
    let mut deliveries_of_poison = 0;
    for _ in 0..10 {
        let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
        let Some(d) = next_within(&consumer, Duration::from_millis(500)).await else {
            break;
        };
        if d.payload() == task(10).to_string().as_bytes() {
            d.ack().await.unwrap();
            consumer.close().await;
            continue;
        }
        deliveries_of_poison += 1;
        assert_eq!(d.attempt(), deliveries_of_poison);
        consumer.close().await;
        drop(d);
    }
    assert_eq!(
        deliveries_of_poison,
        cfg.delivery_limit + 1,
        "delivered once, then returned at most the limit"
    );
    assert_eq!(
        depths_settle(&cfg, QueueDepths { ready: 0, dead: 1 }).await,
        QueueDepths { ready: 0, dead: 1 }
    );
}

#[tokio::test]
async fn an_unreachable_broker_fails_fast_and_both_sides_recover() {
    let Some(url) = amqp_url("an_unreachable_broker_fails_fast_and_both_sides_recover") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());

    // Nobody listens: refused at once.
    let nowhere = via(&cfg, dead_port().await.unwrap());
    let queue = AmqpTaskQueue::new(nowhere.clone()).unwrap();
    let started = Instant::now();
    assert!(matches!(
        queue.publish(task(1)).await,
        Err(PortError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_millis(1200));
    let consumer = AmqpTaskConsumer::new(nowhere).unwrap();
    assert!(matches!(
        consumer.next().await,
        Err(PortError::Unavailable(_))
    ));

    // Through a proxy that goes silent: the publish gives up within about a second.
    let proxy = Proxy::start(broker_addr(&cfg)).await.unwrap();
    let proxied = via(&cfg, proxy.addr);
    let queue = AmqpTaskQueue::new(proxied.clone()).unwrap();
    queue.publish(task(2)).await.unwrap();
    proxy.blackhole();
    for n in 3..5 {
        let started = Instant::now();
        let r = queue.publish(task(n)).await;
        let took = started.elapsed();
        assert!(matches!(r, Err(PortError::Unavailable(_))), "{r:?}");
        assert!(took < Duration::from_millis(1300), "took {took:?}");
    }
    // Reachable again: publishing works without restarting anything.
    proxy.forward();
    let recovered = eventually(Duration::from_secs(5), || async {
        queue.publish(task(5)).await.ok()
    })
    .await;
    assert!(recovered.is_some(), "publishing recovers");

    let consumer = AmqpTaskConsumer::new(proxied).unwrap();
    let mut got = HashSet::new();
    while let Some(d) = next_within(&consumer, Duration::from_millis(500)).await {
        got.insert(String::from_utf8(d.payload().to_vec()).unwrap());
        d.ack().await.unwrap();
    }
    assert!(got.contains(&task(2).to_string()));
    assert!(got.contains(&task(5).to_string()));
    consumer.close().await;
    drop(proxy);
}

#[tokio::test]
async fn a_consumer_reconnects_after_its_connection_is_cut() {
    let Some(url) = amqp_url("a_consumer_reconnects_after_its_connection_is_cut") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let proxy = Proxy::start(broker_addr(&cfg)).await.unwrap();
    let consumer = AmqpTaskConsumer::new(via(&cfg, proxy.addr)).unwrap();
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    consumer.connect().await.unwrap();
    queue.publish(task(1)).await.unwrap();
    let held = expect_next(&consumer).await;
    assert_eq!(held.attempt(), 1);

    // The connection dies while the task is held (a killed worker, a broker restart).
    proxy.cut();
    let d = eventually(Duration::from_secs(5), || async {
        match tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
            Ok(Ok(Some(d))) => Some(d),
            _ => None,
        }
    })
    .await
    .expect("the consumer reconnects and gets the task again");
    assert_eq!(d.payload(), task(1).to_string().as_bytes());
    assert_eq!(d.attempt(), 2, "the broker counted the return");
    assert!(
        held.ack().await.is_err(),
        "the old delivery cannot be settled"
    );
    d.ack().await.unwrap();
    assert!(next_within(&consumer, Duration::from_millis(300))
        .await
        .is_none());
    consumer.close().await;
    drop(proxy);
}

#[tokio::test]
async fn two_consumers_share_the_load_and_no_task_goes_to_both() {
    let Some(url) = amqp_url("two_consumers_share_the_load_and_no_task_goes_to_both") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 1;
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    let consumers: Vec<Arc<AmqpTaskConsumer>> = (0..2)
        .map(|_| Arc::new(AmqpTaskConsumer::new(cfg.clone()).unwrap()))
        .collect();
    for c in &consumers {
        c.connect().await.unwrap();
    }
    let total = 60u128;
    for n in 0..total {
        queue.publish(task(n)).await.unwrap();
    }
    let seen: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let mut workers = Vec::new();
    for (i, c) in consumers.iter().enumerate() {
        let (c, seen) = (c.clone(), seen.clone());
        workers.push(tokio::spawn(async move {
            while let Some(d) = next_within(&c, Duration::from_millis(500)).await {
                // Each task takes a little while, as a search does.
                tokio::time::sleep(Duration::from_millis(3)).await;
                seen.lock()
                    .unwrap()
                    .push((i, String::from_utf8(d.payload().to_vec()).unwrap()));
                d.ack().await.unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<&String> = seen.iter().map(|(_, t)| t).collect();
    assert_eq!(seen.len() as u128, total, "each task delivered once");
    assert_eq!(distinct.len() as u128, total);
    let first = seen.iter().filter(|(i, _)| *i == 0).count();
    assert!(
        first > 0 && first < seen.len(),
        "both consumers worked: {first} of {}",
        seen.len()
    );
    for c in &consumers {
        c.close().await;
    }
}

#[tokio::test]
async fn closing_hands_held_and_prefetched_tasks_back() {
    let Some(url) = amqp_url("closing_hands_held_and_prefetched_tasks_back") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    for n in 0..3 {
        queue.publish(task(n)).await.unwrap();
    }
    let consumer = Arc::new(AmqpTaskConsumer::new(cfg.clone()).unwrap());
    let held = expect_next(&consumer).await;
    // A waiting `next` ends with `None` when the consumer closes.
    let c = consumer.clone();
    let waiting = tokio::spawn(async move {
        let mut kept = Vec::new();
        loop {
            match c.next().await {
                Ok(Some(d)) => kept.push(d),
                Ok(None) => return kept,
                Err(e) => panic!("{e}"),
            }
        }
    });
    // Let the waiting loop take the two others, then close.
    eventually(Duration::from_secs(5), || async {
        (queue_depths(&cfg).await.unwrap().ready == 0).then_some(())
    })
    .await
    .unwrap();
    consumer.close().await;
    let kept = waiting.await.unwrap();
    assert!(kept.len() <= 2);
    assert!(held.ack().await.is_err());
    drop(kept);
    assert_eq!(
        depths_settle(&cfg, QueueDepths { ready: 3, dead: 0 }).await,
        QueueDepths { ready: 3, dead: 0 },
        "everything unsettled went back"
    );
}

#[tokio::test]
async fn a_delivery_dropped_unsettled_comes_back_at_once() {
    let Some(url) = amqp_url("a_delivery_dropped_unsettled_comes_back_at_once") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    queue.publish(task(1)).await.unwrap();
    let d = expect_next(&consumer).await;
    assert_eq!(d.attempt(), 1);
    // Its task was cancelled: the delivery is handed back, not held until the channel
    // closes.
    drop(d);
    let again = expect_next(&consumer).await;
    assert_eq!(again.payload(), task(1).to_string().as_bytes());
    assert_eq!(again.attempt(), 2);
    again.ack().await.unwrap();
    assert!(next_within(&consumer, Duration::from_millis(300))
        .await
        .is_none());
    consumer.close().await;
}

#[tokio::test]
async fn a_stopped_consumer_takes_nothing_new_but_settles_what_it_holds() {
    let Some(url) = amqp_url("a_stopped_consumer_takes_nothing_new_but_settles_what_it_holds")
    else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 1;
    let _cleanup = Cleanup(cfg.clone());
    let queue = AmqpTaskQueue::new(cfg.clone()).unwrap();
    let consumer = AmqpTaskConsumer::new(cfg.clone()).unwrap();
    queue.publish(task(1)).await.unwrap();
    let held = expect_next(&consumer).await;
    consumer.stop().await;
    assert!(consumer.next().await.unwrap().is_none());
    queue.publish(task(2)).await.unwrap();
    held.ack().await.unwrap();
    assert_eq!(
        depths_settle(&cfg, QueueDepths { ready: 1, dead: 0 }).await,
        QueueDepths { ready: 1, dead: 0 },
        "the new task waits for another consumer"
    );
    consumer.close().await;
}

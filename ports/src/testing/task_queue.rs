//! [`TaskQueue`] and [`TaskConsumer`]: what is published is delivered; each way of
//! settling a delivery does what it says.

use super::support::unique_u128;
use super::TimeTravel;
use crate::{parse_payload, Delivery, TaskConsumer, TaskQueue};
use futures_util::future::{select, Either};
use messenger_domain::TaskId;
use std::collections::HashSet;
use std::time::Duration;

/// How long a delivery that must arrive may take (an upper bound, not a wait: a delivery
/// ends the wait at once).
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How long the checks watch for a delivery that must not come.
pub const QUIET: Duration = Duration::from_millis(200);

/// Runs every check of [`TaskQueue`] with its [`TaskConsumer`]. The queue must be this
/// suite's alone and empty at the start (a consumer cannot tell its messages from
/// another's): use a unique queue name on a broker.
///
/// `wait` bounds the waits: a delivery that must arrive must do so before
/// `wait(PATIENCE)` resolves, and one that must not arrive must not before `wait(QUIET)`
/// resolves (about 0.6 s in all on a broker). A broker passes a real sleep; a queue whose
/// deliveries are ready at once may pass an instant one. `next()` must be cancel-safe:
/// dropping it unfinished loses no message.
/// - a published task is delivered once, with its id as the payload (32 hex digits) and
///   attempt 1; once acked it is not delivered again;
/// - a retried delivery comes back with the next attempt number;
/// - a dead-lettered delivery is not delivered again;
/// - several published tasks all arrive.
pub async fn task_queue_suite(
    queue: &dyn TaskQueue,
    consumer: &dyn TaskConsumer,
    wait: &TimeTravel,
) {
    published_task_is_delivered_and_acked(queue, consumer, wait).await;
    retried_delivery_comes_back_with_the_next_attempt(queue, consumer, wait).await;
    dead_lettered_delivery_is_not_delivered_again(queue, consumer, wait).await;
    every_published_task_is_delivered(queue, consumer, wait).await;
}

/// The next delivery, which must come within [`PATIENCE`].
async fn arrival(consumer: &dyn TaskConsumer, wait: &TimeTravel, what: &str) -> Box<dyn Delivery> {
    let next = consumer.next();
    let deadline = wait.advance(PATIENCE);
    match select(next, Box::pin(deadline)).await {
        Either::Left((Ok(Some(delivery)), _)) => delivery,
        Either::Left((Ok(None), _)) => panic!("{what}: the queue closed instead"),
        Either::Left((Err(e), _)) => panic!("{what}: next() failed: {e:?}"),
        Either::Right(((), _)) => panic!("{what}: nothing was delivered within {PATIENCE:?}"),
    }
}

/// Nothing must be delivered within [`QUIET`].
async fn silence(consumer: &dyn TaskConsumer, wait: &TimeTravel, what: &str) {
    let next = consumer.next();
    let quiet = wait.advance(QUIET);
    match select(next, Box::pin(quiet)).await {
        Either::Left((Ok(Some(delivery)), _)) => panic!(
            "{what}: expected no delivery, got payload {:?} (attempt {})",
            String::from_utf8_lossy(delivery.payload()),
            delivery.attempt()
        ),
        Either::Left((Ok(None), _)) => panic!("{what}: the queue closed"),
        Either::Left((Err(e), _)) => panic!("{what}: next() failed: {e:?}"),
        Either::Right(((), _)) => {}
    }
}

async fn publish(queue: &dyn TaskQueue) -> TaskId {
    let id = TaskId::from_u128(unique_u128());
    if let Err(e) = queue.publish(id).await {
        panic!("publish: the queue refused a task: {e:?}");
    }
    id
}

#[track_caller]
fn assert_task(delivery: &dyn Delivery, id: TaskId, attempt: u32, what: &str) {
    let payload = delivery.payload();
    assert!(
        payload.len() == 32 && parse_payload(payload) == Some(id),
        "{what}: the payload must be the task id {id} in 32 hex digits, got {:?}",
        String::from_utf8_lossy(payload)
    );
    assert_eq!(delivery.attempt(), attempt, "{what}: wrong attempt number");
}

#[track_caller]
fn settled(result: crate::PortResult<()>, how: &str) {
    if let Err(e) = result {
        panic!("{how} failed: {e:?}");
    }
}

/// A published task arrives with its id and attempt 1; after `ack` it never comes again.
pub async fn published_task_is_delivered_and_acked(
    queue: &dyn TaskQueue,
    consumer: &dyn TaskConsumer,
    wait: &TimeTravel,
) {
    let id = publish(queue).await;
    let delivery = arrival(consumer, wait, "a published task").await;
    assert_task(&*delivery, id, 1, "a first delivery");
    settled(delivery.ack().await, "ack");
    silence(consumer, wait, "after ack").await;
}

/// `retry` hands the message back: it arrives again with attempt 2, then 3.
pub async fn retried_delivery_comes_back_with_the_next_attempt(
    queue: &dyn TaskQueue,
    consumer: &dyn TaskConsumer,
    wait: &TimeTravel,
) {
    let id = publish(queue).await;
    let delivery = arrival(consumer, wait, "a published task").await;
    assert_task(&*delivery, id, 1, "a first delivery");
    settled(delivery.retry().await, "retry");
    let delivery = arrival(consumer, wait, "a retried task").await;
    assert_task(&*delivery, id, 2, "the delivery after one retry");
    settled(delivery.retry().await, "retry");
    let delivery = arrival(consumer, wait, "a task retried twice").await;
    assert_task(&*delivery, id, 3, "the delivery after two retries");
    settled(delivery.ack().await, "ack");
}

/// After `dead_letter` the message is not delivered again.
pub async fn dead_lettered_delivery_is_not_delivered_again(
    queue: &dyn TaskQueue,
    consumer: &dyn TaskConsumer,
    wait: &TimeTravel,
) {
    let id = publish(queue).await;
    let delivery = arrival(consumer, wait, "a published task").await;
    assert_task(&*delivery, id, 1, "a first delivery");
    settled(delivery.dead_letter().await, "dead_letter");
    silence(consumer, wait, "after dead_letter (and the retries before)").await;
}

/// Five published tasks all arrive (in any order), each once.
pub async fn every_published_task_is_delivered(
    queue: &dyn TaskQueue,
    consumer: &dyn TaskConsumer,
    wait: &TimeTravel,
) {
    let mut expected = HashSet::new();
    for _ in 0..5 {
        expected.insert(publish(queue).await);
    }
    let mut seen = HashSet::new();
    for _ in 0..5 {
        let delivery = arrival(consumer, wait, "one of 5 published tasks").await;
        let id = parse_payload(delivery.payload());
        match id {
            Some(id) if expected.contains(&id) && seen.insert(id) => {
                assert_eq!(delivery.attempt(), 1, "a first delivery has attempt 1");
            }
            _ => panic!(
                "expected one of the 5 tasks just published, each once; got {:?}",
                String::from_utf8_lossy(delivery.payload())
            ),
        }
        settled(delivery.ack().await, "ack");
    }
    silence(consumer, wait, "after all 5 were acked").await;
}

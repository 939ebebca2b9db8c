//! What an operator does with dead letters (`messenger-worker dead-letters …`): list them
//! without taking them for good, move them back to the task queue, or empty the queues.
//!
//! Two queues hold them: `<queue>.dead`, where the broker puts a task message given up on
//! (its delivery limit reached, or rejected by a worker) until the worker marks its task
//! `FAILED`, and `<queue>.parked`, where the worker then moves it. Each operation covers
//! both, the dead-letter queue first.

use crate::{admin::open, config::AmqpConfig, config::AmqpError, delivery::count_of};
use lapin::{
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueueDeclareOptions, QueuePurgeOptions,
    },
    types::{AMQPValue, FieldTable},
    BasicProperties, Channel, Confirmation,
};
use std::future::Future;

/// One dead letter, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue holding it: `<queue>.dead` (its task not yet marked `FAILED`) or
    /// `<queue>.parked`.
    pub queue: String,
    /// The message: a task id, unless it was malformed.
    pub payload: Vec<u8>,
    /// Why the task queue gave it up (`delivery_limit`, `rejected`, …), if recorded.
    pub reason: Option<String>,
    /// How many times it was dead-lettered from the task queue (the broker's `x-death`
    /// count).
    pub deaths: u64,
}

/// Reads the `x-death` entry of `queue`: its reason and count.
fn death_of(props: &BasicProperties, queue: &str) -> (Option<String>, u64) {
    let deaths = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death").cloned());
    let Some(AMQPValue::FieldArray(entries)) = deaths else {
        return (None, 0);
    };
    for entry in entries.as_slice() {
        let AMQPValue::FieldTable(t) = entry else {
            continue;
        };
        let text = |k: &str| match t.inner().get(k) {
            Some(AMQPValue::LongString(s)) => Some(s.to_string()),
            Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_owned()),
            _ => None,
        };
        if text("queue").as_deref() == Some(queue) {
            let count = t.inner().get("count").and_then(count_of).unwrap_or(1);
            return (text("reason"), count);
        }
    }
    (None, 0)
}

fn broker(e: lapin::Error) -> AmqpError {
    AmqpError::Broker(e.to_string())
}

async fn ready(channel: &Channel, queue: &str) -> Result<u32, AmqpError> {
    let q = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await
        .map_err(broker)?;
    Ok(q.message_count())
}

/// Up to `limit` dead letters of each queue, oldest first. They are taken without an ack
/// and handed back when the connection closes, so they stay where they were (a quorum
/// queue counts that as a delivery).
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or a queue does not exist.
pub async fn list_dead_letters(
    cfg: &AmqpConfig,
    limit: usize,
) -> Result<Vec<DeadLetter>, AmqpError> {
    let link = open(cfg).await?;
    let listed = async {
        let mut out = Vec::new();
        for queue in [cfg.dead_letter_queue(), cfg.parking_queue()] {
            let mut taken = 0;
            while taken < limit {
                let got = link
                    .channel
                    .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                    .await
                    .map_err(broker)?;
                let Some(got) = got else { break };
                let (reason, deaths) = death_of(&got.delivery.properties, &cfg.queue);
                out.push(DeadLetter {
                    queue: queue.clone(),
                    payload: got.delivery.data,
                    reason,
                    deaths,
                });
                taken += 1;
            }
        }
        Ok(out)
    }
    .await;
    // Closing hands every message taken back to its queue.
    link.close(cfg.connect_timeout).await;
    listed
}

/// Moves the dead letters back to the task queue, as new messages (their delivery count
/// starts again). `before_each` runs first for each payload (e.g. to set its task back to
/// `WAITING`); when it fails, the message stays and requeueing stops. Takes at most as
/// many as the queues held when it started. Answers how many moved.
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or refuses, or the message
/// `before_each` refused (those already moved stay moved).
pub async fn requeue_dead_letters<F, Fut>(
    cfg: &AmqpConfig,
    mut before_each: F,
) -> Result<usize, AmqpError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let link = open(cfg).await?;
    let moved = async {
        let channel = &link.channel;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broker)?;
        let mut moved = 0;
        for queue in [cfg.dead_letter_queue(), cfg.parking_queue()] {
            let held = ready(channel, &queue).await?;
            for _ in 0..held {
                let got = channel
                    .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                    .await
                    .map_err(broker)?;
                let Some(got) = got else { break };
                let delivery = got.delivery;
                before_each(delivery.data.clone())
                    .await
                    .map_err(AmqpError::Broker)?;
                let props = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("text/plain".into());
                let options = BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                };
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        cfg.queue.as_str().into(),
                        options,
                        &delivery.data,
                        props,
                    )
                    .await
                    .map_err(broker)?
                    .await
                    .map_err(broker)?;
                if !matches!(confirm, Confirmation::Ack(None)) {
                    return Err(AmqpError::Broker(
                        "the task queue did not take a requeued message".into(),
                    ));
                }
                delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(broker)?;
                moved += 1;
            }
        }
        Ok(moved)
    }
    .await;
    link.close(cfg.connect_timeout).await;
    moved
}

/// Empties the dead-letter and the parking queue; answers how many messages each held.
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or a queue does not exist.
pub async fn purge_dead_letters(cfg: &AmqpConfig) -> Result<(u32, u32), AmqpError> {
    let link = open(cfg).await?;
    let purged = async {
        let mut counts = [0u32; 2];
        for (n, queue) in [cfg.dead_letter_queue(), cfg.parking_queue()]
            .iter()
            .enumerate()
        {
            let c = link
                .channel
                .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
                .await
                .map_err(broker)?;
            if let Some(slot) = counts.get_mut(n) {
                *slot = c;
            }
        }
        Ok((counts[0], counts[1]))
    }
    .await;
    link.close(cfg.connect_timeout).await;
    purged
}

//! The search-task loop, shared by the in-process worker (memory queue) and the
//! `messenger-worker` binary: take a delivery, run its task, settle it; and the
//! dead-letter loop of the binary: mark each given-up task `FAILED`, then park its
//! message.

use crate::{Delivery, Messenger, PortResult, TaskConsumer};
use futures_util::{stream, Future, StreamExt};
use messenger_domain::TaskId;

/// What [`process_delivery`] did with one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The task ran (or needed nothing: final already, or gone) and was acked.
    Processed,
    /// The task failed this time and was handed back for another attempt.
    Retried,
    /// The task failed for good: marked `FAILED` and dead-lettered.
    Failed,
    /// The payload was not a task id: dead-lettered.
    Malformed,
}

/// Parses a payload: a task id in 32 hex digits (or the dashed form).
pub fn parse_payload(payload: &[u8]) -> Option<TaskId> {
    std::str::from_utf8(payload).ok().and_then(TaskId::parse)
}

/// Runs the task of one delivery and settles it: ack when done; retry a failure until
/// `task_max_attempts`, then mark the task `FAILED` and dead-letter it; dead-letter a
/// malformed payload at once. Settling errors are logged (the broker redelivers an
/// unsettled message).
pub async fn process_delivery(messenger: &Messenger, delivery: Box<dyn Delivery>) -> TaskOutcome {
    let Some(id) = parse_payload(delivery.payload()) else {
        tracing::warn!("malformed search-task message; dead-lettering it");
        settle(delivery.dead_letter().await);
        return TaskOutcome::Malformed;
    };
    match messenger.run_search_task(id).await {
        Ok(_) => {
            settle(delivery.ack().await);
            TaskOutcome::Processed
        }
        Err(e) if delivery.attempt() >= messenger.settings().task_max_attempts => {
            tracing::error!(task = %id, error = %e, "search task failed for good");
            if let Err(e) = messenger.fail_search_task(id).await {
                tracing::error!(task = %id, error = %e, "could not mark the task FAILED");
            }
            settle(delivery.dead_letter().await);
            TaskOutcome::Failed
        }
        Err(e) => {
            tracing::warn!(task = %id, error = %e, attempt = delivery.attempt(), "search task failed; retrying");
            settle(delivery.retry().await);
            TaskOutcome::Retried
        }
    }
}

/// What [`process_dead_letter`] did with one dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterOutcome {
    /// Its task is `FAILED` now (or was final already, or is gone); the message was parked.
    Failed,
    /// The payload was not a task id: parked as it is.
    Malformed,
    /// The task store did not answer: handed back to try again.
    Retried,
}

/// Handles one dead letter (a task message the queue gave up on, e.g. because workers
/// kept crashing on it): marks its task `FAILED` so that no client polls a task that will
/// never run, then parks the message (`dead_letter` on a dead-letter delivery) for an
/// operator. A task that succeeded meanwhile stays `SUCCESS` (the store never leaves it).
pub async fn process_dead_letter(
    messenger: &Messenger,
    delivery: Box<dyn Delivery>,
) -> DeadLetterOutcome {
    let Some(id) = parse_payload(delivery.payload()) else {
        tracing::warn!("malformed dead letter; parking it");
        settle(delivery.dead_letter().await);
        return DeadLetterOutcome::Malformed;
    };
    match messenger.fail_search_task(id).await {
        Ok(()) => {
            tracing::warn!(task = %id, "search task dead-lettered: marked FAILED");
            settle(delivery.dead_letter().await);
            DeadLetterOutcome::Failed
        }
        Err(e) => {
            tracing::warn!(task = %id, error = %e, "could not mark a dead-lettered task FAILED; retrying");
            settle(delivery.retry().await);
            DeadLetterOutcome::Retried
        }
    }
}

fn settle(r: PortResult<()>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not settle a search-task message");
    }
}

/// Consumes `consumer` until it closes or `shutdown` resolves, running up to
/// `concurrency` tasks at once. Tasks already taken finish before this returns.
/// When the queue is unreachable, `on_unavailable` is awaited (a back-off) before trying
/// again.
pub async fn run_worker<S, B, BF>(
    messenger: Messenger,
    consumer: std::sync::Arc<dyn TaskConsumer>,
    concurrency: usize,
    shutdown: S,
    backoff: B,
) where
    S: Future<Output = ()> + Send,
    B: Fn() -> BF + Send + Sync,
    BF: Future<Output = ()> + Send,
{
    run_loop(consumer, concurrency, shutdown, backoff, |d| {
        let messenger = messenger.clone();
        async move {
            process_delivery(&messenger, d).await;
        }
    })
    .await;
}

/// Like [`run_worker`], for a consumer of dead letters: runs [`process_dead_letter`] on
/// each.
pub async fn run_dead_letter_worker<S, B, BF>(
    messenger: Messenger,
    consumer: std::sync::Arc<dyn TaskConsumer>,
    concurrency: usize,
    shutdown: S,
    backoff: B,
) where
    S: Future<Output = ()> + Send,
    B: Fn() -> BF + Send + Sync,
    BF: Future<Output = ()> + Send,
{
    run_loop(consumer, concurrency, shutdown, backoff, |d| {
        let messenger = messenger.clone();
        async move {
            process_dead_letter(&messenger, d).await;
        }
    })
    .await;
}

async fn run_loop<S, B, BF, H, HF>(
    consumer: std::sync::Arc<dyn TaskConsumer>,
    concurrency: usize,
    shutdown: S,
    backoff: B,
    handle: H,
) where
    S: Future<Output = ()> + Send,
    B: Fn() -> BF + Send + Sync,
    BF: Future<Output = ()> + Send,
    H: Fn(Box<dyn Delivery>) -> HF,
    HF: Future<Output = ()>,
{
    let deliveries = stream::unfold((), |()| {
        let consumer = consumer.clone();
        let backoff = &backoff;
        async move {
            loop {
                match consumer.next().await {
                    Ok(Some(d)) => return Some((d, ())),
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "task queue unavailable; backing off");
                        backoff().await;
                    }
                }
            }
        }
    });
    deliveries
        .take_until(shutdown)
        .for_each_concurrent(concurrency.max(1), handle)
        .await;
}

//! Search-task ports: the queue (publish; consume with acknowledgement) and the store of
//! task status and results (with a time limit).

use crate::PortResult;
use async_trait::async_trait;
use messenger_domain::{SearchHit, SearchTask, TaskId, TaskStatus};
use std::time::Duration;

/// Publishes search tasks.
#[async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Queues the task durably. `Ok` only once the queue has accepted it (for a broker:
    /// confirmed); otherwise the task must be treated as never queued.
    ///
    /// # Errors
    /// [`crate::PortError::Unavailable`] when the queue is down, full or too slow.
    async fn publish(&self, task: TaskId) -> PortResult<()>;
}

/// One received task message, to be settled exactly once.
#[async_trait]
pub trait Delivery: Send {
    /// The raw payload (a task id in 32 hex digits; anything else is malformed).
    fn payload(&self) -> &[u8];

    /// How many times this message has been delivered, this time included (1 = first).
    fn attempt(&self) -> u32;

    /// Done: remove it from the queue.
    async fn ack(self: Box<Self>) -> PortResult<()>;

    /// Failed for now: deliver it again later (to any consumer).
    async fn retry(self: Box<Self>) -> PortResult<()>;

    /// Give up: move it to the dead-letter queue (or drop it where there is none).
    async fn dead_letter(self: Box<Self>) -> PortResult<()>;
}

/// Receives search tasks.
#[async_trait]
pub trait TaskConsumer: Send + Sync + 'static {
    /// Waits for the next message; `None` when the queue is closed for good.
    ///
    /// # Errors
    /// [`crate::PortError::Unavailable`] while the queue cannot be reached (the caller
    /// backs off and calls again).
    async fn next(&self) -> PortResult<Option<Box<dyn Delivery>>>;
}

/// A slice of a task's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitsSlice {
    /// The hits from the requested offset, newest first.
    pub hits: Vec<SearchHit>,
    /// How many hits the task has in all.
    pub total: u64,
}

/// Task status and results, each kept for a time limit, readable by every instance and
/// by the workers.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new task, kept for `ttl`.
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()>;

    /// The task, if it exists and has not expired.
    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>>;

    /// Sets the status and restarts the time limit at `ttl`; `false` (and nothing changed)
    /// when the task is gone or `SUCCESS`: a finished task's results may have been read,
    /// so it never leaves `SUCCESS`. (`FAILED` may go back to `WAITING`: an operator
    /// requeues a dead letter.)
    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool>;

    /// Stores the hits and sets `SUCCESS` at once (a reader never sees `SUCCESS` without
    /// the hits), kept for `ttl`. `false` (and nothing changed) when the task is gone or
    /// already final (`SUCCESS` or `FAILED`), checked in the same step as the write: a
    /// stale worker finishing late, after another completed the task or it was given up,
    /// cannot complete it a second time.
    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool>;

    /// Up to `limit` hits from `offset`, with the total; `None` when the task is gone.
    async fn hits(&self, id: TaskId, offset: u64, limit: u32) -> PortResult<Option<HitsSlice>>;

    /// Forgets the task (a task whose publishing failed never existed).
    async fn delete_task(&self, id: TaskId) -> PortResult<()>;
}

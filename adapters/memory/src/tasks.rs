//! The in-process search-task queue (a bounded tokio channel whose consumer runs inside the
//! API process) and the task store.

use async_trait::async_trait;
use messenger_domain::{SearchHit, SearchTask, TaskId, TaskStatus, Timestamp};
use messenger_ports::{
    Clock, Delivery, HitsSlice, PortError, PortResult, TaskConsumer, TaskQueue, TaskStore,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

struct Envelope {
    payload: Vec<u8>,
    attempt: u32,
}

/// Publishes to the in-process queue.
#[derive(Clone)]
pub struct MemoryTaskQueue {
    tx: mpsc::Sender<Envelope>,
}

/// Consumes the in-process queue.
pub struct MemoryTaskConsumer {
    rx: tokio::sync::Mutex<mpsc::Receiver<Envelope>>,
    tx: mpsc::WeakSender<Envelope>,
    dead: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// A queue holding at most `capacity` waiting tasks (publishing beyond answers
/// Unavailable: 503, never an unbounded backlog).
pub fn memory_task_queue(capacity: usize) -> (MemoryTaskQueue, MemoryTaskConsumer) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let consumer = MemoryTaskConsumer {
        rx: tokio::sync::Mutex::new(rx),
        tx: tx.downgrade(),
        dead: Arc::default(),
    };
    (MemoryTaskQueue { tx }, consumer)
}

impl MemoryTaskQueue {
    /// Queues a raw payload (tests use it to send malformed messages).
    ///
    /// # Errors
    /// Unavailable when the queue is full or closed.
    pub fn publish_raw(&self, payload: Vec<u8>) -> PortResult<()> {
        self.tx
            .try_send(Envelope {
                payload,
                attempt: 1,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    PortError::Unavailable("search queue is full".into())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    PortError::Unavailable("search queue is closed".into())
                }
            })
    }
}

#[async_trait]
impl TaskQueue for MemoryTaskQueue {
    async fn publish(&self, task: TaskId) -> PortResult<()> {
        self.publish_raw(task.to_string().into_bytes())
    }
}

impl MemoryTaskConsumer {
    /// Payloads given up on (the in-process dead-letter queue), for inspection.
    pub fn dead_letters(&self) -> Vec<Vec<u8>> {
        self.dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl TaskConsumer for MemoryTaskConsumer {
    async fn next(&self) -> PortResult<Option<Box<dyn Delivery>>> {
        let envelope = self.rx.lock().await.recv().await;
        Ok(envelope.map(|e| {
            Box::new(MemoryDelivery {
                envelope: e,
                requeue: self.tx.clone(),
                dead: Arc::clone(&self.dead),
            }) as Box<dyn Delivery>
        }))
    }
}

struct MemoryDelivery {
    envelope: Envelope,
    requeue: mpsc::WeakSender<Envelope>,
    dead: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[async_trait]
impl Delivery for MemoryDelivery {
    fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    fn attempt(&self) -> u32 {
        self.envelope.attempt
    }

    async fn ack(self: Box<Self>) -> PortResult<()> {
        Ok(())
    }

    async fn retry(self: Box<Self>) -> PortResult<()> {
        let tx = self
            .requeue
            .upgrade()
            .ok_or_else(|| PortError::Unavailable("search queue is closed".into()))?;
        let envelope = Envelope {
            payload: self.envelope.payload,
            attempt: self.envelope.attempt.saturating_add(1),
        };
        // Waits for room rather than dropping the task.
        tx.send(envelope)
            .await
            .map_err(|_| PortError::Unavailable("search queue is closed".into()))
    }

    async fn dead_letter(self: Box<Self>) -> PortResult<()> {
        self.dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.envelope.payload);
        Ok(())
    }
}

struct TaskEntry {
    task: SearchTask,
    hits: Arc<Vec<SearchHit>>,
    expires_at: Timestamp,
}

/// Task status and results in memory, each with a time limit on the `Clock` port.
pub struct MemoryTaskStore {
    tasks: Mutex<HashMap<TaskId, TaskEntry>>,
    clock: Arc<dyn Clock>,
}

impl MemoryTaskStore {
    /// An empty store.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            tasks: Mutex::default(),
            clock,
        }
    }

    /// Drops expired tasks (call periodically; keeps memory bounded).
    pub fn forget_expired(&self) {
        let now = self.clock.now();
        self.lock().retain(|_, e| e.expires_at > now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, TaskEntry>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the live (unexpired) entry of `id`.
    fn with_live<T>(&self, id: TaskId, f: impl FnOnce(&mut TaskEntry) -> T) -> Option<T> {
        let now = self.clock.now();
        let mut tasks = self.lock();
        match tasks.get_mut(&id) {
            Some(e) if e.expires_at > now => Some(f(e)),
            Some(_) => {
                tasks.remove(&id);
                None
            }
            None => None,
        }
    }
}

#[async_trait]
impl TaskStore for MemoryTaskStore {
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()> {
        let expires_at = self.clock.now().plus(ttl);
        self.lock().insert(
            task.id,
            TaskEntry {
                task: task.clone(),
                hits: Arc::default(),
                expires_at,
            },
        );
        Ok(())
    }

    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>> {
        Ok(self.with_live(id, |e| e.task.clone()))
    }

    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool> {
        let expires_at = self.clock.now().plus(ttl);
        // SUCCESS is never left: its results may already have been read.
        Ok(self
            .with_live(id, |e| {
                if e.task.status == TaskStatus::Success {
                    return false;
                }
                e.task.status = status;
                e.expires_at = expires_at;
                true
            })
            .unwrap_or(false))
    }

    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool> {
        let expires_at = self.clock.now().plus(ttl);
        let hits = Arc::new(hits.to_vec());
        // A final task is never completed (again): a late worker cannot overwrite it.
        Ok(self
            .with_live(id, |e| {
                if e.task.status.is_final() {
                    return false;
                }
                e.task.status = TaskStatus::Success;
                e.hits = hits;
                e.expires_at = expires_at;
                true
            })
            .unwrap_or(false))
    }

    async fn hits(&self, id: TaskId, offset: u64, limit: u32) -> PortResult<Option<HitsSlice>> {
        Ok(self.with_live(id, |e| {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(e.hits.len());
            let end = start.saturating_add(limit as usize).min(e.hits.len());
            HitsSlice {
                hits: e.hits[start..end].to_vec(),
                total: e.hits.len() as u64,
            }
        }))
    }

    async fn delete_task(&self, id: TaskId) -> PortResult<()> {
        self.lock().remove(&id);
        Ok(())
    }
}

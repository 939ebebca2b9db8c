//! The worker's metrics: tasks by outcome, their duration, tasks in flight, redeliveries
//! and dead letters handled, all recorded by a decorator around the consumers (so the
//! shared task loop stays free of metrics); and the queues' counts, set by the probe.
//! Everything goes to the process's Prometheus recorder of `messenger-wiring`, which also
//! holds the task store decorator's `messenger_search_tasks_total`.

use async_trait::async_trait;
use messenger_ports::{Delivery, PortError, PortResult, TaskConsumer};
use messenger_rabbitmq::{QueueCounts, QueueStats};
use std::sync::{Arc, Once};
use std::time::Instant;

/// Task messages settled, by `outcome`: `processed` (acked), `retried` (handed back),
/// `dead_lettered` (given up), `abandoned` (dropped unsettled: the broker redelivers it).
pub const TASKS: &str = "messenger_worker_tasks_total";
/// Seconds from taking a task message to settling it.
pub const TASK_DURATION: &str = "messenger_worker_task_duration_seconds";
/// Task messages taken and not yet settled.
pub const IN_FLIGHT: &str = "messenger_worker_tasks_in_flight";
/// Task messages delivered again (an earlier attempt failed or its worker died).
pub const REDELIVERIES: &str = "messenger_worker_redeliveries_total";
/// Dead letters handled, by `outcome`: `parked` (task marked `FAILED`, message parked),
/// `retried` (the task store did not answer), `abandoned`.
pub const DEAD_LETTERS: &str = "messenger_worker_dead_letters_total";
/// Messages ready in each queue, by `queue` (`tasks`, `dead`, `parked`), read from the
/// broker periodically.
pub const QUEUE_MESSAGES: &str = "messenger_queue_messages";
/// Consumers subscribed to each queue, by `queue`, read from the broker periodically.
pub const QUEUE_CONSUMERS: &str = "messenger_queue_consumers";
/// 1 when the last read of the queues' counts succeeded, else 0.
pub const QUEUE_PROBE_UP: &str = "messenger_queue_probe_up";

/// Installs the recorder (if no one did) and describes the worker's metrics, once.
pub fn install() {
    static DESCRIBED: Once = Once::new();
    messenger_wiring::metrics::install();
    DESCRIBED.call_once(|| {
        use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
        describe_counter!(TASKS, "Task messages settled, by outcome.");
        describe_histogram!(
            TASK_DURATION,
            Unit::Seconds,
            "Time from taking a task message to settling it."
        );
        describe_gauge!(IN_FLIGHT, "Task messages taken and not yet settled.");
        describe_counter!(REDELIVERIES, "Task messages delivered again.");
        describe_counter!(DEAD_LETTERS, "Dead letters handled, by outcome.");
        describe_gauge!(QUEUE_MESSAGES, "Messages ready in each queue.");
        describe_gauge!(QUEUE_CONSUMERS, "Consumers subscribed to each queue.");
        describe_gauge!(
            QUEUE_PROBE_UP,
            "Whether the last read of the queues' counts succeeded."
        );
    });
}

/// Records the queues' counts (or that they could not be read).
pub fn record_queues(stats: Option<QueueStats>) {
    let Some(stats) = stats else {
        ::metrics::gauge!(QUEUE_PROBE_UP).set(0.0);
        return;
    };
    ::metrics::gauge!(QUEUE_PROBE_UP).set(1.0);
    let each: [(&'static str, QueueCounts); 3] = [
        ("tasks", stats.tasks),
        ("dead", stats.dead),
        ("parked", stats.parked),
    ];
    for (queue, counts) in each {
        ::metrics::gauge!(QUEUE_MESSAGES, "queue" => queue).set(f64::from(counts.messages));
        ::metrics::gauge!(QUEUE_CONSUMERS, "queue" => queue).set(f64::from(counts.consumers));
    }
}

/// What a consumer's messages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tasks,
    DeadLetters,
}

/// A consumer whose deliveries count themselves when settled (or dropped).
pub struct MeteredConsumer {
    inner: Arc<dyn TaskConsumer>,
    kind: Kind,
}

impl MeteredConsumer {
    /// Counts task messages.
    pub fn tasks(inner: Arc<dyn TaskConsumer>) -> Self {
        Self {
            inner,
            kind: Kind::Tasks,
        }
    }

    /// Counts dead letters.
    pub fn dead_letters(inner: Arc<dyn TaskConsumer>) -> Self {
        Self {
            inner,
            kind: Kind::DeadLetters,
        }
    }
}

#[async_trait]
impl TaskConsumer for MeteredConsumer {
    async fn next(&self) -> PortResult<Option<Box<dyn Delivery>>> {
        let delivery = self.inner.next().await?;
        Ok(delivery.map(|d| Box::new(MeteredDelivery::new(d, self.kind)) as Box<dyn Delivery>))
    }
}

struct MeteredDelivery {
    inner: Option<Box<dyn Delivery>>,
    kind: Kind,
    taken: Instant,
}

impl MeteredDelivery {
    fn new(inner: Box<dyn Delivery>, kind: Kind) -> Self {
        if kind == Kind::Tasks {
            ::metrics::gauge!(IN_FLIGHT).increment(1.0);
            if inner.attempt() > 1 {
                ::metrics::counter!(REDELIVERIES).increment(1);
            }
        }
        Self {
            inner: Some(inner),
            kind,
            taken: Instant::now(),
        }
    }

    /// Takes the delivery to settle it, counting the outcome.
    fn settle(&mut self, task_outcome: &'static str, dead_letter_outcome: &'static str) {
        match self.kind {
            Kind::Tasks => {
                ::metrics::counter!(TASKS, "outcome" => task_outcome).increment(1);
                ::metrics::histogram!(TASK_DURATION).record(self.taken.elapsed().as_secs_f64());
            }
            Kind::DeadLetters => {
                ::metrics::counter!(DEAD_LETTERS, "outcome" => dead_letter_outcome).increment(1);
            }
        }
    }

    fn take(mut self, task: &'static str, dead: &'static str) -> PortResult<Box<dyn Delivery>> {
        // Settling consumes the delivery, so `inner` is always still there.
        let inner = self
            .inner
            .take()
            .ok_or_else(|| PortError::Internal("a delivery settled twice".into()))?;
        self.settle(task, dead);
        Ok(inner)
    }
}

impl Drop for MeteredDelivery {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.settle("abandoned", "abandoned");
        }
        if self.kind == Kind::Tasks {
            ::metrics::gauge!(IN_FLIGHT).decrement(1.0);
        }
    }
}

#[async_trait]
impl Delivery for MeteredDelivery {
    fn payload(&self) -> &[u8] {
        self.inner.as_ref().map_or(&[], |d| d.payload())
    }

    fn attempt(&self) -> u32 {
        self.inner.as_ref().map_or(1, |d| d.attempt())
    }

    async fn ack(self: Box<Self>) -> PortResult<()> {
        self.take("processed", "dropped")?.ack().await
    }

    async fn retry(self: Box<Self>) -> PortResult<()> {
        self.take("retried", "retried")?.retry().await
    }

    async fn dead_letter(self: Box<Self>) -> PortResult<()> {
        self.take("dead_lettered", "parked")?.dead_letter().await
    }
}

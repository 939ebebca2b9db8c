//! The worker: the shared task loop over the RabbitMQ consumer, and beside it the
//! dead-letter loop (each dead letter's task marked `FAILED`, its message parked), with a
//! bounded drain on shutdown; and [`process_one`] for tests.

use crate::metrics::MeteredConsumer;
use messenger_ports::{
    process_delivery, run_dead_letter_worker, run_worker, Messenger, PortResult, TaskConsumer,
    TaskOutcome,
};
use messenger_rabbitmq::AmqpTaskConsumer;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::sync::watch;

/// What [`process_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A delivery was taken, its task run and the delivery settled as described.
    Done(TaskOutcome),
    /// Nothing arrived within the wait.
    Empty,
    /// The consumer is closed for good.
    Closed,
}

/// Takes one delivery (waiting at most `wait` for it), runs its task and settles it.
///
/// # Errors
/// [`messenger_ports::PortError::Unavailable`] when the queue cannot be reached.
pub async fn process_one(
    messenger: &Messenger,
    consumer: &dyn TaskConsumer,
    wait: Duration,
) -> PortResult<Step> {
    // Cancelling `next` loses nothing (the consumer keeps what it received for the next
    // call), so a timeout here is safe.
    match tokio::time::timeout(wait, consumer.next()).await {
        Err(_) => Ok(Step::Empty),
        Ok(Ok(None)) => Ok(Step::Closed),
        Ok(Ok(Some(delivery))) => Ok(Step::Done(process_delivery(messenger, delivery).await)),
        Ok(Err(e)) => Err(e),
    }
}

/// How the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Tasks run at once (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// After the shutdown signal, how long tasks already taken may still run; the rest go
    /// back to the queue.
    pub drain_timeout: Duration,
    /// Pause of the loop after the queue answered "unavailable" (the consumer adds its own
    /// growing back-off before reconnecting).
    pub unavailable_pause: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            drain_timeout: Duration::from_secs(30),
            unavailable_pause: Duration::from_millis(250),
        }
    }
}

/// Dead letters handled at once (each is two quick calls: the task store, the broker).
const DEAD_LETTER_CONCURRENCY: usize = 2;

/// A worker process's loop: consumes the queue, running up to `concurrency` tasks at once,
/// and, when given one, the dead-letter queue.
pub struct Worker {
    messenger: Messenger,
    consumer: Arc<AmqpTaskConsumer>,
    dead_letters: Option<Arc<AmqpTaskConsumer>>,
    options: WorkerOptions,
}

impl Worker {
    /// A worker running `messenger`'s tasks from `consumer`.
    pub fn new(
        messenger: Messenger,
        consumer: Arc<AmqpTaskConsumer>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            messenger,
            consumer,
            dead_letters: None,
            options,
        }
    }

    /// Also handles the dead letters `consumer` takes (from
    /// [`AmqpTaskConsumer::dead_letters`]): each task is marked `FAILED` within moments of
    /// its message being given up on, and the message is parked.
    #[must_use]
    pub fn with_dead_letters(mut self, consumer: Arc<AmqpTaskConsumer>) -> Self {
        self.dead_letters = Some(consumer);
        self
    }

    /// Runs until `shutdown` resolves (or the consumer closes). Then it stops consuming,
    /// lets the tasks it holds finish within the drain timeout, and closes the connection,
    /// which hands anything unfinished or prefetched back to the queue.
    ///
    /// Returns `true` when every task taken was finished, `false` when the drain timed out.
    pub async fn run<S>(self, shutdown: S) -> bool
    where
        S: Future<Output = ()> + Send,
    {
        let Worker {
            messenger,
            consumer,
            dead_letters,
            options,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let pause = options.unavailable_pause;
        let backoff = move || tokio::time::sleep(pause);
        let tasks_consumer: Arc<dyn TaskConsumer> =
            Arc::new(MeteredConsumer::tasks(consumer.clone()));
        let task_loop = run_worker(
            messenger.clone(),
            tasks_consumer,
            options.concurrency,
            stop(),
            backoff,
        );
        let dead_loop = {
            let dead_letters = dead_letters.clone();
            let stop = stop();
            async move {
                if let Some(dl) = dead_letters {
                    let metered: Arc<dyn TaskConsumer> =
                        Arc::new(MeteredConsumer::dead_letters(dl));
                    run_dead_letter_worker(
                        messenger,
                        metered,
                        DEAD_LETTER_CONCURRENCY,
                        stop,
                        backoff,
                    )
                    .await;
                }
            }
        };
        // Boxed, so that dropping it below really ends the tasks still running.
        let mut tasks = Box::pin(async move {
            tokio::join!(task_loop, dead_loop);
        });
        tokio::pin!(shutdown);
        tracing::info!(concurrency = options.concurrency, "worker started");
        let drained = tokio::select! {
            () = &mut tasks => true,
            () = &mut shutdown => {
                tracing::info!("shutting down: taking no new tasks, finishing the ones held");
                stop_tx.send_replace(true);
                // No more messages from the broker while the held ones finish. Both run
                // together: the loop must be polled to let go of the consumer.
                let drain = tokio::time::timeout(options.drain_timeout, &mut tasks);
                let stop_dead_letters = async {
                    if let Some(dl) = &dead_letters {
                        dl.stop().await;
                    }
                };
                let ((), (), drained) = tokio::join!(consumer.stop(), stop_dead_letters, drain);
                match drained {
                    Ok(()) => true,
                    Err(_) => {
                        tracing::warn!(
                            drain_timeout_secs = options.drain_timeout.as_secs(),
                            "tasks still running at the drain limit go back to the queue"
                        );
                        false
                    }
                }
            }
        };
        // Unfinished tasks, if any, are dropped here; closing hands their messages back.
        drop(tasks);
        consumer.close().await;
        if let Some(dl) = &dead_letters {
            dl.close().await;
        }
        tracing::info!(drained, "worker stopped");
        drained
    }
}

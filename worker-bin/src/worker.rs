//! The worker: the shared task loop over the RabbitMQ consumer, with a bounded drain on
//! shutdown, and [`process_one`] for tests.

use messenger_ports::{
    process_delivery, run_worker, Messenger, PortResult, TaskConsumer, TaskOutcome,
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

/// A worker process's loop: consumes the queue, running up to `concurrency` tasks at once.
pub struct Worker {
    messenger: Messenger,
    consumer: Arc<AmqpTaskConsumer>,
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
            options,
        }
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
            options,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let pause = options.unavailable_pause;
        let dyn_consumer: Arc<dyn TaskConsumer> = consumer.clone();
        // Boxed, so that dropping it below really ends the tasks still running.
        let mut tasks = Box::pin(run_worker(
            messenger,
            dyn_consumer,
            options.concurrency,
            stop,
            move || tokio::time::sleep(pause),
        ));
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
                let ((), drained) = tokio::join!(consumer.stop(), drain);
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
        tracing::info!(drained, "worker stopped");
        drained
    }
}

//! Background jobs of the API process: the in-process search worker and the periodic
//! maintenance. They stop when the server stops (or when the app is dropped unused).

use messenger_ports::{run_worker, Messenger, TaskConsumer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A periodic clean-up of an in-process adapter (idle limiter keys, closed windows,
/// expired tasks), run by the maintenance job.
pub(crate) type Housekeeping = Box<dyn Fn() + Send + Sync>;

/// How often expired records are purged and in-process adapters cleaned up.
const MAINTENANCE_PERIOD: Duration = Duration::from_secs(60);

/// Back-off while the task queue is unreachable.
const QUEUE_BACKOFF: Duration = Duration::from_secs(1);

/// The running background jobs.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    pub(crate) fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
            threads: Vec::new(),
        }
    }

    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            // A closed channel means the owner is gone: stop as well.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// Runs search tasks from the in-process queue on a thread of its own with its own
    /// runtime: a search scans messages on the CPU, and must not hold up the threads that
    /// answer requests.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn spawn_search_worker(
        &mut self,
        messenger: Messenger,
        consumer: Arc<dyn TaskConsumer>,
        concurrency: usize,
    ) -> std::io::Result<()> {
        let stopped = self.stopped();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = std::thread::Builder::new()
            .name("search-worker".into())
            .spawn(move || {
                runtime.block_on(run_worker(
                    messenger,
                    consumer,
                    concurrency,
                    stopped,
                    || tokio::time::sleep(QUEUE_BACKOFF),
                ));
            })?;
        self.threads.push(handle);
        Ok(())
    }

    /// Runs the instance's event hub (one reader of the event log handing new events to
    /// the open streams) until the jobs stop.
    pub(crate) fn spawn_event_hub(&mut self, messenger: Messenger) {
        let stopped = self.stopped();
        self.tasks.push(tokio::spawn(async move {
            tokio::select! {
                () = stopped => {}
                () = messenger.run_event_hub() => {}
            }
        }));
    }

    /// Purges expired sessions and idempotency keys and runs the adapters' clean-ups,
    /// every [`MAINTENANCE_PERIOD`].
    pub(crate) fn spawn_maintenance(
        &mut self,
        messenger: Messenger,
        housekeeping: Vec<Housekeeping>,
    ) {
        let stopped = self.stopped();
        self.tasks.push(tokio::spawn(async move {
            tokio::pin!(stopped);
            let mut tick = tokio::time::interval(MAINTENANCE_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await; // the first tick is immediate: nothing has expired yet
            loop {
                tokio::select! {
                    () = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                match messenger.purge_expired().await {
                    Ok((sessions, keys)) => {
                        tracing::debug!(
                            sessions,
                            idempotency_keys = keys,
                            "purged expired records"
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "purging expired records failed"),
                }
                match messenger.purge_old_events().await {
                    Ok(events) => tracing::debug!(events, "purged events past their retention"),
                    Err(e) => tracing::warn!(error = %e, "purging old events failed"),
                }
                for job in &housekeeping {
                    job();
                }
            }
        }));
    }

    /// Stops every job and waits for it: the search worker finishes the tasks it holds.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a background job failed");
            }
        }
        let threads = std::mem::take(&mut self.threads);
        let joined =
            tokio::task::spawn_blocking(move || threads.into_iter().all(|t| t.join().is_ok()))
                .await;
        if !matches!(joined, Ok(true)) {
            tracing::error!("the search worker did not stop cleanly");
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // An app dropped without running (or after) leaves no job behind.
        let _ = self.stop.send(true);
    }
}

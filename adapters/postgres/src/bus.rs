//! `EventBus` across instances: PostgreSQL `LISTEN/NOTIFY` on a channel of the schema.
//!
//! A publish wakes this instance's subscribers at once and asks a background task to send
//! one `NOTIFY` (publishes that arrive while it sends merge into the next one), outside
//! any writer's transaction: a `NOTIFY` inside a transaction takes a database-wide lock
//! at commit, which would serialise every writer. A second task keeps a dedicated
//! connection that `LISTEN`s and wakes the subscribers on every notification; it
//! reconnects with backoff when the connection breaks, and wakes everyone on
//! reconnecting (notifications sent meanwhile were lost). Subscribers always read the log
//! and re-check periodically, so a lost wake-up is only a delay.

use crate::config::PgConfig;
use async_trait::async_trait;
use futures_util::{stream, StreamExt};
use messenger_ports::{EventBus, Wakeups};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

/// Wake-ups of event readers on every instance sharing the database schema.
pub struct PgEventBus {
    local: Arc<watch::Sender<u64>>,
    outgoing: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for PgEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventBus").finish_non_exhaustive()
    }
}

/// The channel of a schema's events.
fn channel(config: &PgConfig) -> String {
    format!("messenger_events_{}", config.schema())
}

fn wake(local: &watch::Sender<u64>) {
    local.send_modify(|n| *n = n.wrapping_add(1));
}

impl PgEventBus {
    /// Starts the listening and notifying tasks (inside a tokio runtime); they stop when
    /// the bus is dropped.
    pub fn start(config: &PgConfig) -> Self {
        let local = Arc::new(watch::Sender::new(0u64));
        let outgoing = Arc::new(Notify::new());
        let listen = tokio::spawn(listen(config.clone(), Arc::clone(&local)));
        let notify = tokio::spawn(send(config.clone(), Arc::clone(&outgoing)));
        Self {
            local,
            outgoing,
            tasks: vec![listen, notify],
        }
    }
}

impl Drop for PgEventBus {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[async_trait]
impl EventBus for PgEventBus {
    async fn publish(&self) {
        wake(&self.local);
        self.outgoing.notify_one();
    }

    fn subscribe(&self) -> Box<dyn Wakeups> {
        Box::new(Subscription {
            rx: self.local.subscribe(),
        })
    }
}

struct Subscription {
    rx: watch::Receiver<u64>,
}

#[async_trait]
impl Wakeups for Subscription {
    async fn wait(&mut self, max: Duration) -> bool {
        match tokio::time::timeout(max, self.rx.changed()).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => {
                tokio::time::sleep(max).await;
                false
            }
            Err(_) => false,
        }
    }
}

const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A dedicated connection, its messages as a stream.
async fn connect(
    config: &PgConfig,
) -> Result<
    (
        tokio_postgres::Client,
        tokio::sync::mpsc::UnboundedReceiver<AsyncMessage>,
    ),
    String,
> {
    let pg = config.driver_config();
    let tls = config.tls_connector().map_err(|e| e.to_string())?;
    let (client, mut connection) =
        match tokio::time::timeout(config.connect_timeout(), pg.connect(tls)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(crate::db::describe(&e)),
            Err(_) => return Err("no connection within the connect timeout".into()),
        };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                // Polling drives the connection, so it goes on also when nobody reads the
                // messages (the notifier's connection).
                Ok(m) => {
                    let _ = tx.send(m);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "event bus connection ended");
                    return;
                }
            }
        }
    });
    Ok((client, rx))
}

async fn listen(config: PgConfig, local: Arc<watch::Sender<u64>>) {
    let channel = channel(&config);
    let mut backoff = Duration::from_millis(100);
    loop {
        match connect(&config).await {
            Ok((client, mut messages)) => {
                let listening = client
                    .batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))
                    .await;
                match listening {
                    Ok(()) => {
                        backoff = Duration::from_millis(100);
                        // Anything published while not listening was missed.
                        wake(&local);
                        while let Some(message) = messages.recv().await {
                            if let AsyncMessage::Notification(_) = message {
                                wake(&local);
                            }
                        }
                        tracing::warn!("event bus listener lost its connection; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "event bus could not listen"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "event bus listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn send(config: PgConfig, outgoing: Arc<Notify>) {
    let channel = channel(&config);
    let mut backoff = Duration::from_millis(100);
    loop {
        let client = match connect(&config).await {
            Ok((client, _messages)) => client,
            Err(e) => {
                tracing::warn!(error = %e, "event bus notifier cannot connect");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        loop {
            outgoing.notified().await;
            let sent = tokio::time::timeout(
                config.dependency_timeout(),
                client.execute("SELECT pg_notify($1, '')", &[&channel]),
            )
            .await;
            match sent {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "event bus could not notify; reconnecting");
                    break;
                }
                Err(_) => {
                    tracing::warn!("event bus notification timed out; reconnecting");
                    break;
                }
            }
        }
    }
}

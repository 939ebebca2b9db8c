//! Looking at and removing the topology: for tests, health reports and tools.

use crate::{
    config::{AmqpConfig, AmqpError, Endpoint},
    link::Link,
};
use lapin::{
    options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
    Channel,
};
use tokio::sync::Mutex;

/// Messages ready (not held by a consumer) in the task queue and the dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepths {
    /// Ready in the task queue.
    pub ready: u32,
    /// Ready in the dead-letter queue.
    pub dead: u32,
}

pub(crate) async fn open(cfg: &AmqpConfig) -> Result<Link, AmqpError> {
    let endpoint = cfg.endpoint()?;
    let open = Link::open(&endpoint, "messenger admin", 0);
    match tokio::time::timeout(cfg.connect_timeout, open).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(e)) => Err(AmqpError::Broker(e.to_string())),
        Err(_) => Err(AmqpError::Broker("no connection in time".into())),
    }
}

async fn ready_count(channel: &Channel, queue: &str) -> lapin::Result<u32> {
    let q = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await?;
    Ok(q.message_count())
}

/// How many messages are ready in the task queue and in its dead-letter queue.
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or a queue does not exist.
pub async fn queue_depths(cfg: &AmqpConfig) -> Result<QueueDepths, AmqpError> {
    let link = open(cfg).await?;
    let counts = async {
        let ready = ready_count(&link.channel, &cfg.queue).await?;
        let dead = ready_count(&link.channel, &cfg.dead_letter_queue()).await?;
        Ok::<_, lapin::Error>(QueueDepths { ready, dead })
    }
    .await
    .map_err(|e| AmqpError::Broker(e.to_string()));
    link.close(cfg.connect_timeout).await;
    counts
}

/// Deletes the task queue, the dead-letter and parking queues and the dead-letter exchange
/// (with their messages). Missing ones are fine.
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or refuses.
pub async fn delete_topology(cfg: &AmqpConfig) -> Result<(), AmqpError> {
    let link = open(cfg).await?;
    let deleted = async {
        for queue in [
            cfg.queue.clone(),
            cfg.dead_letter_queue(),
            cfg.parking_queue(),
        ] {
            link.channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        link.channel
            .exchange_delete(
                cfg.dead_letter_exchange().as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
    }
    .await
    .map_err(|e| AmqpError::Broker(e.to_string()));
    link.close(cfg.connect_timeout).await;
    deleted
}

/// Messages ready and consumers subscribed, of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages ready (not held by a consumer).
    pub messages: u32,
    /// Consumers subscribed.
    pub consumers: u32,
}

/// The counts of the task queue, the dead-letter queue and the parking queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// The task queue.
    pub tasks: QueueCounts,
    /// The dead-letter queue (task messages given up on, not yet handled).
    pub dead: QueueCounts,
    /// The parking queue (dead letters whose task was marked `FAILED`).
    pub parked: QueueCounts,
}

/// Reads the queues' counts with passive declares over a connection of its own, kept
/// between reads and remade after a failure (for the worker's metrics).
pub struct QueueProbe {
    cfg: AmqpConfig,
    endpoint: Endpoint,
    link: Mutex<Option<Link>>,
}

impl QueueProbe {
    /// A probe of `cfg`'s queues; it connects on the first read.
    ///
    /// # Errors
    /// [`AmqpError::Config`] when the settings are unusable.
    pub fn new(cfg: AmqpConfig) -> Result<Self, AmqpError> {
        let endpoint = cfg.endpoint()?;
        Ok(Self {
            cfg,
            endpoint,
            link: Mutex::new(None),
        })
    }

    /// The counts now.
    ///
    /// # Errors
    /// [`AmqpError::Broker`] when the broker cannot be reached or a queue does not exist
    /// (not declared yet).
    pub async fn stats(&self) -> Result<QueueStats, AmqpError> {
        let mut held = self.link.lock().await;
        let link = match held.take() {
            Some(link) if link.is_usable() => link,
            stale => {
                if let Some(old) = stale {
                    old.discard();
                }
                let open = Link::open(&self.endpoint, "messenger queue probe", 0);
                match tokio::time::timeout(self.cfg.connect_timeout, open).await {
                    Ok(Ok(link)) => link,
                    Ok(Err(e)) => return Err(AmqpError::Broker(e.to_string())),
                    Err(_) => return Err(AmqpError::Broker("no connection in time".into())),
                }
            }
        };
        let read = async {
            Ok::<_, lapin::Error>(QueueStats {
                tasks: counts(&link.channel, &self.cfg.queue).await?,
                dead: counts(&link.channel, &self.cfg.dead_letter_queue()).await?,
                parked: counts(&link.channel, &self.cfg.parking_queue()).await?,
            })
        };
        match tokio::time::timeout(self.cfg.connect_timeout, read).await {
            Ok(Ok(stats)) => {
                *held = Some(link);
                Ok(stats)
            }
            // A passive declare of a missing queue closes the channel: start afresh.
            Ok(Err(e)) => {
                link.discard();
                Err(AmqpError::Broker(e.to_string()))
            }
            Err(_) => {
                link.discard();
                Err(AmqpError::Broker("no answer in time".into()))
            }
        }
    }

    /// Closes its connection.
    pub async fn close(&self) {
        if let Some(link) = self.link.lock().await.take() {
            link.close(self.cfg.connect_timeout).await;
        }
    }
}

async fn counts(channel: &Channel, queue: &str) -> lapin::Result<QueueCounts> {
    let q = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await?;
    Ok(QueueCounts {
        messages: q.message_count(),
        consumers: q.consumer_count(),
    })
}

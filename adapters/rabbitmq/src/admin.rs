//! Looking at and removing the topology: for tests, health reports and tools.

use crate::{
    config::{AmqpConfig, AmqpError},
    link::Link,
};
use lapin::{
    options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
    Channel,
};

/// Messages ready (not held by a consumer) in the task queue and the dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepths {
    /// Ready in the task queue.
    pub ready: u32,
    /// Ready in the dead-letter queue.
    pub dead: u32,
}

async fn open(cfg: &AmqpConfig) -> Result<Link, AmqpError> {
    let uri = cfg.parsed_uri()?;
    let open = Link::open(&uri, "messenger admin", 0);
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

/// Deletes the task queue, the dead-letter queue and the dead-letter exchange (with their
/// messages). Missing ones are fine.
///
/// # Errors
/// [`AmqpError::Broker`] when the broker cannot be reached or refuses.
pub async fn delete_topology(cfg: &AmqpConfig) -> Result<(), AmqpError> {
    let link = open(cfg).await?;
    let deleted = async {
        for queue in [cfg.queue.clone(), cfg.dead_letter_queue()] {
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

//! One connection to the broker with one channel, the topology both sides declare, and
//! the back-off between reconnection attempts.

use crate::config::{AmqpConfig, AmqpError, Endpoint};
use lapin::{
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
    Channel, Connection, ConnectionProperties, ExchangeKind,
};
use std::time::Duration;
use tokio::time::Instant;

/// A live connection and the channel used on it.
pub(crate) struct Link {
    pub(crate) connection: Connection,
    pub(crate) channel: Channel,
    /// Counts connections made by one publisher or consumer, so that a failure seen on an
    /// old link does not tear down its replacement.
    pub(crate) generation: u64,
}

impl Link {
    /// Connects and opens a channel (nothing declared yet).
    pub(crate) async fn open(
        endpoint: &Endpoint,
        name: &str,
        generation: u64,
    ) -> lapin::Result<Self> {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection = Connection::connect_uri_with_config(
            endpoint.uri.clone(),
            props,
            endpoint.tls.clone(),
            lapin::runtime::default_runtime()?,
        )
        .await?;
        let channel = connection.create_channel().await?;
        Ok(Self {
            connection,
            channel,
            generation,
        })
    }

    /// Whether both the connection and the channel still work.
    pub(crate) fn is_usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }

    /// Closes the connection in the background: the caller never waits on a broker that
    /// may be gone (a silent one would hold it until the heartbeat gives up).
    pub(crate) fn discard(self) {
        let Link {
            connection,
            channel,
            ..
        } = self;
        if connection.status().connected() {
            tokio::spawn(async move {
                let closing = connection.close(200, "discarded".into());
                let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
                drop(channel);
            });
        }
    }

    /// Closes the channel, then the connection, waiting at most `limit` for each. Unacked
    /// deliveries go back to the queue.
    pub(crate) async fn close(self, limit: Duration) {
        if self.channel.status().connected() {
            let _ = tokio::time::timeout(limit, self.channel.close(200, "bye".into())).await;
        }
        if self.connection.status().connected() {
            let _ = tokio::time::timeout(limit, self.connection.close(200, "bye".into())).await;
        }
    }
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// The arguments of a bounded quorum queue: at most `dead_letter_max_length` messages
/// (dropping the oldest) for at most `dead_letter_ttl`.
fn bounded_quorum(cfg: &AmqpConfig) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert(
        "x-max-length".into(),
        AMQPValue::LongLongInt(i64::from(cfg.dead_letter_max_length)),
    );
    args.insert("x-overflow".into(), long_string("drop-head"));
    let ttl_ms = i64::try_from(cfg.dead_letter_ttl.as_millis()).unwrap_or(i64::MAX);
    args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl_ms));
    args
}

/// Declares the topology: the dead-letter exchange; the parking queue; the dead-letter
/// queue, whose own rejected (or expired, or overflowing) messages the exchange routes to
/// the parking queue; and the task queue (a durable quorum queue with an explicit delivery
/// limit), whose dead letters it routes to the dead-letter queue. Idempotent; fails if a
/// queue of that name exists with other arguments.
pub(crate) async fn declare_topology(channel: &Channel, cfg: &AmqpConfig) -> lapin::Result<()> {
    let dlx = cfg.dead_letter_exchange();
    let dlq = cfg.dead_letter_queue();
    let parked = cfg.parking_queue();
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            parked.as_str().into(),
            QueueDeclareOptions::durable(),
            bounded_quorum(cfg),
        )
        .await?;
    channel
        .queue_bind(
            parked.as_str().into(),
            dlx.as_str().into(),
            parked.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut dead_args = bounded_quorum(cfg);
    dead_args.insert("x-dead-letter-exchange".into(), long_string(&dlx));
    dead_args.insert("x-dead-letter-routing-key".into(), long_string(&parked));
    channel
        .queue_declare(
            dlq.as_str().into(),
            QueueDeclareOptions::durable(),
            dead_args,
        )
        .await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            dlx.as_str().into(),
            cfg.queue.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert("x-dead-letter-exchange".into(), long_string(&dlx));
    args.insert("x-dead-letter-routing-key".into(), long_string(&cfg.queue));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(cfg.delivery_limit)),
    );
    channel
        .queue_declare(
            cfg.queue.as_str().into(),
            QueueDeclareOptions::durable(),
            args,
        )
        .await?;
    Ok(())
}

/// Connects, opens a channel and declares the topology, all within `limit`.
pub(crate) async fn connect_declared(
    endpoint: &Endpoint,
    cfg: &AmqpConfig,
    name: &str,
    generation: u64,
    limit: Duration,
) -> Result<Link, AmqpError> {
    let attempt = async {
        let link = Link::open(endpoint, name, generation).await?;
        if let Err(e) = declare_topology(&link.channel, cfg).await {
            link.discard();
            return Err(e);
        }
        Ok(link)
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(e)) => Err(AmqpError::from_lapin(&e)),
        Err(_) => Err(AmqpError::Broker(format!(
            "no connection within {} ms",
            limit.as_millis()
        ))),
    }
}

/// Exponential back-off between reconnection attempts: `min`, doubling per consecutive
/// failure, at most `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    not_before: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
            not_before: None,
        }
    }

    /// When the next attempt may start (`None`: now).
    pub(crate) fn not_before(&self) -> Option<Instant> {
        self.not_before.filter(|t| *t > Instant::now())
    }

    /// Records a failed attempt; returns how many failed in a row and the pause before
    /// the next.
    pub(crate) fn failed(&mut self) -> (u32, Duration) {
        self.failures = self.failures.saturating_add(1);
        let doublings = self.failures.saturating_sub(1).min(16);
        let pause = self.min.saturating_mul(1 << doublings).min(self.max);
        self.not_before = Some(Instant::now() + pause);
        (self.failures, pause)
    }

    /// Records a success; returns how many attempts had failed before it.
    pub(crate) fn succeeded(&mut self) -> u32 {
        self.not_before = None;
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert!(b.not_before().is_none());
        assert_eq!(b.failed(), (1, Duration::from_millis(100)));
        assert_eq!(b.failed(), (2, Duration::from_millis(200)));
        assert_eq!(b.failed(), (3, Duration::from_millis(350)));
        assert_eq!(b.failed(), (4, Duration::from_millis(350)));
        assert!(b.not_before().is_some());
        assert_eq!(b.succeeded(), 4);
        assert!(b.not_before().is_none());
        assert_eq!(b.failed(), (1, Duration::from_millis(100)));
    }
}

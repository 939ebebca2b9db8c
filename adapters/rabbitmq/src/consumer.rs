//! The consuming side: [`AmqpTaskConsumer`] and its deliveries.

use crate::{
    config::{AmqpConfig, AmqpError},
    link::{connect_declared, Backoff, Link},
};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::{
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
        BasicQosOptions, BasicRejectOptions,
    },
    types::{AMQPValue, FieldTable},
    uri::AMQPUri,
    Acker, BasicProperties,
};
use messenger_ports::{Delivery, PortError, PortResult, TaskConsumer};
use std::time::Duration;
use tokio::sync::{watch, Mutex, MutexGuard};

/// Consumes search tasks with manual acknowledgement and a prefetch limit.
///
/// The subscription is made on the first [`TaskConsumer::next`] (or [`Self::connect`]) and
/// remade after the connection is lost; while the broker cannot be reached, `next`
/// answers [`PortError::Unavailable`] after waiting out its back-off. Deliveries held
/// when the connection drops go back to the queue (the broker redelivers them, counting
/// the attempt), so their later settling fails harmlessly.
pub struct AmqpTaskConsumer {
    cfg: AmqpConfig,
    uri: AMQPUri,
    state: Mutex<State>,
    closed: watch::Sender<bool>,
}

struct State {
    live: Option<Live>,
    generations: u64,
    backoff: Backoff,
}

struct Live {
    link: Link,
    consumer: lapin::Consumer,
}

impl AmqpTaskConsumer {
    /// A consumer for `cfg`; nothing is connected until the first `next` or
    /// [`Self::connect`].
    ///
    /// # Errors
    /// [`AmqpError::Config`] when the settings are unusable.
    pub fn new(cfg: AmqpConfig) -> Result<Self, AmqpError> {
        let uri = cfg.parsed_uri()?;
        let backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max);
        Ok(Self {
            cfg,
            uri,
            state: Mutex::new(State {
                live: None,
                generations: 0,
                backoff,
            }),
            closed: watch::Sender::new(false),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AmqpConfig {
        &self.cfg
    }

    /// Subscribes now (ignoring the back-off).
    ///
    /// # Errors
    /// [`AmqpError::Broker`] when the broker cannot be reached or refuses.
    pub async fn connect(&self) -> Result<(), AmqpError> {
        let mut state = self.state.lock().await;
        self.ensure_live(&mut state)
            .await
            .map_err(|e| AmqpError::Broker(e.to_string()))
    }

    /// Stops consuming for good but keeps the connection: the broker sends no more
    /// messages, a waiting or later `next` answers `None`, and the deliveries held now can
    /// still be settled. Messages already prefetched stay with this consumer until
    /// [`Self::close`].
    pub async fn stop(&self) {
        self.closed.send_replace(true);
        let state = self.state.lock().await;
        if let Some(live) = &state.live {
            let cancel = live
                .link
                .channel
                .basic_cancel(live.consumer.tag(), BasicCancelOptions::default());
            match tokio::time::timeout(self.cfg.settle_timeout, cancel).await {
                Ok(Ok(())) => tracing::info!(queue = %self.cfg.queue, "task consumer stopped"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not cancel the task consumer"),
                Err(_) => tracing::warn!("cancelling the task consumer timed out"),
            }
        }
    }

    /// Stops consuming for good (see [`Self::stop`]) and closes the connection, which
    /// hands any delivery not yet settled (or prefetched and never handed out) back to the
    /// queue. Call it after the worker loop has finished.
    pub async fn close(&self) {
        self.closed.send_replace(true);
        let live = self.state.lock().await.live.take();
        if let Some(live) = live {
            live.link.close(self.cfg.settle_timeout).await;
            tracing::info!(queue = %self.cfg.queue, "task consumer closed");
        }
    }

    /// Whether [`Self::stop`] or [`Self::close`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.closed.borrow()
    }

    /// Makes sure a working subscription exists, connecting if needed.
    async fn ensure_live(&self, state: &mut MutexGuard<'_, State>) -> PortResult<()> {
        if let Some(live) = state.live.take() {
            if live.link.is_usable() {
                state.live = Some(live);
                return Ok(());
            }
            tracing::warn!(queue = %self.cfg.queue, "task consumer connection lost; reconnecting");
            live.link.discard();
        }
        state.generations += 1;
        let generation = state.generations;
        match self.subscribe(generation).await {
            Ok(live) => {
                let failed_before = state.backoff.succeeded();
                tracing::info!(
                    broker = %self.cfg.redacted_url(),
                    queue = %self.cfg.queue,
                    prefetch = self.cfg.prefetch,
                    failed_before,
                    "task consumer subscribed"
                );
                state.live = Some(live);
                Ok(())
            }
            Err(e) => {
                let (failures, pause) = state.backoff.failed();
                tracing::warn!(
                    broker = %self.cfg.redacted_url(),
                    error = %e,
                    failures,
                    retry_in_ms = pause.as_millis() as u64,
                    "cannot subscribe the task consumer"
                );
                Err(e.into())
            }
        }
    }

    async fn subscribe(&self, generation: u64) -> Result<Live, AmqpError> {
        let link = connect_declared(
            &self.uri,
            &self.cfg,
            "messenger consumer",
            generation,
            self.cfg.connect_timeout,
        )
        .await?;
        let setup = async {
            link.channel
                .basic_qos(self.cfg.prefetch, BasicQosOptions { global: false })
                .await?;
            link.channel
                .basic_consume(
                    self.cfg.queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
        };
        match tokio::time::timeout(self.cfg.connect_timeout, setup).await {
            Ok(Ok(consumer)) => Ok(Live { link, consumer }),
            Ok(Err(e)) => {
                link.discard();
                Err(AmqpError::Broker(e.to_string()))
            }
            Err(_) => {
                link.discard();
                Err(AmqpError::Broker("subscribing timed out".into()))
            }
        }
    }

    async fn next_inner(&self) -> PortResult<Option<Box<dyn Delivery>>> {
        let mut state = self.state.lock().await;
        if state.live.is_none() {
            if let Some(at) = state.backoff.not_before() {
                tokio::time::sleep_until(at).await;
            }
        }
        self.ensure_live(&mut state).await?;
        let Some(live) = state.live.as_mut() else {
            return Err(PortError::Unavailable("no subscription".into()));
        };
        let outcome = live.consumer.next().await;
        match outcome {
            Some(Ok(d)) => Ok(Some(Box::new(AmqpDelivery::new(d, &self.cfg)))),
            Some(Err(e)) => {
                if let Some(live) = state.live.take() {
                    live.link.discard();
                }
                tracing::warn!(error = %e, "task consumer lost its subscription");
                Err(PortError::Unavailable(e.to_string()))
            }
            None => {
                if let Some(live) = state.live.take() {
                    live.link.discard();
                }
                tracing::warn!("the broker cancelled the task consumer");
                Err(PortError::Unavailable(
                    "the broker cancelled the subscription".into(),
                ))
            }
        }
    }
}

#[async_trait]
impl TaskConsumer for AmqpTaskConsumer {
    async fn next(&self) -> PortResult<Option<Box<dyn Delivery>>> {
        if self.is_stopped() {
            return Ok(None);
        }
        let mut closed = self.closed.subscribe();
        tokio::select! {
            r = self.next_inner() => r,
            _ = closed.wait_for(|c| *c) => Ok(None),
        }
    }
}

/// Reads the quorum queue's `x-delivery-count` (earlier returns of this message).
fn delivery_count(props: &BasicProperties) -> Option<u64> {
    let headers = props.headers().as_ref()?;
    let value = headers.inner().get("x-delivery-count")?;
    match value {
        AMQPValue::ShortShortInt(v) => u64::try_from(*v).ok(),
        AMQPValue::ShortShortUInt(v) => Some(u64::from(*v)),
        AMQPValue::ShortInt(v) => u64::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(u64::from(*v)),
        AMQPValue::LongInt(v) => u64::try_from(*v).ok(),
        AMQPValue::LongUInt(v) => Some(u64::from(*v)),
        AMQPValue::LongLongInt(v) => u64::try_from(*v).ok(),
        _ => None,
    }
}

/// The attempt number: the broker's count of earlier deliveries plus this one. Without
/// the header (a first delivery) it is 1, or 2 when the broker flags a redelivery.
fn attempt_of(props: &BasicProperties, redelivered: bool) -> u32 {
    match delivery_count(props) {
        Some(n) => u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX),
        None if redelivered => 2,
        None => 1,
    }
}

/// One received task message; settled once through its acker.
struct AmqpDelivery {
    data: Vec<u8>,
    attempt: u32,
    acker: Acker,
    settle_timeout: Duration,
    retry_pause: Duration,
}

impl AmqpDelivery {
    fn new(d: lapin::message::Delivery, cfg: &AmqpConfig) -> Self {
        Self {
            attempt: attempt_of(&d.properties, d.redelivered),
            data: d.data,
            acker: d.acker,
            settle_timeout: cfg.settle_timeout,
            retry_pause: cfg.retry_pause,
        }
    }

    async fn settle<F>(&self, what: &str, f: F) -> PortResult<()>
    where
        F: std::future::Future<Output = lapin::Result<bool>>,
    {
        match tokio::time::timeout(self.settle_timeout, f).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(PortError::Unavailable(format!(
                "{what}: the channel closed first; the broker redelivers the message"
            ))),
            Ok(Err(e)) => Err(PortError::Unavailable(format!("{what}: {e}"))),
            Err(_) => Err(PortError::Unavailable(format!("{what}: timed out"))),
        }
    }
}

impl Drop for AmqpDelivery {
    /// A delivery dropped unsettled (its task was cancelled or panicked) is handed back at
    /// once rather than held until the channel closes, which would keep its prefetch
    /// slot.
    fn drop(&mut self) {
        if !self.acker.usable() {
            return;
        }
        let acker = self.acker.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let options = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                if let Err(e) = acker.nack(options).await {
                    tracing::debug!(error = %e, "could not hand back a dropped delivery");
                }
            });
        }
    }
}

#[async_trait]
impl Delivery for AmqpDelivery {
    fn payload(&self) -> &[u8] {
        &self.data
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn ack(self: Box<Self>) -> PortResult<()> {
        self.settle("ack", self.acker.ack(BasicAckOptions::default()))
            .await
    }

    async fn retry(self: Box<Self>) -> PortResult<()> {
        // Requeued messages come straight back; the pause keeps a failing dependency from
        // being hit in a tight loop.
        let pause = self.retry_pause.saturating_mul(self.attempt.min(10));
        tokio::time::sleep(pause).await;
        let options = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        self.settle("nack", self.acker.nack(options)).await
    }

    async fn dead_letter(self: Box<Self>) -> PortResult<()> {
        // Without requeue the quorum queue sends it to its dead-letter exchange.
        let options = BasicRejectOptions { requeue: false };
        self.settle("reject", self.acker.reject(options)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::ShortString;

    fn with_count(v: AMQPValue) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from("x-delivery-count"), v);
        BasicProperties::default().with_headers(headers)
    }

    #[test]
    fn attempt_counts_earlier_deliveries_plus_one() {
        assert_eq!(attempt_of(&BasicProperties::default(), false), 1);
        assert_eq!(attempt_of(&BasicProperties::default(), true), 2);
        assert_eq!(attempt_of(&with_count(AMQPValue::LongLongInt(2)), true), 3);
        assert_eq!(attempt_of(&with_count(AMQPValue::LongInt(0)), false), 1);
        assert_eq!(attempt_of(&with_count(AMQPValue::ShortUInt(4)), true), 5);
        assert_eq!(attempt_of(&with_count(AMQPValue::LongLongInt(-1)), true), 2);
    }
}

//! One received message of a consumer: its attempt number and its settling.

use crate::config::AmqpConfig;
use async_trait::async_trait;
use lapin::{
    options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions},
    types::AMQPValue,
    Acker, BasicProperties,
};
use messenger_ports::{Delivery, PortError, PortResult};
use std::time::Duration;

/// A count in whichever integer type the broker chose; `None` for a negative or
/// non-integer value.
pub(crate) fn count_of(value: &AMQPValue) -> Option<u64> {
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

/// Reads the quorum queue's `x-delivery-count` (earlier returns of this message).
fn delivery_count(props: &BasicProperties) -> Option<u64> {
    let headers = props.headers().as_ref()?;
    count_of(headers.inner().get("x-delivery-count")?)
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
pub(crate) struct AmqpDelivery {
    data: Vec<u8>,
    attempt: u32,
    acker: Acker,
    settle_timeout: Duration,
    retry_pause: Duration,
}

impl AmqpDelivery {
    pub(crate) fn new(d: lapin::message::Delivery, cfg: &AmqpConfig) -> Self {
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
    use lapin::types::{FieldTable, ShortString};

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

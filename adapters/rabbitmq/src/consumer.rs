//! The consuming side: [`AmqpTaskConsumer`] and its deliveries.

use crate::{
    config::{AmqpConfig, AmqpError, Endpoint},
    delivery::AmqpDelivery,
    link::{connect_declared, Backoff, Link},
};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::{
    options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
    ChannelStatus, ConnectionStatus,
};
use messenger_ports::{Delivery, PortError, PortResult, TaskConsumer};
use std::sync::PoisonError;
use tokio::sync::{watch, Mutex, MutexGuard};

/// Consumes search tasks with manual acknowledgement and a prefetch limit.
///
/// The subscription is made on the first [`TaskConsumer::next`] (or [`Self::connect`]) and
/// remade after the connection is lost; while the broker cannot be reached, `next`
/// answers [`PortError::Unavailable`] after waiting out its back-off. Deliveries held
/// when the connection drops go back to the queue (the broker redelivers them, counting
/// the attempt), so their later settling fails harmlessly.
///
/// [`Self::new`] consumes the task queue; [`Self::dead_letters`] consumes its dead-letter
/// queue, where rejecting a message ([`Delivery::dead_letter`]) parks it in the parking
/// queue.
pub struct AmqpTaskConsumer {
    cfg: AmqpConfig,
    endpoint: Endpoint,
    /// The queue consumed.
    source: String,
    state: Mutex<State>,
    closed: watch::Sender<bool>,
    /// The current link's state, readable while `state` is held by a waiting `next`.
    link_status: std::sync::Mutex<Option<(ConnectionStatus, ChannelStatus)>>,
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
        let source = cfg.queue.clone();
        Self::consuming(cfg, source)
    }

    /// A consumer of `cfg`'s dead-letter queue (`<queue>.dead`): a message it rejects
    /// ([`Delivery::dead_letter`]) moves on to the parking queue (`<queue>.parked`).
    ///
    /// # Errors
    /// [`AmqpError::Config`] when the settings are unusable.
    pub fn dead_letters(cfg: AmqpConfig) -> Result<Self, AmqpError> {
        let source = cfg.dead_letter_queue();
        Self::consuming(cfg, source)
    }

    fn consuming(cfg: AmqpConfig, source: String) -> Result<Self, AmqpError> {
        let endpoint = cfg.endpoint()?;
        let backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max);
        Ok(Self {
            cfg,
            endpoint,
            source,
            state: Mutex::new(State {
                live: None,
                generations: 0,
                backoff,
            }),
            closed: watch::Sender::new(false),
            link_status: std::sync::Mutex::new(None),
        })
    }

    /// The queue this consumer takes messages from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the consumer is subscribed over a connection and channel that still work
    /// (for a readiness check; it never waits).
    pub fn is_connected(&self) -> bool {
        let status = self
            .link_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        status
            .as_ref()
            .is_some_and(|(conn, chan)| conn.connected() && chan.connected())
    }

    fn set_link_status(&self, link: Option<&Link>) {
        *self
            .link_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            link.map(|l| (l.connection.status().clone(), l.channel.status().clone()));
    }

    /// The settings.
    pub fn config(&self) -> &AmqpConfig {
        &self.cfg
    }

    /// Subscribes now (ignoring the back-off).
    ///
    /// # Errors
    /// [`AmqpError::Broker`] when the broker cannot be reached or refuses;
    /// [`AmqpError::Handshake`] when its certificate is refused.
    pub async fn connect(&self) -> Result<(), AmqpError> {
        let mut state = self.state.lock().await;
        self.ensure_live(&mut state).await
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
                Ok(Ok(())) => tracing::info!(queue = %self.source, "task consumer stopped"),
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
        self.set_link_status(None);
        if let Some(live) = live {
            live.link.close(self.cfg.settle_timeout).await;
            tracing::info!(queue = %self.source, "task consumer closed");
        }
    }

    /// Whether [`Self::stop`] or [`Self::close`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.closed.borrow()
    }

    /// Makes sure a working subscription exists, connecting if needed.
    async fn ensure_live(&self, state: &mut MutexGuard<'_, State>) -> Result<(), AmqpError> {
        if let Some(live) = state.live.take() {
            if live.link.is_usable() {
                state.live = Some(live);
                return Ok(());
            }
            tracing::warn!(queue = %self.source, "task consumer connection lost; reconnecting");
            self.set_link_status(None);
            live.link.discard();
        }
        state.generations += 1;
        let generation = state.generations;
        match self.subscribe(generation).await {
            Ok(live) => {
                let failed_before = state.backoff.succeeded();
                tracing::info!(
                    broker = %self.cfg.redacted_url(),
                    queue = %self.source,
                    prefetch = self.cfg.prefetch,
                    failed_before,
                    "task consumer subscribed"
                );
                self.set_link_status(Some(&live.link));
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
                Err(e)
            }
        }
    }

    async fn subscribe(&self, generation: u64) -> Result<Live, AmqpError> {
        let link = connect_declared(
            &self.endpoint,
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
                    self.source.as_str().into(),
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
                self.set_link_status(None);
                tracing::warn!(error = %e, "task consumer lost its subscription");
                Err(PortError::Unavailable(e.to_string()))
            }
            None => {
                if let Some(live) = state.live.take() {
                    live.link.discard();
                }
                self.set_link_status(None);
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

//! The publishing side: [`AmqpTaskQueue`].

use crate::{
    config::{AmqpConfig, AmqpError, Endpoint},
    link::{connect_declared, Backoff, Link},
};
use async_trait::async_trait;
use lapin::{options::BasicPublishOptions, BasicProperties, Channel, Confirmation};
use messenger_domain::TaskId;
use messenger_ports::{PortError, PortResult, StoreCall, TaskQueue};
use tokio::{sync::Mutex, time::Instant};

/// Publishes search tasks to the quorum queue with publisher confirms.
///
/// A publish succeeds only when the broker confirmed the message *and* did not return it
/// as unroutable (it is sent `mandatory`); anything else, or no answer in time (connecting
/// included), is [`PortError::Unavailable`]. "In time" is what the request's budget has
/// left for its dependencies (see `messenger_ports::Budget`), and never more than
/// [`AmqpConfig::publish_timeout`]: a publish is one more store call of the request. The connection is made lazily and remade after a failure,
/// with a back-off during which publishes fail at once.
pub struct AmqpTaskQueue {
    cfg: AmqpConfig,
    endpoint: Endpoint,
    state: Mutex<State>,
}

struct State {
    link: Option<Link>,
    generations: u64,
    backoff: Backoff,
}

impl AmqpTaskQueue {
    /// A publisher for `cfg`; nothing is connected until [`Self::connect`] or the first
    /// publish.
    ///
    /// # Errors
    /// [`AmqpError::Config`] when the settings are unusable.
    pub fn new(cfg: AmqpConfig) -> Result<Self, AmqpError> {
        let endpoint = cfg.endpoint()?;
        let backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max);
        Ok(Self {
            cfg,
            endpoint,
            state: Mutex::new(State {
                link: None,
                generations: 0,
                backoff,
            }),
        })
    }

    /// Connects and declares the queue now (at start-up, to fail early), within
    /// [`AmqpConfig::connect_timeout`].
    ///
    /// # Errors
    /// [`AmqpError::Broker`] when the broker cannot be reached or refuses the topology;
    /// [`AmqpError::Handshake`] when its certificate is refused.
    pub async fn connect(&self) -> Result<(), AmqpError> {
        let deadline = Instant::now() + self.cfg.connect_timeout;
        self.channel(deadline, true).await.map(|_| ())
    }

    /// The settings.
    pub fn config(&self) -> &AmqpConfig {
        &self.cfg
    }

    /// The current channel, connecting first when there is none (unless the back-off
    /// forbids it and `force` is off).
    async fn channel(&self, deadline: Instant, force: bool) -> Result<(Channel, u64), AmqpError> {
        let mut state = self.state.lock().await;
        if let Some(link) = state.link.take() {
            if link.is_usable() {
                let out = (link.channel.clone(), link.generation);
                state.link = Some(link);
                return Ok(out);
            }
            tracing::warn!(queue = %self.cfg.queue, "task queue connection lost; reconnecting");
            link.discard();
        }
        if !force {
            if let Some(at) = state.backoff.not_before() {
                return Err(AmqpError::Broker(format!(
                    "task queue unreachable; next connection attempt in {} ms",
                    at.saturating_duration_since(Instant::now()).as_millis()
                )));
            }
        }
        state.generations += 1;
        let generation = state.generations;
        let limit = deadline.saturating_duration_since(Instant::now());
        let attempt = connect_declared(
            &self.endpoint,
            &self.cfg,
            "messenger publisher",
            generation,
            limit,
        )
        .await;
        let link = match attempt {
            Ok(link) => link,
            Err(e) => {
                let (failures, pause) = state.backoff.failed();
                tracing::warn!(
                    broker = %self.cfg.redacted_url(),
                    error = %e,
                    failures,
                    retry_in_ms = pause.as_millis() as u64,
                    "cannot connect the task-queue publisher"
                );
                return Err(e);
            }
        };
        if let Err(e) = link.channel.confirm_select(Default::default()).await {
            let (failures, pause) = state.backoff.failed();
            tracing::warn!(error = %e, failures, retry_in_ms = pause.as_millis() as u64,
                "cannot enable publisher confirms");
            link.discard();
            return Err(AmqpError::Broker(e.to_string()));
        }
        let failed_before = state.backoff.succeeded();
        tracing::info!(
            broker = %self.cfg.redacted_url(),
            queue = %self.cfg.queue,
            failed_before,
            "task-queue publisher connected"
        );
        let out = (link.channel.clone(), link.generation);
        state.link = Some(link);
        Ok(out)
    }

    /// Drops the link of `generation` (if still current) so the next publish reconnects
    /// and declares the queue again.
    async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state
            .link
            .as_ref()
            .is_some_and(|l| l.generation == generation)
        {
            if let Some(link) = state.link.take() {
                link.discard();
            }
        }
    }

    async fn publish_on(&self, channel: &Channel, payload: &[u8]) -> Result<(), String> {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("text/plain".into());
        let options = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        let confirm = channel
            .basic_publish(
                "".into(),
                self.cfg.queue.as_str().into(),
                options,
                payload,
                props,
            )
            .await
            .map_err(|e| e.to_string())?;
        match confirm.await.map_err(|e| e.to_string())? {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(format!(
                "the broker returned the task message ({} {})",
                returned.reply_code, returned.reply_text
            )),
            Confirmation::Nack(None) => Err("the broker refused the task message".into()),
            Confirmation::NotRequested => Err("publisher confirms are not enabled".into()),
        }
    }
}

#[async_trait]
impl TaskQueue for AmqpTaskQueue {
    async fn publish(&self, task: TaskId) -> PortResult<()> {
        self.publish_payload(task.to_string().as_bytes()).await
    }
}

impl AmqpTaskQueue {
    /// Publishes any payload as a task message, with the same guarantees as
    /// [`TaskQueue::publish`]: for tests and tools (a malformed message, a replay from
    /// the dead-letter queue).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the message was not confirmed in time.
    pub async fn publish_raw(&self, payload: &[u8]) -> PortResult<()> {
        self.publish_payload(payload).await
    }

    async fn publish_payload(&self, payload: &[u8]) -> PortResult<()> {
        // Charged to the request's budget when it ends, like a store call.
        let call = StoreCall::start(self.cfg.publish_timeout);
        if call.is_spent() {
            return Err(PortError::Unavailable(
                "the request's time for its dependencies is spent".into(),
            ));
        }
        let limit = call.limit();
        let deadline = Instant::now() + limit;
        let timeout_err = || {
            let why = if call.cut_by_budget() {
                " (what the request's budget had left)"
            } else {
                ""
            };
            PortError::Unavailable(format!(
                "task not confirmed within {} ms{why}",
                limit.as_millis()
            ))
        };
        let (channel, generation) =
            match tokio::time::timeout_at(deadline, self.channel(deadline, false)).await {
                Ok(r) => r?,
                Err(_) => return Err(timeout_err()),
            };
        match tokio::time::timeout_at(deadline, self.publish_on(&channel, payload)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "task publish failed");
                // A returned message means the queue is gone: declare it again next time.
                self.invalidate(generation).await;
                Err(PortError::Unavailable(e))
            }
            // A confirm that did not come within a budget cut short by the request's other
            // calls says nothing about the link: keep it (a late confirm is harmless, and
            // a worker drops a task whose record was removed meanwhile).
            Err(_) if call.cut_by_budget() => Err(timeout_err()),
            Err(_) => {
                tracing::warn!("task publish not confirmed in time; reconnecting");
                self.invalidate(generation).await;
                Err(timeout_err())
            }
        }
    }
}

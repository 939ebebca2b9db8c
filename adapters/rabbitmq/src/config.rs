//! The adapter's settings and its own error type.

use lapin::tcp::OwnedTLSConfig;
use lapin::uri::{AMQPScheme, AMQPUri};
use std::path::PathBuf;
use std::{str::FromStr, time::Duration};

/// How to reach the broker and shape the queue.
///
/// The queue is a durable quorum queue named [`AmqpConfig::queue`], with a dead-letter
/// exchange `<queue>.dlx` routing to the dead-letter queue `<queue>.dead`, and an explicit
/// delivery limit (RabbitMQ 3.x quorum queues have none by default). The worker takes each
/// dead letter from `<queue>.dead`, marks its task `FAILED` and rejects it, which moves it
/// (through the same exchange) to the parking queue `<queue>.parked`, where it waits for an
/// operator. Both are bounded: at most [`AmqpConfig::dead_letter_max_length`] messages
/// (the oldest are dropped) for at most [`AmqpConfig::dead_letter_ttl`].
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:port/vhost` (the vhost `/` is written `%2f`); `amqps://` for
    /// TLS, the certificate's chain and host name always checked.
    pub url: String,
    /// PEM file of the CA(s) trusted for the broker's certificate with `amqps://`, in
    /// addition to the system's roots (lapin adds it to them); `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The task queue's name.
    pub queue: String,
    /// Unacknowledged messages one consumer may hold at once (`basic.qos`).
    pub prefetch: u16,
    /// The whole publish, connecting included, must be confirmed within this.
    pub publish_timeout: Duration,
    /// A consumer's connection attempt is abandoned after this.
    pub connect_timeout: Duration,
    /// An ack, nack or reject that takes longer is given up (the broker redelivers).
    pub settle_timeout: Duration,
    /// The queue's `x-delivery-limit`: a message handed back more often than this goes to
    /// the dead-letter queue, even if no consumer ever settled it (a crashing worker).
    pub delivery_limit: u32,
    /// A retried message is handed back after this pause times its attempt number, so a
    /// failing dependency is not hammered in a tight loop.
    pub retry_pause: Duration,
    /// AMQP heartbeat in seconds, unless the URL sets one (detects a silent broker).
    pub heartbeat_secs: u16,
    /// The first pause before reconnecting after a failure; it doubles on each failure.
    pub reconnect_min: Duration,
    /// The longest pause between reconnection attempts.
    pub reconnect_max: Duration,
    /// The most messages the dead-letter and the parking queue each keep; past it the
    /// oldest are dropped (`x-max-length`, `x-overflow: drop-head`).
    pub dead_letter_max_length: u32,
    /// How long a message stays in the dead-letter or the parking queue
    /// (`x-message-ttl`).
    pub dead_letter_ttl: Duration,
}

impl AmqpConfig {
    /// The default queue name.
    pub const DEFAULT_QUEUE: &'static str = "messenger.search_tasks";

    /// The default bound of the dead-letter and the parking queue, in messages.
    pub const DEFAULT_DEAD_LETTER_MAX_LENGTH: u32 = 10_000;

    /// The default time a dead letter is kept: 7 days.
    pub const DEFAULT_DEAD_LETTER_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

    /// Settings for `url` with the defaults: queue `messenger.search_tasks`, prefetch 16,
    /// publish timeout 1 s, delivery limit 5, dead letters kept up to 10,000 for 7 days.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            queue: Self::DEFAULT_QUEUE.to_owned(),
            prefetch: 16,
            publish_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            settle_timeout: Duration::from_secs(5),
            delivery_limit: 5,
            retry_pause: Duration::from_millis(200),
            heartbeat_secs: 10,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            dead_letter_max_length: Self::DEFAULT_DEAD_LETTER_MAX_LENGTH,
            dead_letter_ttl: Self::DEFAULT_DEAD_LETTER_TTL,
        }
    }

    /// The same settings with another queue name.
    #[must_use]
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// The dead-letter exchange's name.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.queue)
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.queue)
    }

    /// The parking queue's name: dead letters whose task was marked `FAILED`.
    pub fn parking_queue(&self) -> String {
        format!("{}.parked", self.queue)
    }

    /// The broker address without credentials, for logs.
    pub fn redacted_url(&self) -> String {
        match AMQPUri::from_str(&self.url) {
            Ok(uri) => format!(
                "{}://{}:{}/{}",
                if uri.scheme == lapin::uri::AMQPScheme::AMQPS {
                    "amqps"
                } else {
                    "amqp"
                },
                uri.authority.host,
                uri.authority.port,
                uri.vhost.replace('/', "%2f")
            ),
            Err(_) => "<invalid AMQP URL>".to_owned(),
        }
    }

    /// Checks the settings, parses the URL (applying the heartbeat default) and reads the
    /// CA file.
    ///
    /// # Errors
    /// [`AmqpError::Config`] naming what is wrong; [`AmqpError::TlsSetup`] when the CA file
    /// cannot be used.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, AmqpError> {
        let uri = self.parsed_uri()?;
        let tls = match &self.ca_file {
            None => OwnedTLSConfig::default(),
            Some(_) if uri.scheme != AMQPScheme::AMQPS => {
                return Err(AmqpError::Config(
                    "a CA file is set (AMQP_CA_FILE) but the URL is not amqps:// (TLS)".into(),
                ))
            }
            Some(path) => OwnedTLSConfig {
                identity: None,
                cert_chain: Some(messenger_tls::read_ca_pem(path)?),
            },
        };
        Ok(Endpoint { uri, tls })
    }

    /// Checks the settings and parses the URL, applying the heartbeat default.
    ///
    /// # Errors
    /// [`AmqpError::Config`] naming what is wrong.
    pub(crate) fn parsed_uri(&self) -> Result<AMQPUri, AmqpError> {
        if self.queue.is_empty() || self.queue.len() > 200 {
            return Err(AmqpError::Config(
                "the queue name must have 1 to 200 bytes".into(),
            ));
        }
        if self.prefetch == 0 {
            return Err(AmqpError::Config("the prefetch must be at least 1".into()));
        }
        if self.delivery_limit == 0 {
            return Err(AmqpError::Config(
                "the delivery limit must be at least 1".into(),
            ));
        }
        if self.dead_letter_max_length == 0 || self.dead_letter_ttl.is_zero() {
            return Err(AmqpError::Config(
                "the dead-letter queue's length and age limits must be positive".into(),
            ));
        }
        if self.publish_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(AmqpError::Config("timeouts must be positive".into()));
        }
        // The URL itself is never echoed: it may hold a password.
        let mut uri = AMQPUri::from_str(&self.url)
            .map_err(|_| AmqpError::Config("the AMQP URL does not parse".into()))?;
        if uri.query.heartbeat.is_none() {
            uri.query.heartbeat = Some(self.heartbeat_secs);
        }
        Ok(uri)
    }
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &self.redacted_url())
            .field("queue", &self.queue)
            .field("prefetch", &self.prefetch)
            .field("publish_timeout", &self.publish_timeout)
            .field("delivery_limit", &self.delivery_limit)
            .field("dead_letter_max_length", &self.dead_letter_max_length)
            .field("dead_letter_ttl", &self.dead_letter_ttl)
            .finish_non_exhaustive()
    }
}

/// Where the broker is and how to speak TLS to it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) uri: AMQPUri,
    pub(crate) tls: OwnedTLSConfig,
}

/// What setting up the adapter can fail with (its port methods answer
/// [`messenger_ports::PortError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmqpError {
    /// The settings are unusable.
    #[error("invalid AMQP settings: {0}")]
    Config(String),
    /// The CA file cannot be used.
    #[error("AMQP {0}")]
    TlsSetup(#[from] messenger_tls::TlsError),
    /// The broker could not be reached or refused an operation.
    #[error("AMQP broker: {0}")]
    Broker(String),
    /// The TLS handshake failed: the broker's certificate was refused (an unknown CA, a
    /// certificate for another host). Does not heal by waiting.
    #[error("AMQP broker {0}")]
    Handshake(messenger_tls::HandshakeFailure),
}

impl AmqpError {
    /// A driver error as the adapter's: the refused certificate when the handshake failed
    /// for that reason, else the broker's error.
    pub(crate) fn from_lapin(e: &lapin::Error) -> Self {
        match messenger_tls::handshake_failure(e) {
            Some(failure) => AmqpError::Handshake(failure),
            None => AmqpError::Broker(e.to_string()),
        }
    }
}

impl From<AmqpError> for messenger_ports::PortError {
    fn from(e: AmqpError) -> Self {
        match e {
            AmqpError::Config(m) => messenger_ports::PortError::Internal(m),
            e @ AmqpError::TlsSetup(_) => messenger_ports::PortError::Internal(e.to_string()),
            AmqpError::Broker(m) => messenger_ports::PortError::Unavailable(m),
            e @ AmqpError::Handshake(_) => messenger_ports::PortError::Unavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_defaults_the_heartbeat() {
        let cfg = AmqpConfig::new("amqp://guest:secret@127.0.0.1:5672/%2f");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("127.0.0.1:5672"), "{shown}");
        assert_eq!(cfg.parsed_uri().unwrap().query.heartbeat, Some(10));
        let explicit = AmqpConfig::new("amqp://127.0.0.1:5672/%2f?heartbeat=3");
        assert_eq!(explicit.parsed_uri().unwrap().query.heartbeat, Some(3));
    }

    #[test]
    fn rejects_unusable_settings() {
        assert!(matches!(
            AmqpConfig::new("not a url").parsed_uri(),
            Err(AmqpError::Config(_))
        ));
        let mut cfg = AmqpConfig::new("amqp://127.0.0.1:5672/%2f");
        cfg.prefetch = 0;
        assert!(cfg.parsed_uri().is_err());
        let cfg = AmqpConfig::new("amqp://127.0.0.1:5672/%2f").with_queue("");
        assert!(cfg.parsed_uri().is_err());
        let mut cfg = AmqpConfig::new("amqp://127.0.0.1:5672/%2f");
        cfg.delivery_limit = 0;
        assert!(cfg.parsed_uri().is_err());
        let mut cfg = AmqpConfig::new("amqp://127.0.0.1:5672/%2f");
        cfg.dead_letter_max_length = 0;
        assert!(cfg.parsed_uri().is_err());
        let mut cfg = AmqpConfig::new("amqp://127.0.0.1:5672/%2f");
        cfg.dead_letter_ttl = Duration::ZERO;
        assert!(cfg.parsed_uri().is_err());
    }

    #[test]
    fn names_the_dead_letter_topology_after_the_queue() {
        let cfg = AmqpConfig::new("amqp://127.0.0.1").with_queue("q1");
        assert_eq!(cfg.dead_letter_exchange(), "q1.dlx");
        assert_eq!(cfg.dead_letter_queue(), "q1.dead");
        assert_eq!(cfg.parking_queue(), "q1.parked");
    }
}

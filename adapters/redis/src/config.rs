//! The adapter's configuration, and the errors of building a client from it.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach Redis and how long to wait for it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host[:port][/db]` (or `redis-cluster://`,
    /// `redis-sentinel://`); `rediss://` (and `rediss-cluster://`, `rediss-sentinel://`)
    /// for TLS, always with the certificate's chain and host name checked.
    pub url: String,
    /// PEM file of the CA(s) trusted for the server's certificate with `rediss://`;
    /// `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A password that overrides the URL's (the original's `REDIS_PWD`).
    pub password: Option<String>,
    /// Every key this adapter writes starts with it (several deployments, or test runs, can
    /// share one Redis).
    pub key_prefix: String,
    /// The most a command may take, queueing included. A command that takes longer
    /// answers `Unavailable`, and Redis is treated as down until a probe answers.
    pub command_timeout: Duration,
    /// The most a connection attempt may take (TCP connect and handshake).
    pub connect_timeout: Duration,
    /// Connections (commands are pipelined over each; two are plenty on a few cores).
    pub pool_size: usize,
    /// How long a cached page stays in Redis (pages never change; this only bounds memory).
    pub page_ttl: Duration,
    /// The in-process page layer in front of Redis, counted in messages (0 turns it off).
    pub local_page_messages: u64,
    /// How long a logout's marker keeps a concurrent, older lookup from caching the
    /// session again (longer than any request can take).
    pub revoked_marker_ttl: Duration,
    /// While Redis is down, how often a background probe checks whether it is back.
    pub probe_interval: Duration,
}

impl RedisConfig {
    /// The defaults for `url`: prefix `messenger:`, 1 s command and connect timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            password: None,
            key_prefix: "messenger:".to_owned(),
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            pool_size: 2,
            page_ttl: Duration::from_secs(3600),
            local_page_messages: 100_000,
            revoked_marker_ttl: Duration::from_secs(600),
            probe_interval: Duration::from_millis(200),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    /// Never shows the password, nor the URL's (which may hold one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("ca_file", &self.ca_file)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("page_ttl", &self.page_ttl)
            .field("local_page_messages", &self.local_page_messages)
            .field("revoked_marker_ttl", &self.revoked_marker_ttl)
            .field("probe_interval", &self.probe_interval)
            .finish()
    }
}

/// The URL with any credentials replaced by `***` (for logs and `Debug`).
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The configuration is unusable (bad URL, zero timeouts, …).
    #[error("invalid Redis configuration: {0}")]
    Config(String),
    /// The TLS settings cannot be used (the CA file, the system's roots).
    #[error("Redis {0}")]
    Tls(#[from] messenger_tls::TlsError),
    /// The TLS handshake failed: the server's certificate was refused (an unknown CA, a
    /// certificate for another host). This does not heal by waiting, so start-up stops.
    #[error("Redis {0}")]
    Handshake(messenger_tls::HandshakeFailure),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = RedisConfig::new("redis://user:s3cret@localhost:6379/0");
        c.password = Some("hunter2".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://***@localhost:6379/0"), "{shown}");
    }

    #[test]
    fn urls_without_credentials_are_shown_as_given() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}

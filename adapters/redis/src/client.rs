//! The shared client: a small pool of pipelined connections, every command under a
//! deadline (the command timeout, or what the request's budget has left when that is less:
//! see `messenger_ports::Budget`), and a breaker that stops waiting on a Redis that is down or hung.
//!
//! Why a breaker: a hung Redis (one that accepts connections and never answers) would make
//! every call wait its whole deadline, and one request makes several calls (session, rate
//! limit, page cache). So the first call that times out or finds the connection broken
//! marks Redis down; from then on calls fail at once with `Unavailable` (the callers fall
//! back), while a background probe pings Redis until it answers, then marks it up again.
//! fred itself reconnects broken connections (with backoff, forever) and closes ones that
//! stop answering, so no restart is ever needed.

use crate::config::{redact_url, RedisConfig, RedisError};
use fred::prelude::{
    Builder, ClientLike, Config, Error as FredError, ErrorKind, FromValue, KeysInterface,
    LuaInterface, Options, Pool, ReconnectPolicy, Value,
};
use fred::types::config::{ServerConfig, TlsConnector};
use fred::types::scripts::Script;
use futures_util::StreamExt;
use messenger_ports::{Clock, PortError, PortResult, StoreCall};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Where a handshake can be checked: host, port and the TLS settings.
type TlsTarget = (String, u16, Arc<messenger_tls::rustls::ClientConfig>);

/// A connection to Redis shared by every adapter of this crate. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    /// Per-command options: fail at once while a connection is broken (callers have a
    /// fallback; waiting for fred's reconnection would only delay it), and fred's own
    /// deadline.
    options: Options,
    prefix: String,
    timeout: Duration,
    probe_interval: Duration,
    /// Redis is known to be down: fail fast until the probe sees it answer.
    down: AtomicBool,
    config: RedisConfig,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &redact_url(&self.shared.config.url))
            .field("prefix", &self.shared.prefix)
            .field("down", &self.shared.down.load(Ordering::Relaxed))
            .finish()
    }
}

impl RedisStore {
    /// Connects to Redis. Waits up to the connect timeout for the first connection; when
    /// Redis is not reachable by then, it still returns (the adapters answer `Unavailable`
    /// and fred keeps reconnecting in the background), so a service can start while Redis
    /// is down and use it once it comes up.
    ///
    /// With TLS (`rediss://`), a server whose certificate is refused (an unknown CA, a
    /// certificate for another host) stops start-up instead: that does not heal by waiting.
    ///
    /// # Errors
    /// [`RedisError::Config`] when the configuration is unusable (a bad URL, a zero timeout
    /// or pool size); [`RedisError::Tls`] when the CA file is; [`RedisError::Handshake`]
    /// when the server's certificate is refused.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisError> {
        let (store, tls) = Self::build(config)?;
        let pool = &store.shared.pool;
        pool.connect_pool();
        let connected = tokio::time::timeout(config.connect_timeout, pool.wait_for_connect()).await;
        if !matches!(connected, Ok(Ok(()))) {
            // fred keeps only the text of a TLS error: one handshake of our own tells a
            // refused certificate from a server that is not there yet.
            if let Some((host, port, tls)) = tls {
                let check =
                    messenger_tls::handshake_check(&host, port, tls, config.connect_timeout);
                if let Some(failure) = check.await {
                    let _ = pool.quit().await;
                    tracing::error!(url = %redact_url(&config.url), error = %failure, "Redis refused over TLS");
                    return Err(RedisError::Handshake(failure));
                }
            }
        }
        match connected {
            Ok(Ok(())) => {
                tracing::info!(url = %redact_url(&config.url), "connected to Redis");
            }
            Ok(Err(e)) => {
                tracing::warn!(url = %redact_url(&config.url), error = %e,
                    "Redis is not reachable; will keep trying and fall back meanwhile");
                store.trip(&e.to_string());
            }
            Err(_) => {
                tracing::warn!(url = %redact_url(&config.url),
                    "Redis did not answer in time; will keep trying and fall back meanwhile");
                store.trip("connect timeout");
            }
        }
        Ok(store)
    }

    /// The client, and for a TLS URL of one server its host, port and TLS settings (to
    /// check a failed handshake with).
    fn build(config: &RedisConfig) -> Result<(Self, Option<TlsTarget>), RedisError> {
        if config.command_timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(RedisError::Config("timeouts must be above zero".into()));
        }
        if config.pool_size == 0 {
            return Err(RedisError::Config(
                "the pool size must be at least 1".into(),
            ));
        }
        let scheme = config.url.split("://").next().unwrap_or_default();
        let tls = match scheme {
            "redis" | "redis-cluster" | "redis-sentinel" => false,
            "rediss" | "rediss-cluster" | "rediss-sentinel" => true,
            _ => {
                return Err(RedisError::Config(format!(
                    "REDIS_URL must start with redis:// or rediss:// (TLS), or their -cluster \
                     or -sentinel forms, got {}",
                    redact_url(&config.url)
                )))
            }
        };
        if !tls && config.ca_file.is_some() {
            return Err(RedisError::Config(
                "a CA file is set (REDIS_CA_FILE) but REDIS_URL is not rediss:// (TLS)".into(),
            ));
        }
        let mut fred_config = Config::from_url(&config.url)
            .map_err(|e| RedisError::Config(format!("REDIS_URL: {}", e.details())))?;
        if let Some(password) = &config.password {
            fred_config.password = Some(password.clone());
        }
        let mut target = None;
        if tls {
            // Our settings replace fred's default ones: the CA file (else the system's
            // roots), rustls with ring, the chain and the host name checked.
            let client = Arc::new(messenger_tls::client_config(
                config.ca_file.as_deref(),
                messenger_tls::Verify::Full,
            )?);
            if let ServerConfig::Centralized { server } = &fred_config.server {
                target = Some((server.host.to_string(), server.port, client.clone()));
            }
            fred_config.tls = Some(TlsConnector::Rustls(client.into()).into());
        }
        // Keep reconnecting in the background when the first attempt fails, instead of
        // giving up: the service runs on its fallbacks until Redis comes up.
        fred_config.fail_fast = false;
        let timeout = config.command_timeout;
        let pool = Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = config.connect_timeout;
                c.internal_command_timeout = timeout;
                // A connection whose answers stop coming is closed and replaced.
                c.unresponsive.max_timeout = Some(timeout * 2);
                c.unresponsive.interval = (timeout / 4).max(Duration::from_millis(50));
                c.tcp.nodelay = Some(true);
            })
            .with_performance_config(|p| {
                p.default_command_timeout = timeout;
            })
            // Retry forever, from 50 ms up to 1 s apart: Redis is used again soon after it
            // returns.
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 1000, 2))
            .build_pool(config.pool_size)
            .map_err(|e| RedisError::Config(e.details().to_owned()))?;
        let options = Options {
            timeout: Some(timeout),
            fail_fast: true,
            ..Options::default()
        };
        let store = Self {
            shared: Arc::new(Shared {
                pool,
                options,
                prefix: config.key_prefix.clone(),
                timeout,
                probe_interval: config.probe_interval.max(Duration::from_millis(10)),
                down: AtomicBool::new(false),
                config: config.clone(),
            }),
        };
        Ok((store, target))
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    /// Whether Redis is currently answering (as far as this client knows).
    pub fn is_up(&self) -> bool {
        !self.shared.down.load(Ordering::Acquire)
    }

    /// One round trip to Redis, bypassing the breaker (a readiness check).
    ///
    /// # Errors
    /// `Unavailable` when Redis does not answer within the command timeout.
    pub async fn ping(&self) -> PortResult<()> {
        let pool = &self.shared.pool;
        let answer = tokio::time::timeout(
            self.shared.timeout,
            pool.with_options(&self.shared.options).ping::<Value>(None),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(map_error(&e)),
            Err(_) => Err(PortError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        }
    }

    /// Deletes every key under this store's prefix (test clean-up; maintenance). Returns
    /// how many were deleted.
    ///
    /// # Errors
    /// `Unavailable` when Redis does not answer.
    pub async fn delete_prefixed_keys(&self) -> PortResult<u64> {
        let pattern = format!("{}*", glob_escape(&self.shared.prefix));
        let client = self.shared.pool.next().clone();
        let work = async move {
            let mut keys = client.scan_buffered(pattern, Some(500), None);
            let mut batch = Vec::new();
            let mut deleted = 0u64;
            while let Some(key) = keys.next().await {
                batch.push(key?);
                if batch.len() >= 500 {
                    deleted += client.del::<u64, _>(std::mem::take(&mut batch)).await?;
                }
            }
            if !batch.is_empty() {
                deleted += client.del::<u64, _>(batch).await?;
            }
            Ok::<u64, FredError>(deleted)
        };
        match tokio::time::timeout(self.shared.timeout * 30, work).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(map_error(&e)),
            Err(_) => Err(PortError::Unavailable("key clean-up timed out".into())),
        }
    }

    /// Up to `limit` keys under this store's prefix (what a service has put in Redis: for
    /// tests and inspection).
    ///
    /// # Errors
    /// `Unavailable` when Redis does not answer.
    pub async fn prefixed_keys(&self, limit: usize) -> PortResult<Vec<String>> {
        let pattern = format!("{}*", glob_escape(&self.shared.prefix));
        let client = self.shared.pool.next().clone();
        let work = async move {
            let mut keys = client.scan_buffered(pattern, Some(500), None);
            let mut found = Vec::new();
            while let Some(key) = keys.next().await {
                if found.len() >= limit {
                    break;
                }
                if let Some(key) = key?.into_string() {
                    found.push(key);
                }
            }
            Ok::<Vec<String>, FredError>(found)
        };
        match tokio::time::timeout(self.shared.timeout * 30, work).await {
            Ok(Ok(keys)) => Ok(keys),
            Ok(Err(e)) => Err(map_error(&e)),
            Err(_) => Err(PortError::Unavailable("listing keys timed out".into())),
        }
    }

    /// Closes the connections (pending commands finish first).
    pub async fn quit(&self) {
        if let Err(e) = self.shared.pool.quit().await {
            tracing::debug!(error = %e, "closing the Redis connections");
        }
    }

    /// `prefix` + `kind` + `:` + `rest`: the one place keys are built.
    pub(crate) fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}{kind}:{rest}", self.shared.prefix)
    }

    /// The pool with the per-command options (fail fast, fred's deadline).
    pub(crate) fn commands(&self) -> fred::clients::WithOptions<Pool> {
        self.shared.pool.with_options(&self.shared.options)
    }

    /// Runs one command (or script) under the deadline, through the breaker, with fred's
    /// errors turned into port errors.
    pub(crate) async fn run<T, F>(&self, fut: F) -> PortResult<T>
    where
        F: Future<Output = Result<T, FredError>>,
    {
        if !self.is_up() {
            return Err(PortError::Unavailable(
                "Redis is down (waiting for it to answer again)".into(),
            ));
        }
        // The command may wait what the request's budget has left (the command timeout
        // at most); the time it took is charged to the budget when `call` is dropped.
        let call = StoreCall::start(self.shared.timeout);
        if call.is_spent() {
            return Err(PortError::Unavailable(
                "the request's time for stores is spent".into(),
            ));
        }
        // fred applies the command timeout too; this deadline also covers its queueing,
        // so nothing waits longer whatever state the client is in.
        let limit = if call.cut_by_budget() {
            call.limit()
        } else {
            call.limit() + Duration::from_millis(20)
        };
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let mapped = map_error(&e);
                if matches!(mapped, PortError::Unavailable(_)) {
                    self.trip(&e.to_string());
                }
                Err(mapped)
            }
            // Cut short by the request's budget: Redis may only be slower than what was
            // left, so the breaker is not tripped for it.
            Err(_) if call.cut_by_budget() => Err(PortError::Unavailable(
                "Redis did not answer within the request's time for stores".into(),
            )),
            Err(_) => {
                self.trip("command timed out");
                Err(PortError::Unavailable(
                    "Redis did not answer in time".into(),
                ))
            }
        }
    }

    /// Runs a Lua script by its hash, loading it first when Redis does not know it (after
    /// a restart or `SCRIPT FLUSH`).
    pub(crate) async fn script<R: FromValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> PortResult<R> {
        let commands = self.commands();
        self.run(async {
            match commands
                .evalsha::<R, _, _, _>(script.sha1().clone(), keys.clone(), args.clone())
                .await
            {
                Err(e) if e.details().starts_with("NOSCRIPT") => {
                    let lua = script.lua().cloned().unwrap_or_default();
                    // EVAL also puts the script in Redis's cache for the next EVALSHA.
                    commands.eval::<R, _, _, _>(lua, keys, args).await
                }
                other => other,
            }
        })
        .await
    }

    /// Marks Redis down (once per outage: one warning) and starts the probe that marks
    /// it up again.
    fn trip(&self, cause: &str) {
        if self.shared.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!(
            cause,
            "Redis is unavailable; failing fast until it answers again"
        );
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to probe from: let the next call try again instead.
            self.shared.down.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(probe(Arc::downgrade(&self.shared)));
    }
}

/// Pings until Redis answers, then marks it up. Ends quietly when the store is dropped.
async fn probe(shared: Weak<Shared>) {
    loop {
        let Some(interval) = shared.upgrade().map(|s| s.probe_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let commands = shared.pool.with_options(&shared.options);
        let ping = commands.ping::<Value>(None);
        if let Ok(Ok(_)) = tokio::time::timeout(shared.timeout, ping).await {
            shared.down.store(false, Ordering::Release);
            tracing::info!("Redis answers again");
            return;
        }
    }
}

/// fred's error as a port error: anything about reaching Redis (connection, timeout,
/// a server that is loading or busy) is `Unavailable`; the rest is a bug or corrupt data.
pub(crate) fn map_error(e: &FredError) -> PortError {
    let unavailable = match e.kind() {
        ErrorKind::IO
        | ErrorKind::Timeout
        | ErrorKind::Canceled
        | ErrorKind::Backpressure
        | ErrorKind::Routing
        | ErrorKind::Cluster
        | ErrorKind::Sentinel
        | ErrorKind::Auth => true,
        _ => [
            "LOADING",
            "BUSY",
            "MASTERDOWN",
            "TRYAGAIN",
            "READONLY",
            "OOM",
        ]
        .iter()
        .any(|p| e.details().starts_with(p)),
    };
    if unavailable {
        PortError::Unavailable(format!("Redis: {e}"))
    } else {
        PortError::Internal(format!("Redis: {e}"))
    }
}

/// `s` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How long keys outlive their logical end (set by the `Clock` port): an instance whose
/// clock runs a little behind, or a test's manual clock, never sees a key vanish before
/// its time; past that, Redis frees the memory.
pub(crate) const EXPIRY_SLACK: Duration = Duration::from_secs(60);

/// The clock's now in µs since the epoch (what the scripts compare).
pub(crate) fn now_micros(clock: &dyn Clock) -> i64 {
    clock.now().as_micros()
}

/// Milliseconds for a Redis expiry: at least 1 (0 would be an error, or no expiry).
pub(crate) fn ttl_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("messenger:"), "messenger:");
    }

    #[test]
    fn connection_errors_are_unavailable_and_others_internal() {
        let io = FredError::new(ErrorKind::IO, "broken pipe");
        assert!(matches!(map_error(&io), PortError::Unavailable(_)));
        let busy = FredError::new(ErrorKind::Unknown, "BUSY Redis is busy running a script");
        assert!(matches!(map_error(&busy), PortError::Unavailable(_)));
        let parse = FredError::new(ErrorKind::Parse, "bad integer");
        assert!(matches!(map_error(&parse), PortError::Internal(_)));
    }

    #[test]
    fn expiries_are_at_least_one_millisecond() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
    }

    #[tokio::test]
    async fn a_bad_url_is_a_configuration_error() {
        let err = RedisStore::connect(&RedisConfig::new("http://nowhere"))
            .await
            .unwrap_err();
        assert!(matches!(err, RedisError::Config(_)), "{err:?}");
    }
}

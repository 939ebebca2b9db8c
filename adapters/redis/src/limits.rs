//! The shared rate limiter (GCRA in one Lua script) and the failed-login counters (fixed
//! windows). Both keep their time in Redis (its `TIME` and key expiries), so every
//! instance agrees whatever its own clock says.

use crate::client::{ttl_millis, RedisStore};
use async_trait::async_trait;
use fred::types::scripts::Script;
use messenger_ports::{
    AttemptCounter, FailureWindow, PortError, PortResult, RateDecision, RateLimiter,
};
use std::sync::LazyLock;
use std::time::Duration;

/// GCRA on one key, atomically: one round trip per check. The key holds the theoretical
/// arrival time (TAT, µs of Redis's clock) and expires when it has passed, so idle keys
/// cost nothing. A refused request writes nothing.
///
/// KEYS[1] the budget; ARGV[1] the emission interval (µs per request); ARGV[2] the
/// tolerance (interval × burst). Answers `{1, 0}` when allowed, `{0, µs to wait}` when not.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0}
",
    )
});

/// Counts a failure: the window starts (its expiry is set) at the first one only.
/// KEYS[1] the counter; ARGV[1] the window in ms. Answers the count.
static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX')
return n
",
    )
});

/// The count and the ms left in the window, read together. `{0, 0}` when none is open.
static FAILURES: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(n), ttl}
",
    )
});

/// A GCRA budget per key in Redis: every instance on one Redis shares each key's budget.
pub struct RedisRateLimiter {
    store: RedisStore,
    name: String,
    interval_us: u64,
    tolerance_us: u64,
}

impl RedisRateLimiter {
    /// `per_sec` requests per second with bursts of `burst` (both at least 1). `name`
    /// separates budgets that share keys (the request limiter and the registration
    /// limiter are both keyed by client address).
    pub fn new(store: &RedisStore, name: &str, per_sec: u32, burst: u32) -> Self {
        Self::with_period(store, name, Duration::from_secs(1), per_sec, burst)
    }

    /// `per_minute` requests per minute with bursts of `burst`.
    pub fn per_minute(store: &RedisStore, name: &str, per_minute: u32, burst: u32) -> Self {
        Self::with_period(store, name, Duration::from_secs(60), per_minute, burst)
    }

    fn with_period(
        store: &RedisStore,
        name: &str,
        period: Duration,
        count: u32,
        burst: u32,
    ) -> Self {
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        let interval_us = (period_us / u64::from(count.max(1))).max(1);
        Self {
            store: store.clone(),
            name: name.to_owned(),
            interval_us,
            tolerance_us: interval_us.saturating_mul(u64::from(burst.max(1))),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str) -> PortResult<RateDecision> {
        let redis_key = self.store.key(&format!("rate:{}", self.name), key);
        let (allowed, wait_us): (i64, i64) = self
            .store
            .script(
                &GCRA,
                vec![redis_key],
                vec![self.interval_us.to_string(), self.tolerance_us.to_string()],
            )
            .await?;
        Ok(if allowed == 1 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)),
            }
        })
    }
}

/// Fixed-window failure counters in Redis (`INCR`, with the window's expiry set at the
/// first failure only).
pub struct RedisAttempts {
    store: RedisStore,
}

impl RedisAttempts {
    /// The counters of `store`.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        self.store.key("failures", key)
    }
}

#[async_trait]
impl AttemptCounter for RedisAttempts {
    async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
        let (count, ttl_ms): (i64, i64) = self
            .store
            .script(&FAILURES, vec![self.redis_key(key)], Vec::new())
            .await?;
        Ok(FailureWindow {
            count: u64::try_from(count)
                .map_err(|_| PortError::Internal("negative failure count in Redis".into()))?,
            resets_in: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
        })
    }

    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64> {
        let count: i64 = self
            .store
            .script(
                &RECORD_FAILURE,
                vec![self.redis_key(key)],
                vec![ttl_millis(window).to_string()],
            )
            .await?;
        u64::try_from(count)
            .map_err(|_| PortError::Internal("negative failure count in Redis".into()))
    }

    async fn reset(&self, key: &str) -> PortResult<()> {
        use fred::prelude::KeysInterface;
        let commands = self.store.commands();
        self.store
            .run(commands.del::<(), _>(self.redis_key(key)))
            .await
    }
}

//! The shared rate limiter (GCRA in one Lua script) and the failed-login counters (fixed
//! windows).
//!
//! Time comes from the `Clock` port, passed to the scripts, not from Redis's `TIME`: the
//! same rules then hold for every adapter, and tests drive them with a manual clock. The
//! instances' clocks must agree (NTP): a skew of `d` lets a client through `d × rate`
//! requests early, nothing worse. Redis expiries only free memory; they are set past the
//! logical end (by [`EXPIRY_SLACK`]) so a key never vanishes before its time.

use crate::client::{now_micros, ttl_millis, RedisStore, EXPIRY_SLACK};
use async_trait::async_trait;
use fred::types::scripts::Script;
use messenger_ports::{
    AttemptCounter, Clock, FailureWindow, PortError, PortResult, RateDecision, RateLimiter,
};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// GCRA on one key, atomically: one round trip per check. The key holds the theoretical
/// arrival time (TAT, µs); a refused request writes nothing.
///
/// KEYS[1] the budget; ARGV[1] now (µs); ARGV[2] the emission interval (µs per request);
/// ARGV[3] the tolerance (interval × burst); ARGV[4] the expiry slack (ms). Answers
/// `{1, 0}` when allowed, `{0, µs to wait}` when not.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
local expiry = math.ceil((new_tat - now) / 1000) + tonumber(ARGV[4])
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', expiry)
return {1, 0}
",
    )
});

/// Counts a failure in the open window, or opens one. The key is a hash: `n` failures,
/// window `end` (µs). KEYS[1] the counter; ARGV[1] now (µs); ARGV[2] the window (µs);
/// ARGV[3] the key's expiry (ms). Answers the count.
static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'n', 'end')
local n = tonumber(v[1])
local e = tonumber(v[2])
if n == nil or e == nil or e <= now then
  redis.call('HSET', KEYS[1], 'n', 1, 'end', string.format('%.0f', now + tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)
",
    )
});

/// The count and the µs left in the open window, read together; `{0, 0}` when none is
/// open. KEYS[1] the counter; ARGV[1] now (µs).
static FAILURES: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'n', 'end')
local n = tonumber(v[1])
local e = tonumber(v[2])
if n == nil or e == nil or e <= now then return {0, 0} end
return {n, e - now}
",
    )
});

/// A GCRA budget per key in Redis: every instance on one Redis shares each key's budget.
pub struct RedisRateLimiter {
    store: RedisStore,
    clock: Arc<dyn Clock>,
    name: String,
    interval_us: u64,
    tolerance_us: u64,
}

impl RedisRateLimiter {
    /// `per_sec` requests per second with bursts of `burst` (both at least 1). `name`
    /// separates budgets that share keys (the request limiter and the registration
    /// limiter are both keyed by client address).
    pub fn new(
        store: &RedisStore,
        name: &str,
        per_sec: u32,
        burst: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_period(store, name, Duration::from_secs(1), per_sec, burst, clock)
    }

    /// `per_minute` requests per minute with bursts of `burst`.
    pub fn per_minute(
        store: &RedisStore,
        name: &str,
        per_minute: u32,
        burst: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_period(
            store,
            name,
            Duration::from_secs(60),
            per_minute,
            burst,
            clock,
        )
    }

    fn with_period(
        store: &RedisStore,
        name: &str,
        period: Duration,
        count: u32,
        burst: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        let interval_us = (period_us / u64::from(count.max(1))).max(1);
        Self {
            store: store.clone(),
            clock,
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
                vec![
                    now_micros(self.clock.as_ref()).to_string(),
                    self.interval_us.to_string(),
                    self.tolerance_us.to_string(),
                    ttl_millis(EXPIRY_SLACK).to_string(),
                ],
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

/// Fixed-window failure counters in Redis: a window opens at the first failure and ends
/// `window` later, whatever failures follow.
pub struct RedisAttempts {
    store: RedisStore,
    clock: Arc<dyn Clock>,
}

impl RedisAttempts {
    /// The counters of `store`, on `clock`.
    pub fn new(store: &RedisStore, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: store.clone(),
            clock,
        }
    }

    fn redis_key(&self, key: &str) -> String {
        self.store.key("failures", key)
    }
}

#[async_trait]
impl AttemptCounter for RedisAttempts {
    async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
        let now = now_micros(self.clock.as_ref());
        let (count, left_us): (i64, i64) = self
            .store
            .script(&FAILURES, vec![self.redis_key(key)], vec![now.to_string()])
            .await?;
        Ok(FailureWindow {
            count: u64::try_from(count)
                .map_err(|_| PortError::Internal("negative failure count in Redis".into()))?,
            resets_in: Duration::from_micros(u64::try_from(left_us).unwrap_or(0)),
        })
    }

    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64> {
        let count: i64 = self
            .store
            .script(
                &RECORD_FAILURE,
                vec![self.redis_key(key)],
                vec![
                    now_micros(self.clock.as_ref()).to_string(),
                    u64::try_from(window.as_micros())
                        .unwrap_or(u64::MAX)
                        .to_string(),
                    ttl_millis(window + EXPIRY_SLACK).to_string(),
                ],
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

//! The in-process rate limiter (governor's keyed GCRA on the `Clock` port) and the
//! failed-login counters.

use async_trait::async_trait;
use governor::{
    clock::{Clock as GovernorClock, Reference},
    nanos::Nanos,
    state::keyed::DefaultKeyedStateStore,
    Quota,
};
use messenger_domain::Timestamp;
use messenger_ports::{
    AttemptCounter, Clock, FailureWindow, PortResult, RateDecision, RateLimiter,
};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// An instant of the `Clock` port, in nanoseconds since the epoch, for governor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortInstant(u64);

impl Add<Nanos> for PortInstant {
    type Output = Self;
    fn add(self, rhs: Nanos) -> Self {
        Self(self.0.saturating_add(rhs.as_u64()))
    }
}

impl Reference for PortInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_sub(earlier.0))
    }
    fn saturating_sub(&self, duration: Nanos) -> Self {
        Self(self.0.saturating_sub(duration.as_u64()))
    }
}

/// The `Clock` port as a governor clock (so tests drive the limiter without sleeping).
#[derive(Clone)]
pub struct PortClock(Arc<dyn Clock>);

impl PortClock {
    fn instant(t: Timestamp) -> PortInstant {
        PortInstant(
            u64::try_from(t.as_micros())
                .unwrap_or(0)
                .saturating_mul(1000),
        )
    }
}

impl GovernorClock for PortClock {
    type Instant = PortInstant;
    fn now(&self) -> PortInstant {
        Self::instant(self.0.now())
    }
}

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    PortClock,
    governor::middleware::NoOpMiddleware<PortInstant>,
>;

/// A GCRA budget per key, in this process only (several instances need the Redis one).
pub struct GcraLimiter {
    limiter: Keyed,
    clock: PortClock,
}

impl GcraLimiter {
    /// `per_sec` requests per second with bursts of `burst` (both at least 1).
    pub fn new(per_sec: u32, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_second(NonZeroU32::new(per_sec).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        Self::with_quota(quota, clock)
    }

    /// `per_minute` requests per minute with bursts of `burst`.
    pub fn per_minute(per_minute: u32, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        Self::with_quota(quota, clock)
    }

    fn with_quota(quota: Quota, clock: Arc<dyn Clock>) -> Self {
        let clock = PortClock(clock);
        Self {
            limiter: governor::RateLimiter::new(
                quota,
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ),
            clock,
        }
    }

    /// Forgets keys whose budget is full again (idle keys), so memory stays bounded.
    /// Call periodically.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many keys are tracked.
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

#[async_trait]
impl RateLimiter for GcraLimiter {
    async fn check(&self, key: &str) -> PortResult<RateDecision> {
        Ok(match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        })
    }
}

/// Fixed-window failure counters on the `Clock` port.
pub struct MemoryAttempts {
    windows: Mutex<HashMap<String, (u64, Timestamp)>>,
    clock: Arc<dyn Clock>,
}

impl MemoryAttempts {
    /// No failures yet.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            windows: Mutex::default(),
            clock,
        }
    }

    /// Forgets closed windows (call periodically; keeps memory bounded).
    pub fn forget_expired(&self) {
        let now = self.clock.now();
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (_, ends)| *ends > now);
    }
}

#[async_trait]
impl AttemptCounter for MemoryAttempts {
    async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
        let now = self.clock.now();
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(match windows.get(key) {
            Some(&(count, ends)) if ends > now => FailureWindow {
                count,
                resets_in: ends.since(now),
            },
            _ => FailureWindow {
                count: 0,
                resets_in: Duration::ZERO,
            },
        })
    }

    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64> {
        let now = self.clock.now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = windows
            .entry(key.to_owned())
            .or_insert((0, now.plus(window)));
        if entry.1 <= now {
            *entry = (0, now.plus(window));
        }
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn reset(&self, key: &str) -> PortResult<()> {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(())
    }
}

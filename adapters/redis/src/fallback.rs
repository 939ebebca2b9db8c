//! Limits that survive a Redis outage: the shared (Redis) limiter or counter while it
//! answers, this instance's own one while it does not.
//!
//! During an outage each instance enforces the budget alone, so a client spread over `n`
//! instances may get up to `n` times its budget — better than refusing everyone or
//! letting everyone through. The switch is logged once each way, not once per request.

use async_trait::async_trait;
use messenger_ports::{
    AttemptCounter, FailureWindow, PortError, PortResult, RateDecision, RateLimiter,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether the primary is in an outage, with one log line per change.
struct Outage {
    what: &'static str,
    degraded: AtomicBool,
}

impl Outage {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            degraded: AtomicBool::new(false),
        }
    }

    fn primary_failed(&self, error: &str) {
        if !self.degraded.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                what = self.what,
                error,
                "shared store unavailable; using this instance's own one until it returns"
            );
        }
    }

    fn primary_answered(&self) {
        // A read first: the common case (no outage) writes nothing shared.
        if self.degraded.load(Ordering::Acquire) && self.degraded.swap(false, Ordering::AcqRel) {
            tracing::info!(what = self.what, "shared store answers again; using it");
        }
    }

    fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }
}

/// A rate limiter that uses `primary` (Redis) and, when it answers `Unavailable`, the
/// in-process `fallback`. Other errors are passed on (they are bugs, not outages).
pub struct FallbackLimiter {
    primary: Arc<dyn RateLimiter>,
    fallback: Arc<dyn RateLimiter>,
    outage: Outage,
}

impl FallbackLimiter {
    /// Checks `primary` first, `fallback` while `primary` is unavailable.
    pub fn new(primary: Arc<dyn RateLimiter>, fallback: Arc<dyn RateLimiter>) -> Self {
        Self {
            primary,
            fallback,
            outage: Outage::new("rate limiter"),
        }
    }

    /// Whether the last check had to use the fallback.
    pub fn is_degraded(&self) -> bool {
        self.outage.is_degraded()
    }
}

#[async_trait]
impl RateLimiter for FallbackLimiter {
    async fn check(&self, key: &str) -> PortResult<RateDecision> {
        match self.primary.check(key).await {
            Ok(decision) => {
                self.outage.primary_answered();
                Ok(decision)
            }
            Err(PortError::Unavailable(e)) => {
                self.outage.primary_failed(&e);
                self.fallback.check(key).await
            }
            Err(e) => Err(e),
        }
    }
}

/// Failure counters that use `primary` (Redis) and, when it answers `Unavailable`, the
/// in-process `fallback`. Failures counted during an outage stay in the fallback: the
/// shared count starts over from what it held before (a short outage gives a stranger a
/// few more guesses; it never locks anyone out for longer).
pub struct FallbackAttempts {
    primary: Arc<dyn AttemptCounter>,
    fallback: Arc<dyn AttemptCounter>,
    outage: Outage,
}

impl FallbackAttempts {
    /// Uses `primary` first, `fallback` while `primary` is unavailable.
    pub fn new(primary: Arc<dyn AttemptCounter>, fallback: Arc<dyn AttemptCounter>) -> Self {
        Self {
            primary,
            fallback,
            outage: Outage::new("failed-login counter"),
        }
    }

    /// Whether the last call had to use the fallback.
    pub fn is_degraded(&self) -> bool {
        self.outage.is_degraded()
    }

    fn settle<T>(&self, result: &PortResult<T>) -> bool {
        match result {
            Ok(_) => {
                self.outage.primary_answered();
                false
            }
            Err(PortError::Unavailable(e)) => {
                self.outage.primary_failed(e);
                true
            }
            Err(_) => false,
        }
    }
}

#[async_trait]
impl AttemptCounter for FallbackAttempts {
    async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
        let result = self.primary.failures(key).await;
        if self.settle(&result) {
            return self.fallback.failures(key).await;
        }
        result
    }

    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64> {
        let result = self.primary.record_failure(key, window).await;
        if self.settle(&result) {
            return self.fallback.record_failure(key, window).await;
        }
        result
    }

    async fn reset(&self, key: &str) -> PortResult<()> {
        // Both: a failure counted in the fallback during an outage is forgotten too.
        let local = self.fallback.reset(key).await;
        let result = self.primary.reset(key).await;
        if self.settle(&result) {
            return local;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Mutex;

    /// A limiter that answers what it is told and counts its calls.
    struct Scripted {
        answer: Mutex<PortResult<RateDecision>>,
        calls: AtomicU32,
    }

    impl Scripted {
        fn new(answer: PortResult<RateDecision>) -> Arc<Self> {
            Arc::new(Self {
                answer: Mutex::new(answer),
                calls: AtomicU32::new(0),
            })
        }
        fn set(&self, answer: PortResult<RateDecision>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl RateLimiter for Scripted {
        async fn check(&self, _key: &str) -> PortResult<RateDecision> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answer.lock().unwrap().clone()
        }
    }

    const LIMITED: RateDecision = RateDecision::Limited {
        retry_after: Duration::from_secs(3),
    };

    #[tokio::test]
    async fn uses_the_primary_while_it_answers() {
        let primary = Scripted::new(Ok(LIMITED));
        let fallback = Scripted::new(Ok(RateDecision::Allowed));
        let limiter = FallbackLimiter::new(primary.clone(), fallback.clone());
        assert_eq!(limiter.check("k").await, Ok(LIMITED));
        assert_eq!((primary.calls(), fallback.calls()), (1, 0));
        assert!(!limiter.is_degraded());
    }

    #[tokio::test]
    async fn uses_the_fallback_while_the_primary_is_unavailable_and_switches_back() {
        let primary = Scripted::new(Err(PortError::Unavailable("down".into())));
        let fallback = Scripted::new(Ok(LIMITED));
        let limiter = FallbackLimiter::new(primary.clone(), fallback.clone());
        assert_eq!(limiter.check("k").await, Ok(LIMITED));
        assert_eq!(limiter.check("k").await, Ok(LIMITED));
        assert!(limiter.is_degraded());
        assert_eq!(fallback.calls(), 2);

        primary.set(Ok(RateDecision::Allowed));
        assert_eq!(limiter.check("k").await, Ok(RateDecision::Allowed));
        assert!(!limiter.is_degraded());
        assert_eq!(
            fallback.calls(),
            2,
            "the fallback is not asked once the primary is back"
        );
    }

    #[tokio::test]
    async fn other_errors_are_not_outages() {
        let primary = Scripted::new(Err(PortError::Internal("bug".into())));
        let fallback = Scripted::new(Ok(RateDecision::Allowed));
        let limiter = FallbackLimiter::new(primary, fallback.clone());
        assert!(matches!(
            limiter.check("k").await,
            Err(PortError::Internal(_))
        ));
        assert_eq!(fallback.calls(), 0);
    }

    /// A counter that is always down, or one that counts in memory.
    struct Counter {
        down: bool,
        counts: Mutex<std::collections::HashMap<String, u64>>,
    }

    impl Counter {
        fn new(down: bool) -> Arc<Self> {
            Arc::new(Self {
                down,
                counts: Mutex::default(),
            })
        }
        fn check(&self) -> PortResult<()> {
            if self.down {
                Err(PortError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl AttemptCounter for Counter {
        async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
            self.check()?;
            let count = self.counts.lock().unwrap().get(key).copied().unwrap_or(0);
            Ok(FailureWindow {
                count,
                resets_in: Duration::from_secs(u64::from(count > 0)),
            })
        }
        async fn record_failure(&self, key: &str, _window: Duration) -> PortResult<u64> {
            self.check()?;
            let mut counts = self.counts.lock().unwrap();
            let n = counts.entry(key.to_owned()).or_default();
            *n += 1;
            Ok(*n)
        }
        async fn reset(&self, key: &str) -> PortResult<()> {
            self.check()?;
            self.counts.lock().unwrap().remove(key);
            Ok(())
        }
    }

    #[tokio::test]
    async fn failures_are_counted_locally_while_the_primary_is_down() {
        let counter = FallbackAttempts::new(Counter::new(true), Counter::new(false));
        let window = Duration::from_secs(60);
        assert_eq!(counter.record_failure("k", window).await, Ok(1));
        assert_eq!(counter.record_failure("k", window).await, Ok(2));
        assert_eq!(counter.failures("k").await.unwrap().count, 2);
        assert!(counter.is_degraded());
        assert_eq!(counter.reset("k").await, Ok(()));
        assert_eq!(counter.failures("k").await.unwrap().count, 0);
    }

    #[tokio::test]
    async fn failures_go_to_the_primary_while_it_answers() {
        let primary = Counter::new(false);
        let fallback = Counter::new(false);
        let counter = FallbackAttempts::new(primary.clone(), fallback.clone());
        counter
            .record_failure("k", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(primary.failures("k").await.unwrap().count, 1);
        assert_eq!(fallback.failures("k").await.unwrap().count, 0);
        assert!(!counter.is_degraded());
    }
}

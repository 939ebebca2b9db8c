//! Limit ports: request throttling and failed-login counting.

use crate::PortResult;
use async_trait::async_trait;
use std::time::Duration;

/// The answer of a rate check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the budget (and the request was counted).
    Allowed,
    /// Over the budget; nothing was consumed. Retry after this long.
    Limited {
        /// Time until one request fits the budget again.
        retry_after: Duration,
    },
}

/// A GCRA budget per key (a rate and a burst fixed when the limiter is built). Adapters
/// sharing a backend share budgets: every instance of the API on one Redis sees one budget.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request for `key` if it fits the budget. A refused request consumes
    /// nothing.
    async fn check(&self, key: &str) -> PortResult<RateDecision>;
}

/// Failures counted within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow {
    /// Failures in the current window (0 when there is none).
    pub count: u64,
    /// Time until the current window ends (zero when there is none).
    pub resets_in: Duration,
}

/// Fixed-window failure counters (failed logins). A window starts at the first failure
/// of a key and lasts the `window` given with it.
#[async_trait]
pub trait AttemptCounter: Send + Sync + 'static {
    /// The failures of `key` in its current window.
    async fn failures(&self, key: &str) -> PortResult<FailureWindow>;

    /// Counts one failure of `key`, starting a window of `window` if none is open;
    /// returns the count in the window.
    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64>;

    /// Forgets the failures of `key`.
    async fn reset(&self, key: &str) -> PortResult<()>;
}

//! [`RateLimiter`]: a GCRA budget per key — the burst, the refusal with its retry time,
//! refusals that consume nothing, independent keys, refilling at the rate.

use super::support::{ok, unique_name};
use super::TimeTravel;
use crate::{RateDecision, RateLimiter};
use std::time::Duration;

/// Runs every check of [`RateLimiter`] on a limiter built with `per_sec` requests per
/// second and bursts of `burst` (`time` lets the budget refill; each check lets about
/// `1 / per_sec` pass). Against a real backend, build the limiter with a low rate (say 5
/// per second, burst 10) so the time the calls themselves take refills nothing.
/// - a fresh key gets exactly `burst` requests at once, then `Limited` with
///   `0 < retry_after ≤ 1 / per_sec`, and one more request after `retry_after` has passed;
/// - refused requests consume nothing: after any number of them, `1 / per_sec` later
///   exactly one request is allowed again (and their `retry_after` never grows);
/// - keys have independent budgets.
pub async fn rate_limiter_suite(
    limiter: &dyn RateLimiter,
    per_sec: u32,
    burst: u32,
    time: &TimeTravel,
) {
    burst_is_allowed_then_limited(limiter, per_sec, burst, time).await;
    refused_requests_consume_nothing(limiter, per_sec, burst, time).await;
    keys_have_independent_budgets(limiter, burst).await;
}

/// The time one request costs.
fn interval(per_sec: u32) -> Duration {
    Duration::from_secs(1) / per_sec.max(1)
}

/// `d` rounded up to whole microseconds: the `Clock` port ticks in microseconds, so a
/// manual clock cannot advance by less, and a shorter advance would stop just short.
fn whole_micros(d: Duration) -> Duration {
    let us = d.as_nanos().div_ceil(1000);
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// The longest `retry_after` accepted: the interval, with room for a backend rounding
/// to milliseconds.
fn longest_retry(per_sec: u32) -> Duration {
    let t = interval(per_sec);
    t + t / 50 + Duration::from_millis(1)
}

async fn check(limiter: &dyn RateLimiter, key: &str) -> RateDecision {
    ok(limiter.check(key).await, "check")
}

/// Uses up the budget of `key`: `burst` requests must all be allowed.
async fn exhaust(limiter: &dyn RateLimiter, key: &str, burst: u32) {
    for i in 1..=burst {
        assert_eq!(
            check(limiter, key).await,
            RateDecision::Allowed,
            "request {i} of a burst of {burst} on a fresh key must be allowed"
        );
    }
}

/// The `retry_after` of a refusal, or a failure.
#[track_caller]
fn refused(decision: RateDecision, what: &str) -> Duration {
    match decision {
        RateDecision::Limited { retry_after } => retry_after,
        RateDecision::Allowed => panic!("{what} must be Limited, but it was allowed"),
    }
}

/// Exactly `burst` requests at once, then `Limited` with a positive `retry_after` of at
/// most one interval; after that time one request is allowed.
pub async fn burst_is_allowed_then_limited(
    limiter: &dyn RateLimiter,
    per_sec: u32,
    burst: u32,
    time: &TimeTravel,
) {
    let key = unique_name("rate-burst-");
    exhaust(limiter, &key, burst).await;
    let retry_after = refused(
        check(limiter, &key).await,
        &format!("request {} (one over the burst)", burst + 1),
    );
    assert!(
        retry_after > Duration::ZERO && retry_after <= longest_retry(per_sec),
        "retry_after right after a burst must be within (0, 1/per_sec = {:?}], got {retry_after:?}",
        interval(per_sec)
    );
    time.advance(whole_micros(retry_after)).await;
    assert_eq!(
        check(limiter, &key).await,
        RateDecision::Allowed,
        "a request after the given retry_after ({retry_after:?}) must be allowed"
    );
}

/// After refusals, `1 / per_sec` later exactly one request is allowed again, then the
/// next is refused: the refusals used no budget.
pub async fn refused_requests_consume_nothing(
    limiter: &dyn RateLimiter,
    per_sec: u32,
    burst: u32,
    time: &TimeTravel,
) {
    let key = unique_name("rate-refused-");
    exhaust(limiter, &key, burst).await;
    let mut last = refused(check(limiter, &key).await, "a request over the burst");
    for i in 0..5 {
        let retry_after = refused(check(limiter, &key).await, "a repeated request");
        assert!(
            retry_after <= last + Duration::from_millis(1),
            "refused request {i} must not push retry_after out: was {last:?}, now \
             {retry_after:?} (a refusal consumes nothing)"
        );
        last = retry_after;
    }
    time.advance(whole_micros(interval(per_sec))).await;
    assert_eq!(
        check(limiter, &key).await,
        RateDecision::Allowed,
        "1/per_sec after the burst one request must be allowed, refusals notwithstanding"
    );
    refused(
        check(limiter, &key).await,
        "the request after the one refilled",
    );
}

/// Using up one key's budget leaves another key's whole.
pub async fn keys_have_independent_budgets(limiter: &dyn RateLimiter, burst: u32) {
    let spent = unique_name("rate-spent-");
    let fresh = unique_name("rate-fresh-");
    exhaust(limiter, &spent, burst).await;
    refused(check(limiter, &spent).await, "a request over the burst");
    exhaust(limiter, &fresh, burst).await;
    refused(
        check(limiter, &fresh).await,
        "a request over the other key's burst",
    );
}

/// For limiters sharing a backend (run it with two instances built with the same budget
/// over one backend, not part of [`rate_limiter_suite`]): requests through either
/// instance draw on one budget per key.
pub async fn instances_share_one_budget(
    first: &dyn RateLimiter,
    second: &dyn RateLimiter,
    burst: u32,
) {
    let key = unique_name("rate-shared-");
    for i in 1..=burst {
        let via = if i % 2 == 0 { first } else { second };
        assert_eq!(
            check(via, &key).await,
            RateDecision::Allowed,
            "request {i} of a burst of {burst}, alternating instances, must be allowed"
        );
    }
    refused(
        check(first, &key).await,
        "a request over the burst spent through both instances (first instance)",
    );
    refused(
        check(second, &key).await,
        "a request over the burst spent through both instances (second instance)",
    );
}

//! Tests of the Redis adapters against a real Redis (`MESSENGER_TEST_REDIS_URL`; each test
//! prints "skipped: …" and passes when it is not set). Every test uses its own key prefix
//! and deletes its keys at the end.
//!
//! - `conformance`: the ports' conformance suites;
//! - `sharing`: two adapter instances on one Redis behave as one (budgets, sessions,
//!   pages, tasks), and the rate limit's accuracy;
//! - `outage`: Redis refused, hung or absent: quick `Unavailable`, fallbacks, recovery.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod conformance;
mod outage;
mod sharing;
mod support;
mod tls;

//! Black-box tests of the whole messenger service over HTTP, and the helpers they use.
//!
//! The service is started in process on port 0 ([`helpers::spawn_app`]) with a manual
//! clock and a fast password hasher, and driven only through its HTTP API with typed
//! request helpers, so the tests check the wire contract (`API.md`, `DECISIONS.md`) and
//! nothing else. Time-dependent rules (session expiry, throttling refill, failed-login
//! windows) are driven by advancing the clock, never by sleeping.
//!
//! Every test is written once as a function of a [`helpers::Backend`] and instantiated
//! once per backend combination by [`backend_tests!`]: in memory always, over PostgreSQL, Redis and
//! RabbitMQ when `MESSENGER_TEST_DATABASE_URL`, `MESSENGER_TEST_REDIS_URL` and
//! `MESSENGER_TEST_AMQP_URL` name them (otherwise that instantiation says it is skipped
//! and passes).
//!
//! Layout: the library holds the helpers (`helpers::backend`, `helpers::app`,
//! `helpers::reply`, `helpers::requests`) so other suites (benchmarks, fault tests) can
//! reuse them; the tests themselves are one integration-test binary, `tests/api/`, with a
//! module per area.

// A test-support crate: a failed expectation must abort the test with a message naming
// it, which is exactly what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod helpers;

//! The adapter against a real PostgreSQL (`MESSENGER_TEST_DATABASE_URL`, e.g.
//! `postgres://root@127.0.0.1:5432/test`); every test uses a schema of its own and drops
//! it. Without the variable each test says it is skipped and passes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod concurrency;
mod conformance;
mod events;
mod helpers;
mod migrations;
mod outage;
mod repos;
mod search;
mod tls;

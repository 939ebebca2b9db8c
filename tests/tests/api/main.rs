//! The black-box API suite: every route, status and error code of `API.md` and
//! `DECISIONS.md`, checked over HTTP against the service started in process.
//!
//! One module per area. Each test is written once and instantiated per backend by
//! `backend_tests!` (in memory always; over real services when their `MESSENGER_TEST_*`
//! variables are set), so a test's full name reads
//! `<area>::<what it checks>::<backend>`.

// Test code: a failed expectation must end the test with a message naming it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod auth;
mod backends;
mod bad_input;
mod before_paging;
mod before_paging_while_posting;
mod chat_list;
mod chat_summary;
mod chats;
mod conversation_rules;
mod error_order;
mod events;
mod health;
mod idempotency;
mod legacy;
mod login_limits;
mod members;
mod members_list;
mod messages;
mod paging;
mod queue_outage;
mod read_markers;
mod search;
mod sessions;
mod throttling;

/// What every test module uses.
mod prelude {
    pub use messenger_tests::backend_tests;
    pub use messenger_tests::helpers::*;
    pub use reqwest::Method;
    pub use serde_json::{json, Value};
    pub use std::time::Duration;
}

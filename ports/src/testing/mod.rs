//! Conformance suites: the contracts written in the ports' doc comments, as executable
//! checks (feature `testing`).
//!
//! Every adapter crate runs the suites of the ports it implements against itself, so two
//! adapters that pass are interchangeable. A suite is a `pub async fn …_suite(…)` that
//! runs all the checks of one area in turn; each check is also a `pub async fn`, for an
//! adapter that wants to run one alone. A check panics with a message naming the broken
//! rule, the expected and the actual value; a port error where none is allowed is a
//! failure too.
//!
//! The checks are written to run against a shared, real backend:
//! - every check creates its own data with unique ids and names ([`unique_u128`],
//!   [`unique_name`]) and never assumes an empty store; where a port reads across keys
//!   (search over all chats, purges by time) it only asserts about its own data;
//! - nothing waits on the wall clock except through [`TimeTravel`], which the adapter's
//!   test provides: a manual clock's `advance` for in-process adapters (instant), a real
//!   sleep for backends that keep time themselves (Redis TTLs). Checks that need time keep
//!   the durations short (well under 2 s per suite in real time).
//!
//! Three checks are for adapters whose instances share a backend and are not part of the
//! suites (they need two instances): [`session_cache::removal_is_seen_by_every_instance`],
//! [`rate_limiter::instances_share_one_budget`], [`task_store::instances_share_tasks`].
//!
//! Queues are the exception: a consumer cannot tell its messages from another's, so
//! [`task_queue_suite`] needs a queue of its own (a unique queue name).
//!
//! Layout: one file per area — `accounts`, `sessions`, `chats` (chats and members),
//! `conversations` and `read_state` (chat list, summaries, read markers, leaving, paging
//! backwards), `events` and `events_more` (the event log and bus), `messages`, `search`, `session_cache`, `page_cache`, `rate_limiter`, `attempts`,
//! `task_store`, `task_queue` — and `support` (unique ids, fixtures, assertion helpers).

pub mod accounts;
pub mod attempts;
pub mod chats;
pub mod conversations;
pub mod events;
mod events_more;
pub mod idempotency;
pub mod messages;
pub mod page_cache;
mod posters;
pub mod rate_limiter;
pub mod read_state;
pub mod search;
pub mod session_cache;
pub mod sessions;
mod support;
pub mod task_queue;
pub mod task_store;

pub use accounts::accounts_suite;
pub use attempts::attempts_suite;
pub use chats::chats_suite;
pub use conversations::conversations_suite;
pub use events::events_suite;
pub use messages::messages_suite;
pub use page_cache::page_cache_suite;
pub use rate_limiter::rate_limiter_suite;
pub use search::search_suite;
pub use session_cache::session_cache_suite;
pub use sessions::sessions_suite;
pub use support::{unique_name, unique_u128};
pub use task_queue::task_queue_suite;
pub use task_store::task_store_suite;

use futures_util::future::BoxFuture;
use std::time::Duration;

/// How a suite lets time pass: the adapter's test decides what "advancing" means.
///
/// In-process adapters read a manual clock, so advancing is instant and exact
/// ([`TimeTravel::instant`]); adapters whose backend keeps time itself (a Redis TTL) pass a
/// real sleep ([`TimeTravel::new`] with e.g. `tokio::time::sleep`). Checks only ever ask
/// for short durations, and only assert what holds in both cases (real time may run a
/// little further than asked, never less).
pub struct TimeTravel {
    advance: Box<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>,
}

impl TimeTravel {
    /// Time passes by awaiting `advance(d)` (e.g. a real sleep).
    pub fn new(
        advance: impl Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Self {
            advance: Box::new(advance),
        }
    }

    /// Time passes at once by calling `advance(d)` (e.g. a manual clock's `advance`).
    pub fn instant(advance: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Self::new(move |d| {
            advance(d);
            Box::pin(futures_util::future::ready(()))
        })
    }

    /// Lets `d` pass (at least `d`, for a real sleep).
    pub async fn advance(&self, d: Duration) {
        (self.advance)(d).await;
    }
}

impl std::fmt::Debug for TimeTravel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimeTravel")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn instant_time_travel_advances_at_once() {
        let total = Arc::new(Mutex::new(Duration::ZERO));
        let sink = Arc::clone(&total);
        let time = TimeTravel::instant(move |d| *sink.lock().unwrap() += d);
        futures_util::FutureExt::now_or_never(time.advance(Duration::from_millis(250)))
            .expect("an instant advance is ready at once");
        futures_util::FutureExt::now_or_never(time.advance(Duration::from_millis(50))).unwrap();
        assert_eq!(*total.lock().unwrap(), Duration::from_millis(300));
    }
}

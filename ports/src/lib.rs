//! The edge of the core: the ports (traits) the messenger needs from the outside world,
//! and the use cases written only against them.
//!
//! Why it is shaped so: adapters are chosen at run time from the configuration (memory,
//! PostgreSQL, Redis, RabbitMQ), so every port is an object-safe `#[async_trait]` trait held
//! as `Arc<dyn Port>`. Each method's doc states the contract every adapter keeps; the
//! conformance suites in [`testing`] (feature `testing`) check it, and every adapter crate
//! runs them against itself. Port errors are backend-neutral ([`PortError`]): a driver's
//! error type never crosses this edge.
//!
//! Layout: `budget` (the time one request may spend on its stores), `error` (port and use-case errors), `repos` (durable data), `events` (the
//! event log and the wake-up bus), `conversations`
//! (what the repositories answer for chat lists, members and read markers), `caches` (fast,
//! lossy), `limits` (rate limiter, failure counters), `tasks` (search-task queue and store),
//! `system` (hasher, clock, ids), `use_cases` (the use cases, and what wraps what around
//! a page read), `worker` (the task loop).
//!
//! No tokio here: the crate compiles with `async-trait`, `thiserror`, `tracing` and
//! `futures-util` only.

pub mod budget;
pub mod caches;
pub mod conversations;
pub mod error;
pub mod events;
pub mod limits;
pub mod repos;
pub mod system;
pub mod tasks;
pub mod use_cases;
pub mod worker;

#[cfg(feature = "testing")]
pub mod testing;

pub use budget::{Budget, StoreCall};
pub use caches::{PageCache, PageKey, SessionCache};
pub use conversations::{ChatListPage, ChatViewer, MemberEntry, MembersPage, ReadUpdate};
pub use error::{AppError, PortError, PortResult};
pub use events::{EventBus, EventLog, EventsAfter, Wakeups};
pub use limits::{AttemptCounter, FailureWindow, RateDecision, RateLimiter};
pub use repos::{
    Accounts, AppendOutcome, ChatAccess, Chats, IdempotencyRecord, Members, MessagePage,
    MessageSearch, Messages, NewMessage, SearchScope, Sessions,
};
pub use system::{Clock, IdGenerator, PasswordHasher};
pub use tasks::{Delivery, HitsSlice, TaskConsumer, TaskQueue, TaskStore};
pub use use_cases::{
    ChatList, ChatPage, EventCursor, EventFeed, EventHub, EventsPage, HitsPage, HubEvent,
    ListedMember, ListedSession, LiveFeed, LivePage, LoginLimits, MemberList, Messenger,
    PageAnchor, Ports, ReadMarker, RunOutcome, Settings, ANONYMOUS_ACCOUNT, EVENTS_RECHECK,
    INBOX_CAPACITY, MAX_LISTED_SESSIONS,
};
pub use worker::{
    parse_payload, process_dead_letter, process_delivery, run_dead_letter_worker, run_worker,
    DeadLetterOutcome, TaskOutcome,
};

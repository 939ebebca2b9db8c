//! The use cases: plain async methods on [`Messenger`], which holds the ports. They own
//! the rules that span ports (who may read a chat, who may post as whom, the page cache,
//! the search-task lifecycle), so the binaries stay thin.
//!
//! They take and return typed values only: the HTTP layer parses ids, cursors and queries
//! at its edge (a malformed cursor or member id travels as a typed "malformed" value, so
//! that its error still answers after the chat check, in the contract's order) and encodes
//! the cursors it gets back.
//!
//! # What wraps what around a page read
//!
//! `GET /v1/chats/{chat_id}/messages`, outside in:
//!
//! 1. **The HTTP layer** (`messenger-api`): parses the chat id, limit and cursor, then
//!    calls [`Messenger::read_messages`]. After the use case answered (so always after its
//!    access check), a full page's JSON may come from the *rendered-page cache*, an
//!    in-process moka cache of written bytes keyed by the page's first message and size.
//! 2. **This use case**: checks the caller's access to the chat and the cursor's scope,
//!    then asks the [`PageCache`](crate::PageCache) port (when configured) for the page.
//!    The composition root wraps that port in a metrics decorator (hits and misses).
//! 3. **The page cache adapter**: with `CACHE_TYPE=memory`, one moka cache of pages; with
//!    `CACHE_TYPE=redis`, an in-process moka layer in front of Redis (a full page never
//!    changes, so no layer can serve a stale one).
//! 4. **The store** ([`Messages::page_after`](crate::Messages::page_after)) on a miss or
//!    a cache failure; a full page read from it is put back into the page cache.

mod account_safety;
mod auth;
mod chats;
mod conversations;
mod event_hub;
mod events;
mod members;
mod messages;
mod pages;
mod read;
mod search;

pub use account_safety::{ListedSession, MAX_LISTED_SESSIONS};
pub use conversations::ChatList;
pub use event_hub::{EventHub, HubEvent, LiveFeed, LivePage, INBOX_CAPACITY};
pub use events::{EventCursor, EventFeed, EventsPage, EVENTS_RECHECK};
pub use members::{ListedMember, MemberList};
pub use pages::{ChatPage, PageAnchor};
pub use read::ReadMarker;
pub use search::{HitsPage, RunOutcome};

use crate::AppError;
use crate::{
    Accounts, AttemptCounter, Chats, Clock, EventBus, EventLog, IdGenerator, Members,
    MessageSearch, Messages, PageCache, PasswordHasher, RateLimiter, SessionCache, Sessions,
    TaskQueue, TaskStore,
};
use messenger_domain::{AccountId, ChatId};
use std::{sync::Arc, time::Duration};

/// The account every call acts for in legacy mode (auth off).
pub const ANONYMOUS_ACCOUNT: AccountId = AccountId::from_u128(0);

/// Failed-login limits: per (account, client address) and per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per (account, address) within `per_client_window`.
    pub per_client: u64,
    /// The window of `per_client`.
    pub per_client_window: Duration,
    /// Failures allowed per account within `per_account_window`.
    pub per_account: u64,
    /// The window of `per_account`.
    pub per_account_window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_client: 10,
            per_client_window: Duration::from_secs(15 * 60),
            per_account: 100,
            per_account_window: Duration::from_secs(60 * 60),
        }
    }
}

/// The rules' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Legacy mode (auth off): one anonymous account, every chat readable by all, each join
    /// a new member.
    pub legacy_mode: bool,
    /// Session lifetime from login.
    pub session_ttl: Duration,
    /// How long a session stays in the session cache at most.
    pub session_cache_ttl: Duration,
    /// How long expired session records are kept before purging.
    pub session_retention: Duration,
    /// How long idempotency keys are kept.
    pub idempotency_ttl: Duration,
    /// Search on; off answers 503 to new searches and 404 to task reads.
    pub search_enabled: bool,
    /// Most hits kept per task.
    pub search_hit_cap: u32,
    /// How long a task and its results are kept after its last status change.
    pub task_ttl: Duration,
    /// How often a failing task is tried before it ends `FAILED`.
    pub task_max_attempts: u32,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
    /// How long events stay replayable.
    pub events_retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            legacy_mode: false,
            session_ttl: Duration::from_secs(3600),
            session_cache_ttl: Duration::from_secs(300),
            session_retention: Duration::from_secs(7 * 24 * 3600),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            search_enabled: true,
            search_hit_cap: 1000,
            task_ttl: Duration::from_secs(3600),
            task_max_attempts: 3,
            login_limits: LoginLimits::default(),
            events_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Every port the use cases need, as chosen by the composition root.
#[derive(Clone)]
pub struct Ports {
    /// Accounts.
    pub accounts: Arc<dyn Accounts>,
    /// Durable sessions.
    pub sessions: Arc<dyn Sessions>,
    /// Chats.
    pub chats: Arc<dyn Chats>,
    /// Members.
    pub members: Arc<dyn Members>,
    /// Messages.
    pub messages: Arc<dyn Messages>,
    /// The event log.
    pub events: Arc<dyn EventLog>,
    /// Wake-ups of event readers.
    pub bus: Arc<dyn EventBus>,
    /// Message search (used by `run_search_task`).
    pub search: Arc<dyn MessageSearch>,
    /// Session cache.
    pub session_cache: Arc<dyn SessionCache>,
    /// Page cache; `None` when switched off.
    pub page_cache: Option<Arc<dyn PageCache>>,
    /// Failed-login counters.
    pub login_attempts: Arc<dyn AttemptCounter>,
    /// Registrations per client address.
    pub register_limiter: Arc<dyn RateLimiter>,
    /// Search-task queue.
    pub task_queue: Arc<dyn TaskQueue>,
    /// Search-task store.
    pub task_store: Arc<dyn TaskStore>,
    /// Password hasher.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// The messenger's use cases.
#[derive(Clone)]
pub struct Messenger {
    ports: Ports,
    settings: Settings,
    /// The instance's event hub, shared by every clone.
    hub: Arc<EventHub>,
}

impl Messenger {
    /// The use cases over these ports.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings,
            hub: Arc::new(EventHub::default()),
        }
    }

    /// The instance's event hub.
    pub fn event_hub(&self) -> &EventHub {
        &self.hub
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Now, by the service's clock (the one every rule reads).
    pub fn now(&self) -> messenger_domain::Timestamp {
        self.ports.clock.now()
    }

    /// The ports, for tests that arrange a state no use case makes (the binaries go
    /// through the use cases only).
    #[cfg(any(test, feature = "testing"))]
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Whether the durable store answers: a trivial read of a chat that never exists (id 0
    /// is never generated), under the caller's deadline.
    ///
    /// # Errors
    /// Unavailable when the store does not answer.
    pub async fn check_store(&self) -> Result<(), AppError> {
        self.ports.chats.chat(ChatId::from_u128(0)).await?;
        Ok(())
    }
}

//! The event hub: one reader of the log per instance that hands each new event to the
//! live streams that may want it, instead of every stream reading the log on every change.
//!
//! Without it, each committed change woke every open stream of the instance, and each one
//! read the log, filtered and encoded the same events on its own: a post into a chat that
//! nobody on the instance follows cost one wake-up per stream, and a post into a followed
//! chat was encoded once per stream.
//!
//! # How a stream follows the log ([`LiveFeed`])
//!
//! A stream starts in **replay**: it reads the log itself from its position (as
//! [`super::EventFeed`] does), with its [`EventCursor`] keeping its set of readable chats
//! exact. Before its first read it registers with the hub (its account and its chats, the
//! *route*), and notes the hub's position at that moment: from then on the hub queues for
//! it every new event of its chats and of its account. Once its own reads have reached the
//! position noted at its last route change, it goes **live**: it takes events from its
//! queue only, skipping any it already read (positions are one global order, so "already
//! read" is "at or below its position"). The hub's read and a stream's reads are of the
//! same gap-free log, so the seam neither loses nor repeats an event.
//!
//! The route is a superset of what the stream may see; the cursor still filters every
//! event exactly. The hub widens routes itself when it hands out an account's
//! `chat.created` or `member.joined`, before any later event of that chat; a stream in
//! replay that learns of a chat the hub has not routed to it (a join the hub handed out
//! before the registration) widens its route and notes the hub's position again, so it
//! replays up to there.
//!
//! **Lagging.** A queue holds at most [`INBOX_CAPACITY`] events. A stream that falls that
//! far behind (or every stream, when the hub stops or the log was purged under it) is
//! marked lagged: its queue is dropped and it goes back to replay from its own position,
//! where the log has everything. Nothing is lost; it only costs reads. A read of the log
//! that fails is retried by the hub; the streams wait meanwhile.
//!
//! **Encoding once.** Each event is handed out as one shared [`HubEvent`]; the HTTP layer
//! encodes it once ([`HubEvent::encoded`]) and every stream writes the same bytes.
//!
//! The hub runs while [`Messenger::run_event_hub`] is being polled (the API binary spawns
//! it). Without it, streams stay in replay, woken by the event bus, as long polls are.

use super::events::{EventCursor, EventsPage};
use super::Messenger;
use crate::{AppError, EventsAfter, Wakeups};
use messenger_domain::{AccountId, Caller, ChatId, EventPosition, LoggedEvent, UncheckedCursor};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Events a stream's queue holds before the stream is marked lagged.
pub const INBOX_CAPACITY: usize = 4_096;

/// Events the hub reads from the log at a time.
const HUB_BATCH: u32 = 1_000;

/// After a wake-up, the first re-read of the log comes this soon; each one that finds
/// nothing doubles the wait, up to [`HUB_SOON_MAX`].
const HUB_SOON: Duration = Duration::from_millis(5);

/// The longest wait between the re-reads that follow a wake-up.
const HUB_SOON_MAX: Duration = Duration::from_millis(160);

/// How long the hub waits before reading the log again after it failed.
const HUB_RETRY: Duration = Duration::from_millis(500);

/// One event as the hub hands it out: shared by every stream it goes to.
#[derive(Debug)]
pub struct HubEvent {
    /// The event.
    pub logged: LoggedEvent,
    encoded: OnceLock<Arc<str>>,
}

impl HubEvent {
    fn new(logged: LoggedEvent) -> Arc<Self> {
        Arc::new(Self {
            logged,
            encoded: OnceLock::new(),
        })
    }

    /// The event encoded by `encode`, which runs once per event however many streams ask.
    pub fn encoded(&self, encode: impl FnOnce(&LoggedEvent) -> String) -> Arc<str> {
        Arc::clone(self.encoded.get_or_init(|| Arc::from(encode(&self.logged))))
    }
}

/// A stream's queue, filled by the hub.
#[derive(Debug, Default)]
struct Inbox {
    queue: Mutex<VecDeque<Arc<HubEvent>>>,
    /// Events were dropped (a full queue, or the hub could not read the log): the stream
    /// replays from its own position.
    lagged: AtomicBool,
    ready: Notify,
}

impl Inbox {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Arc<HubEvent>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, event: &Arc<HubEvent>) {
        let mut queue = self.queue();
        if self.lagged.load(Ordering::Acquire) {
            return;
        }
        if queue.len() >= INBOX_CAPACITY {
            queue.clear();
            self.lagged.store(true, Ordering::Release);
        } else {
            queue.push_back(Arc::clone(event));
        }
        drop(queue);
        self.ready.notify_one();
    }

    fn lag(&self) {
        self.queue().clear();
        self.lagged.store(true, Ordering::Release);
        self.ready.notify_one();
    }
}

/// A registered stream.
#[derive(Debug)]
struct Route {
    account: AccountId,
    every_chat: bool,
    chats: HashSet<ChatId>,
    inbox: Arc<Inbox>,
}

#[derive(Debug, Default)]
struct HubState {
    /// Whether a hub task is reading the log.
    running: bool,
    /// Every event at or below it has been handed out.
    position: EventPosition,
    next_id: u64,
    routes: HashMap<u64, Route>,
    by_chat: HashMap<ChatId, HashSet<u64>>,
    by_account: HashMap<AccountId, HashSet<u64>>,
    every_chat: HashSet<u64>,
}

impl HubState {
    fn add_chat(&mut self, id: u64, chat: ChatId) {
        if let Some(route) = self.routes.get_mut(&id) {
            if !route.every_chat && route.chats.insert(chat) {
                self.by_chat.entry(chat).or_default().insert(id);
            }
        }
    }

    fn remove_chat(&mut self, id: u64, chat: ChatId) {
        if let Some(route) = self.routes.get_mut(&id) {
            route.chats.remove(&chat);
        }
        if let Some(ids) = self.by_chat.get_mut(&chat) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_chat.remove(&chat);
            }
        }
    }

    fn unregister(&mut self, id: u64) {
        let Some(route) = self.routes.remove(&id) else {
            return;
        };
        for chat in route.chats {
            if let Some(ids) = self.by_chat.get_mut(&chat) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_chat.remove(&chat);
                }
            }
        }
        if let Some(ids) = self.by_account.get_mut(&route.account) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_account.remove(&route.account);
            }
        }
        self.every_chat.remove(&id);
    }

    /// The registered streams of `account`.
    fn streams_of(&self, account: AccountId) -> Vec<u64> {
        self.by_account
            .get(&account)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    /// Hands `event` to the streams that may want it, widening or narrowing routes by its
    /// membership change.
    fn dispatch(&mut self, event: &Arc<HubEvent>) {
        let e = &event.logged.event;
        let mut targets: HashSet<u64> = HashSet::new();
        if let Some(owner) = e.private_to() {
            targets.extend(self.by_account.get(&owner).into_iter().flatten());
        } else {
            let chat = e.chat_id();
            let change = e.membership();
            if let Some(change) = change.filter(|c| c.reads_after) {
                for id in self.streams_of(change.account) {
                    self.add_chat(id, chat);
                }
            }
            targets.extend(
                self.by_chat
                    .get(&chat)
                    .into_iter()
                    .flatten()
                    .chain(self.every_chat.iter()),
            );
            if let Some(change) = change {
                // The account's own streams learn of its join or removal even when the
                // chat was not in their route.
                targets.extend(self.by_account.get(&change.account).into_iter().flatten());
            }
            if let Some(change) = change.filter(|c| !c.reads_after) {
                for id in self.streams_of(change.account) {
                    self.remove_chat(id, chat);
                }
            }
        }
        for id in targets {
            if let Some(route) = self.routes.get(&id) {
                route.inbox.push(event);
            }
        }
        self.position = self.position.max(event.logged.position);
    }

    fn lag_everyone(&self) {
        for route in self.routes.values() {
            route.inbox.lag();
        }
    }
}

/// The instance's hub (see the module doc); shared by every clone of a [`Messenger`].
#[derive(Debug, Default)]
pub struct EventHub {
    state: Mutex<HubState>,
}

impl EventHub {
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Streams registered now.
    pub fn streams(&self) -> usize {
        self.state().routes.len()
    }

    /// Whether a hub task is reading the log ([`Messenger::run_event_hub`]).
    pub fn is_running(&self) -> bool {
        self.state().running
    }
}

/// Marks the hub stopped (and every stream lagged) when the hub task ends, however it
/// ends.
struct Running<'a>(&'a EventHub);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.running = false;
        state.lag_everyone();
    }
}

impl Messenger {
    /// Runs this instance's event hub: reads the log after its head as events are
    /// announced (and at least every [`super::EVENTS_RECHECK`]) and hands them to the live
    /// streams. Runs until dropped; a failed read is retried. Run one per process.
    pub async fn run_event_hub(&self) {
        let hub = Arc::clone(&self.hub);
        let mut wakeups = self.ports.bus.subscribe();
        let mut position = loop {
            match self.ports.events.head().await {
                Ok(head) => break head,
                Err(e) => {
                    tracing::warn!(error = %e, "event hub: the log's head cannot be read; retrying");
                    wakeups.wait(HUB_RETRY).await;
                }
            }
        };
        {
            let mut state = hub.state();
            state.running = true;
            state.position = position;
        }
        let _running = Running(&hub);
        // After a wake-up, the log is read again soon even when the read found nothing: a
        // store whose readers see a commit only once every earlier transaction has ended
        // (PostgreSQL's horizon) may show the announced event a little later, and a
        // transaction that holds it back may announce nothing itself.
        let mut soon: Option<Duration> = None;
        loop {
            match self.ports.events.events_after(position, HUB_BATCH).await {
                Ok(EventsAfter::Events { events, next }) => {
                    let full = events.len() as u32 >= HUB_BATCH;
                    if events.is_empty() {
                        soon = soon.map(|d| d * 2).filter(|d| *d <= HUB_SOON_MAX);
                    }
                    let shared: Vec<Arc<HubEvent>> =
                        events.into_iter().map(HubEvent::new).collect();
                    let mut state = hub.state();
                    for event in &shared {
                        state.dispatch(event);
                    }
                    state.position = state.position.max(next);
                    position = state.position;
                    drop(state);
                    if full {
                        continue;
                    }
                }
                Ok(EventsAfter::Expired { head }) => {
                    let mut state = hub.state();
                    state.lag_everyone();
                    state.position = state.position.max(head);
                    position = state.position;
                }
                Err(e) => {
                    // The streams keep waiting: the hub reads again from where it was, so a
                    // failed read only delays their events. (Sending them all back to read
                    // the log themselves would put one query per stream on a store that is
                    // already failing.)
                    tracing::warn!(error = %e, "event hub: the log cannot be read; retrying");
                    wakeups.wait(HUB_RETRY).await;
                    continue;
                }
            }
            if wakeups.wait(soon.unwrap_or(super::EVENTS_RECHECK)).await {
                soon = Some(HUB_SOON);
            }
        }
    }

    /// Follows the log live for `caller` from `after` (absent: now), through the hub when
    /// it runs (see the module doc).
    ///
    /// # Errors
    /// `bad-cursor`, unavailable.
    pub async fn follow_live(
        &self,
        caller: &Caller,
        after: Option<UncheckedCursor>,
    ) -> Result<LiveFeed, AppError> {
        let wakeups = self.ports.bus.subscribe();
        let cursor = self.event_cursor(caller, after).await?;
        Ok(LiveFeed {
            messenger: self.clone(),
            cursor,
            wakeups,
            inbox: Arc::new(Inbox::default()),
            id: None,
            replay_to: None,
        })
    }
}

/// A stream's view of the log: replay from its position, then live from the hub (see the
/// module doc). Dropping it unregisters it.
pub struct LiveFeed {
    messenger: Messenger,
    cursor: EventCursor,
    wakeups: Box<dyn Wakeups>,
    inbox: Arc<Inbox>,
    /// The registration, while the hub runs.
    id: Option<u64>,
    /// Replaying until the cursor reaches this position; `None` when live.
    replay_to: Option<EventPosition>,
}

/// What [`LiveFeed::next`] gives.
#[derive(Debug)]
pub struct LivePage {
    /// The requested position could not be replayed: the client reloads its state.
    pub reset: bool,
    /// The events, in log order.
    pub events: Vec<Arc<HubEvent>>,
    /// Where the feed is now.
    pub next: EventPosition,
}

impl LiveFeed {
    /// Where the feed is.
    pub fn position(&self) -> EventPosition {
        self.cursor.position()
    }

    /// Events the hub queued for this feed that it has not taken yet.
    pub fn queued(&self) -> usize {
        self.inbox.queue().len()
    }

    /// Whether the feed takes its events from the hub now.
    pub fn is_live(&self) -> bool {
        self.id.is_some() && self.replay_to.is_none()
    }

    /// Registers with the hub (or refreshes the route after the cursor's chats changed)
    /// and notes the hub's position; `false` when no hub runs.
    fn route(&mut self) -> bool {
        let hub = Arc::clone(&self.messenger.hub);
        let mut state = hub.state();
        if !state.running {
            if let Some(id) = self.id.take() {
                state.unregister(id);
            }
            return false;
        }
        let id = match self.id {
            Some(id) => id,
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.routes.insert(
                    id,
                    Route {
                        account: self.cursor.account(),
                        every_chat: self.cursor.every_chat(),
                        chats: HashSet::new(),
                        inbox: Arc::clone(&self.inbox),
                    },
                );
                state
                    .by_account
                    .entry(self.cursor.account())
                    .or_default()
                    .insert(id);
                if self.cursor.every_chat() {
                    state.every_chat.insert(id);
                }
                self.id = Some(id);
                id
            }
        };
        for chat in self.cursor.chats() {
            state.add_chat(id, *chat);
        }
        self.inbox.lagged.store(false, Ordering::Release);
        self.replay_to = Some(state.position);
        true
    }

    /// Whether the hub routes every chat the cursor may read to this feed.
    fn routed(&self) -> bool {
        let Some(id) = self.id else { return false };
        let state = self.messenger.hub.state();
        match state.routes.get(&id) {
            Some(route) => {
                route.every_chat || self.cursor.chats().iter().all(|c| route.chats.contains(c))
            }
            None => false,
        }
    }

    /// The next events (up to `limit`), waiting until there are some; a reset at once.
    /// Without a hub, returns an empty page after at most `max_wait` (a stream re-checks
    /// its session then). Cancel-safe: dropping the future loses no event.
    ///
    /// # Errors
    /// Unavailable (a replay's read of the log failed).
    pub async fn next(&mut self, limit: u32, max_wait: Duration) -> Result<LivePage, AppError> {
        loop {
            if self.is_live() {
                if self.inbox.lagged.load(Ordering::Acquire) {
                    // Back to replay from the cursor, routed anew from the hub's position.
                    if !self.route() {
                        self.replay_to = None;
                    }
                    continue;
                }
                let taken: Vec<Arc<HubEvent>> = {
                    let mut queue = self.inbox.queue();
                    let n = queue.len().min(limit as usize);
                    queue.drain(..n).collect()
                };
                if taken.is_empty() {
                    self.inbox.ready.notified().await;
                    continue;
                }
                let mut events = Vec::with_capacity(taken.len());
                for event in taken {
                    if self.cursor.take(&event.logged) {
                        events.push(event);
                    }
                }
                if !events.is_empty() {
                    return Ok(self.page(false, events));
                }
                continue;
            }
            // Replay: (re-)register first, so the hub queues what comes after its position.
            let hub = self.id.is_some() || self.route();
            let from = self.cursor.position();
            let page = self.messenger.read_events(&mut self.cursor, limit).await?;
            if hub && (page.reset || !self.routed()) && !self.route() {
                self.replay_to = None;
            }
            // Caught up with the hub's position at the last route change: every later event
            // is (or will be) in the queue, and what it holds at or below the position is
            // skipped. Live from here.
            let caught_up = hub
                && self.id.is_some()
                && matches!(self.replay_to, Some(to) if self.cursor.position() >= to);
            if caught_up {
                self.replay_to = None;
            }
            if page.reset || !page.events.is_empty() {
                return Ok(self.page_of(page));
            }
            if caught_up || self.cursor.position() > from {
                // Live now, or the read passed only events this feed may not see: read on.
                continue;
            }
            if hub && self.id.is_some() {
                // The hub is ahead of what this read saw: the log has more (the next read,
                // on the next wake-up, finds it).
                self.wakeups.wait(max_wait.min(super::EVENTS_RECHECK)).await;
            } else if !self.wakeups.wait(max_wait).await {
                // No hub: as a long poll, woken by the bus.
                return Ok(self.page(false, Vec::new()));
            }
        }
    }

    fn page(&self, reset: bool, events: Vec<Arc<HubEvent>>) -> LivePage {
        LivePage {
            reset,
            events,
            next: self.cursor.position(),
        }
    }

    fn page_of(&self, page: EventsPage) -> LivePage {
        LivePage {
            reset: page.reset,
            events: page.events.into_iter().map(HubEvent::new).collect(),
            next: page.next,
        }
    }
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.messenger.hub.state().unregister(id);
        }
    }
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("cursor", &self.cursor)
            .field("id", &self.id)
            .field("replay_to", &self.replay_to)
            .finish_non_exhaustive()
    }
}

//! Live updates: the events a caller may see, read from the event log after a position,
//! and following the log live (woken by the event bus, with a periodic re-check).
//!
//! Who sees what: an event of a chat goes to every account that can read the chat at the
//! moment of the event (created it or has a current identity in it; in legacy mode every
//! chat); `read.updated` only to its own account. A reader keeps its set of readable chats
//! from the log itself: one store read when it starts (the set at its starting position),
//! then its own `chat.created`, `member.joined` and `member.left` keep it current, so
//! filtering costs nothing per event. An account sees its own join and its own removal
//! (that is how it learns of them); after removal, that chat's events stop.

use super::Messenger;
use crate::{AppError, EventsAfter, Wakeups};
use messenger_domain::{AccountId, Caller, ChatId, EventPosition, LoggedEvent, UncheckedCursor};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often a follower re-reads the log without a wake-up (a lost wake-up delays an event
/// at most this long).
pub const EVENTS_RECHECK: Duration = Duration::from_secs(1);

/// Most log pages one read scans for events the caller may see before answering (with
/// fewer events, or none, and a `next` further on).
const SCAN_PAGES: usize = 8;

/// A page of events for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    /// The requested position could not be replayed (older than the retention): `events`
    /// is empty and `next` is the log's head; the client reloads its state.
    pub reset: bool,
    /// The events the caller may see, in log order.
    pub events: Vec<LoggedEvent>,
    /// Where the caller continues (`after` of its next read; also when `events` is empty).
    pub next: EventPosition,
}

/// One reader's place in the log and the chats it may read there.
#[derive(Debug, Clone)]
pub struct EventCursor {
    account: AccountId,
    every_chat: bool,
    position: EventPosition,
    chats: HashSet<ChatId>,
    /// The starting position was too old: the first read answers a reset.
    reset_pending: bool,
}

impl EventCursor {
    /// Where the reader is.
    pub fn position(&self) -> EventPosition {
        self.position
    }

    /// The reader's account.
    pub(super) fn account(&self) -> AccountId {
        self.account
    }

    /// Whether the reader sees every chat (legacy mode).
    pub(super) fn every_chat(&self) -> bool {
        self.every_chat
    }

    /// The chats the reader may read at its position.
    pub(super) fn chats(&self) -> &HashSet<ChatId> {
        &self.chats
    }

    /// Takes `e`, an event handed out after the reader's position by someone else's read
    /// of the log: `false` when the reader already passed it or may not see it. Moves the
    /// reader to it.
    pub(super) fn take(&mut self, e: &LoggedEvent) -> bool {
        if e.position <= self.position {
            return false;
        }
        self.position = e.position;
        self.admits(e)
    }

    /// Whether the reader may see `e`, keeping its set of chats current.
    fn admits(&mut self, e: &LoggedEvent) -> bool {
        let event = &e.event;
        if let Some(owner) = event.private_to() {
            return owner == self.account;
        }
        if self.every_chat {
            return true;
        }
        let chat = event.chat_id();
        match event.membership() {
            Some(change) if change.account == self.account => {
                if change.reads_after {
                    self.chats.insert(chat);
                } else {
                    self.chats.remove(&chat);
                }
                change.reads_before || change.reads_after
            }
            _ => self.chats.contains(&chat),
        }
    }
}

impl Messenger {
    /// A reader for `caller` after `after` (absent: the log's head, "live from now"; the
    /// HTTP layer maps an empty value to absent). A position too old to replay gives a
    /// reader whose first read answers a reset, then goes on from the head.
    ///
    /// # Errors
    /// `bad-cursor` (malformed, or not an event position), unavailable.
    pub async fn event_cursor(
        &self,
        caller: &Caller,
        after: Option<UncheckedCursor>,
    ) -> Result<EventCursor, AppError> {
        let after = after.map(EventPosition::check).transpose()?;
        let position = match after {
            Some(p) => p,
            None => self.ports.events.head().await?,
        };
        let every_chat = self.settings.legacy_mode;
        let mut cursor = EventCursor {
            account: caller.account_id,
            every_chat,
            position,
            chats: HashSet::new(),
            reset_pending: false,
        };
        if every_chat {
            return Ok(cursor);
        }
        match self
            .ports
            .events
            .readable_chats_at(caller.account_id, position)
            .await?
        {
            Some(chats) => cursor.chats = chats,
            None => {
                let head = self.ports.events.head().await?;
                cursor.position = head;
                cursor.reset_pending = true;
                cursor.chats = self
                    .ports
                    .events
                    .readable_chats_at(caller.account_id, head)
                    .await?
                    .unwrap_or_default();
            }
        }
        Ok(cursor)
    }

    /// Up to `limit` events the reader may see after its position, at once (possibly
    /// none), and moves the reader on.
    ///
    /// # Errors
    /// Unavailable.
    pub async fn read_events(
        &self,
        cursor: &mut EventCursor,
        limit: u32,
    ) -> Result<EventsPage, AppError> {
        if cursor.reset_pending {
            cursor.reset_pending = false;
            return Ok(EventsPage {
                reset: true,
                events: Vec::new(),
                next: cursor.position,
            });
        }
        let mut events = Vec::new();
        for _ in 0..SCAN_PAGES {
            let want = limit.saturating_sub(events.len() as u32);
            match self
                .ports
                .events
                .events_after(cursor.position, want)
                .await?
            {
                EventsAfter::Expired { head } => {
                    // Purged under the reader's feet: it restarts from the head.
                    let fresh = self.fresh_cursor(cursor, head).await?;
                    *cursor = fresh;
                    return Ok(EventsPage {
                        reset: true,
                        events: Vec::new(),
                        next: head,
                    });
                }
                EventsAfter::Events { events: page, next } => {
                    let full = page.len() as u32 >= want;
                    for e in page {
                        if cursor.admits(&e) {
                            events.push(e);
                        }
                    }
                    cursor.position = cursor.position.max(next);
                    if !full || events.len() as u32 >= limit {
                        break;
                    }
                }
            }
        }
        Ok(EventsPage {
            reset: false,
            events,
            next: cursor.position,
        })
    }

    /// A reader of the same account at `head`.
    async fn fresh_cursor(
        &self,
        old: &EventCursor,
        head: EventPosition,
    ) -> Result<EventCursor, AppError> {
        let chats = if old.every_chat {
            HashSet::new()
        } else {
            self.ports
                .events
                .readable_chats_at(old.account, head)
                .await?
                .unwrap_or_default()
        };
        Ok(EventCursor {
            account: old.account,
            every_chat: old.every_chat,
            position: head,
            chats,
            reset_pending: false,
        })
    }

    /// Follows the log live for `caller` from `after` (see [`Self::event_cursor`]): the
    /// feed subscribes to the event bus before its first read, so no wake-up between a
    /// read and the next wait is lost.
    ///
    /// # Errors
    /// `bad-cursor`, unavailable.
    pub async fn follow_events(
        &self,
        caller: &Caller,
        after: Option<UncheckedCursor>,
    ) -> Result<EventFeed, AppError> {
        let wakeups = self.ports.bus.subscribe();
        let cursor = self.event_cursor(caller, after).await?;
        Ok(EventFeed {
            messenger: self.clone(),
            cursor,
            wakeups,
        })
    }

    /// Deletes events older than the retention (`Settings::events_retention`); positions
    /// before them answer a reset from then on. Run periodically by the maintenance job.
    ///
    /// # Errors
    /// As the store's.
    pub async fn purge_old_events(&self) -> Result<u64, AppError> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .events
            .purge_events(now.minus(self.settings.events_retention))
            .await?)
    }

    /// One long poll: up to `limit` events after `after`, at once when there are some,
    /// else the first ones within `timeout` (an empty page with `next` when none came).
    ///
    /// # Errors
    /// `bad-cursor`, unavailable.
    pub async fn poll_events(
        &self,
        caller: &Caller,
        after: Option<UncheckedCursor>,
        limit: u32,
        timeout: Duration,
    ) -> Result<EventsPage, AppError> {
        let mut feed = self.follow_events(caller, after).await?;
        feed.next(limit, timeout).await
    }
}

/// A caller's live view of the log: a reader plus its wake-ups.
pub struct EventFeed {
    messenger: Messenger,
    cursor: EventCursor,
    wakeups: Box<dyn Wakeups>,
}

impl EventFeed {
    /// Where the feed is.
    pub fn position(&self) -> EventPosition {
        self.cursor.position()
    }

    /// The next events (up to `limit`): at once when there are some (or a reset), else
    /// as soon as some arrive within `max_wait`; an empty page when none did. Re-reads the
    /// log on every wake-up and at least every [`EVENTS_RECHECK`].
    ///
    /// # Errors
    /// Unavailable.
    pub async fn next(&mut self, limit: u32, max_wait: Duration) -> Result<EventsPage, AppError> {
        let deadline = Instant::now() + max_wait;
        loop {
            let page = self.messenger.read_events(&mut self.cursor, limit).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if page.reset || !page.events.is_empty() || left.is_zero() {
                return Ok(page);
            }
            self.wakeups.wait(left.min(EVENTS_RECHECK)).await;
        }
    }
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

//! The event log (durable, ordered) and the event bus (lossy wake-ups).
//!
//! The repositories record each change's event in the change's own transaction (see
//! [`crate::Chats`], [`crate::Members`], [`crate::Messages`]); [`EventLog`] reads them
//! back in one global order. [`EventBus`] only tells readers that there may be something
//! new: a reader always reads the log, so a lost wake-up delays an event and never loses
//! it.

use crate::PortResult;
use async_trait::async_trait;
use messenger_domain::{AccountId, ChatId, EventPosition, LoggedEvent, Timestamp};
use std::collections::HashSet;
use std::time::Duration;

/// What [`EventLog::events_after`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsAfter {
    /// The events after the position, and where to continue.
    Events {
        /// At most the limit, in log order, each above the requested position.
        events: Vec<LoggedEvent>,
        /// Where the next read continues: the last event's position when the limit was
        /// reached, else the log's head as this read saw it (never below the requested
        /// position). Reading after it never finds an event at or below it.
        next: EventPosition,
    },
    /// Events after the position were purged: it cannot be replayed. `head` is the log's
    /// head now (a reader goes on from there).
    Expired {
        /// The head at this read.
        head: EventPosition,
    },
}

/// The durable event log: one global order over every recorded event, shared by every
/// instance using the store.
///
/// The order is gap-free for readers: once a read after position P has answered, no
/// event at or below any position it returned (`next` included) appears later. Within a
/// chat, the log's order is the order of the changes (a chat's messages by sequence
/// number, its joins and leaves where they happened between them). An event is in the
/// log exactly when its change is stored (same transaction, or the same atomic step).
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Up to `limit` events after `after`, in log order (see [`EventsAfter`]).
    /// `message.created` carries the stored message (read from the message itself, not a
    /// copy). A position above the head simply finds nothing yet.
    async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter>;

    /// The head: every event recorded after this call returns is above it, and every
    /// event at or below it is readable now. Monotonic.
    async fn head(&self) -> PortResult<EventPosition>;

    /// The oldest position that can still be replayed: [`Self::events_after`] answers
    /// [`EventsAfter::Expired`] for positions below it (their next events were purged).
    async fn replayable_from(&self) -> PortResult<EventPosition>;

    /// The chats `account` could read right after position `at`: those it had created or
    /// had a current identity in, as the log's membership events tell (its own
    /// `chat.created`, `member.joined`, `member.left` after `at` undone). `None` when
    /// `at` is below [`Self::replayable_from`].
    async fn readable_chats_at(
        &self,
        account: AccountId,
        at: EventPosition,
    ) -> PortResult<Option<HashSet<ChatId>>>;

    /// Deletes events recorded before `before` (the store's time of the change); returns
    /// how many. Positions whose next events are gone become non-replayable.
    async fn purge_events(&self, before: Timestamp) -> PortResult<u64>;
}

/// Wake-ups of readers: "the log may have something after this position". Lossy and
/// coalescing: a reader may miss one, get several merged into one, or be woken for
/// nothing; it always reads the log for what is really there.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Announces that the log may have new events (a change was committed), to the
    /// subscribers of every instance sharing the store. Never fails and never waits for
    /// the other instances: a lost announcement is only a delay.
    async fn publish(&self);

    /// A new subscription: it sees announcements published after this call.
    fn subscribe(&self) -> Box<dyn Wakeups>;
}

/// One reader's subscription to [`EventBus`].
#[async_trait]
pub trait Wakeups: Send {
    /// Waits at most `max` for an announcement published since the subscription was made
    /// or the previous wait returned; `true` when one came (or several, or some were
    /// lost), `false` when `max` passed without one.
    async fn wait(&mut self, max: Duration) -> bool;
}

//! The tail of the event log, kept in process and shared by every reader of an instance.
//!
//! Each open event stream follows the log on its own; without this, every wake-up made
//! every stream read the store (one query per stream per event over PostgreSQL, through
//! a pool of a few connections). This decorator keeps the newest events (at most
//! [`TAIL_EVENTS`]) with the exact stretch of the log they cover, and answers
//! [`EventLog::events_after`] from memory for any position inside it:
//!
//! - **Exactly the store's answer.** The tail covers the positions `(start, end]`
//!   completely: it grows only by reading the store after `end` (and the store promises
//!   that no event at or below a position it answered appears later), and drops events
//!   only from the front, moving `start` up. A read inside the stretch gets the events
//!   the store would give, and `end` as where to continue.
//! - **One store read per change, not one per reader.** A reader that is at `end` asks for
//!   more; concurrent askers wait for one read of the store (the first one's) and are all
//!   served from it.
//! - **Replays go to the store.** A position before `start` (a client resuming after a
//!   while) is read from the store as before; the tail never guesses.
//! - A purge resets the tail.

use async_trait::async_trait;
use messenger_domain::{AccountId, ChatId, EventPosition, LoggedEvent, Timestamp};
use messenger_ports::{EventLog, EventsAfter, PortResult};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Events kept at most.
pub const TAIL_EVENTS: usize = 10_000;

/// Events read from the store at a time to extend the tail.
const REFILL: u32 = 1_000;

/// [`EventLog`] with its newest events kept in process (see the module doc).
pub struct LogTail {
    inner: Arc<dyn EventLog>,
    tail: RwLock<Option<Tail>>,
    refill: tokio::sync::Mutex<()>,
    /// Reads of the store begun to extend the stretch. A reader that finds one begun after
    /// it arrived is answered from it; one begun earlier may predate the change the reader
    /// was woken for, so the reader then reads itself.
    refills: AtomicU64,
    capacity: usize,
}

/// A complete stretch of the log: every event in `(start, end]`, in order.
#[derive(Debug, Clone)]
struct Tail {
    start: EventPosition,
    end: EventPosition,
    events: VecDeque<LoggedEvent>,
}

impl Tail {
    /// The store's answer for `after`, when the stretch covers it.
    fn answer(&self, after: EventPosition, limit: u32) -> Option<EventsAfter> {
        if after < self.start || after > self.end {
            return None;
        }
        let first = self.events.partition_point(|e| e.position <= after);
        let events: Vec<LoggedEvent> = self
            .events
            .iter()
            .skip(first)
            .take(limit as usize)
            .cloned()
            .collect();
        let next = match events.last() {
            Some(last) if events.len() == limit as usize => last.position,
            _ => self.end,
        };
        Some(EventsAfter::Events { events, next })
    }
}

/// Wraps `inner`.
pub fn log_tail(inner: Arc<dyn EventLog>) -> Arc<dyn EventLog> {
    Arc::new(LogTail::new(inner, TAIL_EVENTS))
}

impl LogTail {
    /// Keeps at most `capacity` events.
    pub fn new(inner: Arc<dyn EventLog>, capacity: usize) -> Self {
        Self {
            inner,
            tail: RwLock::new(None),
            refill: tokio::sync::Mutex::new(()),
            refills: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    fn answer(&self, after: EventPosition, limit: u32) -> Option<EventsAfter> {
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        tail.as_ref().and_then(|t| t.answer(after, limit))
    }

    /// The stretch's `(start, end)`, if there is one.
    fn bounds(&self) -> Option<(EventPosition, EventPosition)> {
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        tail.as_ref().map(|t| (t.start, t.end))
    }

    /// Extends the stretch with one read of the store after its end; a reader ahead of
    /// the end (or no stretch yet) starts a new stretch at its own position instead.
    /// `Expired` is passed on and forgets the stretch.
    async fn extend(&self, after: EventPosition) -> PortResult<Option<EventsAfter>> {
        let from = match self.bounds() {
            Some((_, end)) if end >= after => end,
            _ => after,
        };
        let read = self.inner.events_after(from, REFILL).await?;
        let mut tail = self.tail.write().unwrap_or_else(PoisonError::into_inner);
        match read {
            EventsAfter::Expired { head } => {
                *tail = None;
                Ok(Some(EventsAfter::Expired { head }))
            }
            EventsAfter::Events { events, next } => {
                let t = match tail.as_mut() {
                    Some(t) if t.end == from => t,
                    // No stretch, or one this read does not continue: start anew at `from`.
                    _ => tail.insert(Tail {
                        start: from,
                        end: from,
                        events: VecDeque::new(),
                    }),
                };
                t.events.extend(events);
                t.end = t.end.max(next);
                while t.events.len() > self.capacity {
                    if let Some(dropped) = t.events.pop_front() {
                        t.start = dropped.position;
                    }
                }
                Ok(None)
            }
        }
    }
}

#[async_trait]
impl EventLog for LogTail {
    async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter> {
        match self.bounds() {
            // A replay from before the stretch: the store's to answer.
            Some((start, _)) if after < start => {
                return self.inner.events_after(after, limit).await;
            }
            // Inside the stretch and behind its end: from memory.
            Some((_, end)) if after < end => {
                if let Some(answer) = self.answer(after, limit) {
                    return Ok(answer);
                }
            }
            _ => {}
        }
        // At (or past) the end, or no stretch yet: one reader reads the store, the others
        // wait for it and are answered from what it brought.
        let arrived = self.refills.load(Ordering::SeqCst);
        let _only_one = self.refill.lock().await;
        if self.refills.load(Ordering::SeqCst) == arrived {
            self.refills.fetch_add(1, Ordering::SeqCst);
            if let Some(expired) = self.extend(after).await? {
                return Ok(expired);
            }
        }
        match self.answer(after, limit) {
            Some(answer) => Ok(answer),
            None => self.inner.events_after(after, limit).await,
        }
    }

    async fn head(&self) -> PortResult<EventPosition> {
        self.inner.head().await
    }

    async fn replayable_from(&self) -> PortResult<EventPosition> {
        self.inner.replayable_from().await
    }

    async fn readable_chats_at(
        &self,
        account: AccountId,
        at: EventPosition,
    ) -> PortResult<Option<HashSet<ChatId>>> {
        self.inner.readable_chats_at(account, at).await
    }

    async fn purge_events(&self, before: Timestamp) -> PortResult<u64> {
        let purged = self.inner.purge_events(before).await;
        *self.tail.write().unwrap_or_else(PoisonError::into_inner) = None;
        purged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::Chat;
    use messenger_memory::{MemoryStore, SystemClock};
    use messenger_ports::Chats;

    /// The store's log, counting the reads that reach it.
    struct Counting {
        inner: Arc<MemoryStore>,
        reads: AtomicU64,
    }

    #[async_trait]
    impl EventLog for Counting {
        async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.events_after(after, limit).await
        }
        async fn head(&self) -> PortResult<EventPosition> {
            self.inner.head().await
        }
        async fn replayable_from(&self) -> PortResult<EventPosition> {
            self.inner.replayable_from().await
        }
        async fn readable_chats_at(
            &self,
            account: AccountId,
            at: EventPosition,
        ) -> PortResult<Option<HashSet<ChatId>>> {
            self.inner.readable_chats_at(account, at).await
        }
        async fn purge_events(&self, before: Timestamp) -> PortResult<u64> {
            self.inner.purge_events(before).await
        }
    }

    async fn new_chats(store: &MemoryStore, from: u128, n: u128) {
        for i in from..from + n {
            store
                .insert_chat(&Chat {
                    id: ChatId::from_u128(i),
                    name: format!("chat {i}"),
                    creator: AccountId::from_u128(1),
                    created_at: Timestamp::from_micros(1),
                })
                .await
                .unwrap();
        }
    }

    fn positions(answer: &EventsAfter) -> (Vec<EventPosition>, EventPosition) {
        match answer {
            EventsAfter::Events { events, next } => {
                (events.iter().map(|e| e.position).collect(), *next)
            }
            EventsAfter::Expired { .. } => panic!("expired"),
        }
    }

    /// Asserts that the tail's answer for `after` is the store's: exactly the store's events
    /// in `(after, next]` (up to `limit`), with `next` not beyond the store's head. (The
    /// tail may answer as of an earlier head than a fresh read would.)
    async fn assert_exact(tail: &LogTail, store: &MemoryStore, after: EventPosition, limit: u32) {
        let (got, next) = positions(&tail.events_after(after, limit).await.unwrap());
        let (all, head) = positions(&store.events_after(after, 10_000).await.unwrap());
        assert!(
            next >= after && next <= head,
            "after {after:?}: next {next:?}, head {head:?}"
        );
        let want: Vec<EventPosition> = all
            .into_iter()
            .filter(|p| *p <= next)
            .take(limit as usize)
            .collect();
        assert_eq!(got, want, "after {after:?}, limit {limit}");
        if got.len() == limit as usize {
            assert_eq!(
                Some(&next),
                got.last(),
                "a full answer continues after its last"
            );
        }
    }

    #[tokio::test]
    async fn answers_exactly_as_the_store_and_reads_it_once_per_change() {
        let store = Arc::new(MemoryStore::new(Arc::new(SystemClock)));
        let counting = Arc::new(Counting {
            inner: store.clone(),
            reads: AtomicU64::new(0),
        });
        let tail = LogTail::new(counting.clone(), 5);
        let start = store.head().await.unwrap();
        new_chats(&store, 100, 3).await;
        // Every position from the start, every limit: the same answer as the store's.
        let mut all = positions(&store.events_after(start, 100).await.unwrap()).0;
        all.insert(0, start);
        for &after in &all {
            for limit in [1, 2, 10] {
                assert_eq!(
                    positions(&tail.events_after(after, limit).await.unwrap()),
                    positions(&store.events_after(after, limit).await.unwrap()),
                    "after {after:?}, limit {limit}: nothing new since, so the same answer"
                );
            }
        }
        // More events than the tail keeps: positions before its start go to the store,
        // and answers stay exact.
        new_chats(&store, 200, 8).await;
        let mut all = positions(&store.events_after(start, 100).await.unwrap()).0;
        all.insert(0, start);
        for _ in 0..3 {
            for &after in &all {
                for limit in [1, 3, 20] {
                    assert_exact(&tail, &store, after, limit).await;
                }
            }
        }
        // Many readers at the end, woken together: one read of the store serves them.
        let end = positions(&tail.events_after(*all.last().unwrap(), 10).await.unwrap()).1;
        new_chats(&store, 300, 1).await;
        let before = counting.reads.load(Ordering::SeqCst);
        let answers =
            futures_util::future::join_all((0..50).map(|_| tail.events_after(end, 10))).await;
        let reads = counting.reads.load(Ordering::SeqCst) - before;
        for a in answers {
            assert_eq!(
                positions(&a.unwrap()).0.len(),
                1,
                "each reader gets the new event"
            );
        }
        assert!(reads <= 2, "50 readers at the end cost {reads} store reads");
    }
}

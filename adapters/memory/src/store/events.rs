//! `EventLog`: the log of every change, in memory.
//!
//! Positions are 1, 2, 3, … in the order events are recorded. A change records its event
//! under its chat's lock, as the last step of the change, and the log's own lock orders
//! the positions: an event is readable exactly when its change is done, and a reader
//! never finds an event below one it has read. `message.created` refers to the message
//! in its chat (chat id, sequence number), which is read when the event is.
//!
//! The log also keeps, per account, the chats it can read now (from the membership
//! events it records), so that the chats at an older position are found by undoing the
//! account's own membership events after it.

use super::{read, MemoryStore};
use async_trait::async_trait;
use messenger_domain::{AccountId, ChatId, Event, EventPosition, LoggedEvent, Timestamp};
use messenger_ports::{EventLog, EventsAfter, PortError, PortResult};
use std::collections::{HashMap, HashSet, VecDeque};

/// What the log holds for one event.
pub(super) enum Recorded {
    /// A message, by its place.
    Message { chat: ChatId, seq: u64 },
    /// Any other event, whole (boxed: a message's entry, by far the most common, stays
    /// small; 48 bytes an entry instead of 128).
    Other(Box<Event>),
}

struct Entry {
    position: u64,
    at: Timestamp,
    recorded: Recorded,
}

/// The log's state, behind one lock.
#[derive(Default)]
pub(super) struct EventLogState {
    /// The last position given (the head).
    head: u64,
    /// The last position purged: positions below it cannot be replayed.
    floor: u64,
    entries: VecDeque<Entry>,
    /// account → the chats it can read now.
    reads: HashMap<AccountId, HashSet<ChatId>>,
}

impl EventLogState {
    /// Appends an event (call under the changed chat's lock).
    pub(super) fn record(&mut self, at: Timestamp, recorded: Recorded) {
        if let Recorded::Other(event) = &recorded {
            if let Some(change) = event.membership() {
                let chats = self.reads.entry(change.account).or_default();
                if change.reads_after {
                    chats.insert(change.chat_id);
                } else {
                    chats.remove(&change.chat_id);
                }
            }
        }
        self.head += 1;
        self.entries.push_back(Entry {
            position: self.head,
            at,
            recorded,
        });
    }

    /// The last position given.
    pub(super) fn head_number(&self) -> u64 {
        self.head
    }

    /// The index of the first entry above `after`.
    fn first_after(&self, after: u64) -> usize {
        self.entries.partition_point(|e| e.position <= after)
    }
}

impl MemoryStore {
    /// Records an event of a change (call under the changed chat's lock, as the change's
    /// last step).
    pub(super) fn record(&self, recorded: Recorded) {
        let at = self.clock.now();
        super::lock(&self.events).record(at, recorded);
    }

    fn resolve(&self, position: u64, recorded: Recorded) -> PortResult<LoggedEvent> {
        let event = match recorded {
            Recorded::Other(event) => *event,
            Recorded::Message { chat, seq } => {
                let message = self
                    .chat_cell(chat)
                    .and_then(|cell| {
                        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
                        read(&cell).message(index)
                    })
                    .ok_or_else(|| PortError::Internal("a logged message is missing".into()))?;
                Event::MessageCreated { message }
            }
        };
        Ok(LoggedEvent {
            position: EventPosition::new(position),
            event,
        })
    }
}

#[async_trait]
impl EventLog for MemoryStore {
    async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter> {
        let (page, next) = {
            let log = super::lock(&self.events);
            if after.get() < log.floor {
                return Ok(EventsAfter::Expired {
                    head: EventPosition::new(log.head),
                });
            }
            let page: Vec<(u64, Recorded)> = log
                .entries
                .range(log.first_after(after.get())..)
                .take(limit as usize)
                .map(|e| {
                    let recorded = match &e.recorded {
                        Recorded::Message { chat, seq } => Recorded::Message {
                            chat: *chat,
                            seq: *seq,
                        },
                        Recorded::Other(event) => Recorded::Other(event.clone()),
                    };
                    (e.position, recorded)
                })
                .collect();
            let next = match page.last() {
                Some((last, _)) if page.len() == limit as usize => *last,
                _ => log.head.max(after.get()),
            };
            (page, next)
        };
        // Messages are read outside the log's lock (writers take a chat's lock first).
        let events = page
            .into_iter()
            .map(|(position, recorded)| self.resolve(position, recorded))
            .collect::<PortResult<_>>()?;
        Ok(EventsAfter::Events {
            events,
            next: EventPosition::new(next),
        })
    }

    async fn head(&self) -> PortResult<EventPosition> {
        Ok(EventPosition::new(super::lock(&self.events).head))
    }

    async fn replayable_from(&self) -> PortResult<EventPosition> {
        Ok(EventPosition::new(super::lock(&self.events).floor))
    }

    async fn readable_chats_at(
        &self,
        account: AccountId,
        at: EventPosition,
    ) -> PortResult<Option<HashSet<ChatId>>> {
        let log = super::lock(&self.events);
        if at.get() < log.floor {
            return Ok(None);
        }
        let mut chats = log.reads.get(&account).cloned().unwrap_or_default();
        let from = log.first_after(at.get());
        for e in log.entries.range(from..).rev() {
            let Recorded::Other(event) = &e.recorded else {
                continue;
            };
            match event.membership() {
                Some(change) if change.account == account => {
                    if change.reads_before {
                        chats.insert(change.chat_id);
                    } else {
                        chats.remove(&change.chat_id);
                    }
                }
                _ => {}
            }
        }
        Ok(Some(chats))
    }

    async fn purge_events(&self, before: Timestamp) -> PortResult<u64> {
        let mut log = super::lock(&self.events);
        let mut purged = 0;
        while let Some(first) = log.entries.front() {
            if first.at >= before {
                break;
            }
            let position = first.position;
            log.entries.pop_front();
            log.floor = position;
            purged += 1;
        }
        Ok(purged)
    }
}

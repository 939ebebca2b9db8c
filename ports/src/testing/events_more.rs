//! Checks of [`super::events_suite`]: concurrent writers, the bus, purging.

use super::conversations::{chat_at, join, Repos};
use super::events::{all_after, settled};
use super::support::{fresh_account, ok, unique_u128, wall_now};
use super::TimeTravel;
use crate::{AppendOutcome, EventBus, EventLog, EventsAfter, NewMessage};
use messenger_domain::{ChatId, Event, EventPosition, LoggedEvent, Member, MessageId, Timestamp};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const CHATS: usize = 4;
const WRITERS: usize = 8;
const POSTS_PER_WRITER: usize = 12;

async fn post_one(r: &Repos<'_>, member: &Member, text: String) -> MessageId {
    let id = MessageId::from_u128(unique_u128());
    let outcome = r
        .messages
        .append(NewMessage {
            id,
            chat_id: member.chat_id,
            user_id: member.id,
            account: Some(member.account_id),
            text,
            now: wall_now(),
            idempotency: None,
        })
        .await;
    match ok(outcome, "append") {
        AppendOutcome::Stored(m) => m.id,
        other => panic!("append: expected a stored message, got {other:?}"),
    }
}

/// Follows the log from `start` until it has seen `expected` messages of `chats`, checking
/// that no event ever appears at or below a position already answered.
async fn follow(
    log: &dyn EventLog,
    time: &TimeTravel,
    start: EventPosition,
    chats: &HashSet<ChatId>,
    expected: usize,
) -> Vec<LoggedEvent> {
    let mut seen = Vec::new();
    let mut at = start;
    let mut messages = 0;
    for _ in 0..5000 {
        match ok(log.events_after(at, 7).await, "events_after") {
            EventsAfter::Expired { .. } => panic!("a follower's position expired"),
            EventsAfter::Events { events, next } => {
                for e in &events {
                    assert!(
                        e.position > at,
                        "event at {:?} appeared at or below the answered position {at:?}",
                        e.position
                    );
                    at = e.position;
                }
                assert!(next >= at, "next {next:?} below the last event {at:?}");
                at = next;
                for e in events {
                    if chats.contains(&e.event.chat_id()) {
                        if matches!(e.event, Event::MessageCreated { .. }) {
                            messages += 1;
                        }
                        seen.push(e);
                    }
                }
                if messages >= expected {
                    return seen;
                }
            }
        }
        time.advance(Duration::from_millis(2)).await;
    }
    panic!("the follower saw {messages} of {expected} messages");
}

/// Many writers post into several chats at once while a reader follows from before the
/// first: every message exactly once, each chat's in sequence order, never an event below
/// a position already answered, and a later full read agrees with what was followed.
pub async fn concurrent_writers_are_seen_once_in_order(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let mut members = Vec::new();
    for _ in 0..CHATS {
        let chat = chat_at(r, creator, wall_now()).await;
        members.push(join(r, chat.id, creator, "w").await);
    }
    let chats: HashSet<ChatId> = members.iter().map(|m| m.chat_id).collect();
    let start = ok(log.head().await, "head");
    let writers = futures_util::future::join_all((0..WRITERS).map(|w| {
        let members = &members;
        async move {
            let mut ids = Vec::new();
            for i in 0..POSTS_PER_WRITER {
                let member = &members[(w + i) % CHATS];
                ids.push(post_one(r, member, format!("w{w} p{i}")).await);
            }
            ids
        }
    }));
    let expected = WRITERS * POSTS_PER_WRITER;
    let (posted, followed) =
        futures_util::future::join(writers, follow(log, time, start, &chats, expected)).await;
    let posted: HashSet<MessageId> = posted.into_iter().flatten().collect();
    let mut ids = HashSet::new();
    let mut last_seq: HashMap<ChatId, u64> = HashMap::new();
    for e in &followed {
        if let Event::MessageCreated { message } = &e.event {
            assert!(
                ids.insert(message.id),
                "message {:?} seen twice",
                message.id
            );
            let last = last_seq.entry(message.chat_id).or_insert(0);
            assert_eq!(
                message.seq,
                *last + 1,
                "a chat's messages in sequence order"
            );
            *last = message.seq;
        }
    }
    assert_eq!(ids, posted, "every posted message seen exactly once");
    let again = settled(log, time, start, members[0].chat_id, |_| true).await;
    let followed_first: Vec<&LoggedEvent> = followed
        .iter()
        .filter(|e| e.event.chat_id() == members[0].chat_id)
        .collect();
    assert!(
        again.iter().eq(followed_first.iter().copied()),
        "a later read of the same range gives exactly what the follower saw"
    );
}

/// A publish wakes a subscription; several merge.
pub async fn the_bus_wakes_subscribers(bus: &dyn EventBus) {
    let mut sub = bus.subscribe();
    bus.publish().await;
    assert!(
        sub.wait(Duration::from_secs(5)).await,
        "a publish after subscribing must wake the subscriber"
    );
    let mut other = bus.subscribe();
    bus.publish().await;
    bus.publish().await;
    assert!(
        sub.wait(Duration::from_secs(5)).await,
        "every subscriber is woken"
    );
    assert!(
        other.wait(Duration::from_secs(5)).await,
        "every subscriber is woken"
    );
}

/// Purging by time makes positions before the purged events expire.
pub async fn purge_makes_old_positions_expire(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let start = ok(log.head().await, "head");
    let chat = chat_at(r, creator, wall_now()).await;
    let m = join(r, chat.id, creator, "p").await;
    post_one(r, &m, "old".into()).await;
    let events = settled(log, time, start, chat.id, |e| e.len() >= 3).await;
    let last = events[2].position;
    for _ in 0..500 {
        if ok(log.head().await, "head") >= last {
            break;
        }
        time.advance(Duration::from_millis(10)).await;
    }
    ok(log.purge_events(Timestamp::from_micros(1)).await, "purge");
    let kept = settled(log, time, start, chat.id, |_| true).await;
    assert_eq!(kept, events, "purging before the events' time keeps them");
    let purged = ok(
        log.purge_events(Timestamp::from_micros(i64::MAX)).await,
        "purge",
    );
    assert!(
        purged >= 3,
        "purging after the events' time deletes them ({purged})"
    );
    let from = ok(log.replayable_from().await, "replayable_from");
    assert!(
        from > start,
        "positions before purged events are no longer replayable"
    );
    match ok(log.events_after(start, 10).await, "events_after") {
        EventsAfter::Expired { head } => assert!(head >= last, "Expired carries the head"),
        other => panic!("a purged position must answer Expired, got {other:?}"),
    }
    assert_eq!(
        ok(
            log.readable_chats_at(creator, start).await,
            "readable_chats_at"
        ),
        None,
        "the chats at a purged position are unknown"
    );
    let head = ok(log.head().await, "head");
    assert!(
        matches!(
            ok(log.events_after(from, 10).await, "events_after"),
            EventsAfter::Events { .. }
        ),
        "replayable_from itself replays"
    );
    let later = chat_at(r, creator, wall_now()).await;
    let news = settled(log, time, head, later.id, |e| !e.is_empty()).await;
    assert!(
        news[0].position > head,
        "changes after a purge are readable"
    );
    let (_, _) = all_after(log, head, 100).await;
}

//! The event log and the event bus: [`events_suite`].

use super::conversations::{chat_at, join, own, post, Repos};
use super::events_more::{
    concurrent_writers_are_seen_once_in_order, purge_makes_old_positions_expire,
    the_bus_wakes_subscribers,
};
use super::support::{fresh_account, ok, some, wall_now};
use super::TimeTravel;
use crate::{EventBus, EventLog, EventsAfter};
use messenger_domain::{
    AccountId, ChatId, ChatListCursor, Event, EventPosition, LoggedEvent, Member, MemberId,
};
use std::time::Duration;

/// Runs every check of [`EventLog`] and [`EventBus`] (with the repositories that record
/// the events):
/// - every change records its event with its data (`chat.created`, `member.joined`,
///   `message.created` with the stored message, `read.updated` with the marker and the
///   unread count, `chat.renamed`, `member.left` with `removed`), in the order of the
///   changes; a join that reuses a member and a read marker that does not move record
///   nothing;
/// - positions only grow; paging with any limit gives the same events as one read;
///   `next` is never below the requested position; the head covers every committed
///   change (once changes begun before it are committed) and the chat list's position
///   lies between the heads before and after it;
/// - the chats an account could read at a position follow its own creations, joins and
///   leaves (two identities: leaving one keeps the chat);
/// - concurrent writers into several chats, with a reader following: every event exactly
///   once, no event ever below a position already answered, each chat's messages in
///   sequence order;
/// - purging by time: positions whose next events are gone answer `Expired` with the
///   head, and the chats at them are unknown; later positions still replay;
/// - the bus wakes a subscriber after a publish; waiting without one times out.
///
/// `time` lets time pass while a reader waits for the store to make a change readable
/// (in memory at once; PostgreSQL after the transactions begun before it ended).
pub async fn events_suite(
    r: &Repos<'_>,
    log: &dyn EventLog,
    bus: &dyn EventBus,
    time: &TimeTravel,
) {
    every_change_records_its_event_in_order(r, log, time).await;
    paging_is_exact_and_positions_grow(r, log, time).await;
    the_head_covers_committed_changes(r, log, time).await;
    readable_chats_follow_membership(r, log, time).await;
    concurrent_writers_are_seen_once_in_order(r, log, time).await;
    the_bus_wakes_subscribers(bus).await;
    purge_makes_old_positions_expire(r, log, time).await;
}

/// Every event after `after` (paging `limit` at a time), and the last `next`.
pub(crate) async fn all_after(
    log: &dyn EventLog,
    after: EventPosition,
    limit: u32,
) -> (Vec<LoggedEvent>, EventPosition) {
    let mut events = Vec::new();
    let mut at = after;
    loop {
        match ok(log.events_after(at, limit).await, "events_after") {
            EventsAfter::Expired { .. } => panic!("events_after({at:?}): unexpectedly expired"),
            EventsAfter::Events { events: page, next } => {
                assert!(next >= at, "next {next:?} went below the position {at:?}");
                let n = page.len();
                if let Some(last) = page.last() {
                    assert!(
                        n as u32 <= limit,
                        "a page of {n} events over the limit {limit}"
                    );
                    if n as u32 == limit {
                        assert_eq!(next, last.position, "a full page ends at its last event");
                    }
                }
                events.extend(page);
                at = next;
                if (n as u32) < limit {
                    return (events, at);
                }
            }
        }
    }
}

/// The events of `chat` after `after`, once `done` holds for them (waiting up to ~5 s).
pub(crate) async fn settled(
    log: &dyn EventLog,
    time: &TimeTravel,
    after: EventPosition,
    chat: ChatId,
    done: impl Fn(&[LoggedEvent]) -> bool,
) -> Vec<LoggedEvent> {
    for _ in 0..500 {
        let (all, _) = all_after(log, after, 1000).await;
        let mine: Vec<LoggedEvent> = all
            .into_iter()
            .filter(|e| e.event.chat_id() == chat)
            .collect();
        if done(&mine) {
            return mine;
        }
        time.advance(Duration::from_millis(10)).await;
    }
    panic!("the events of chat {chat:?} after {after:?} never became readable");
}

fn member_of(chat: ChatId, account: AccountId) -> Member {
    Member {
        id: MemberId::from_u128(super::support::unique_u128()),
        chat_id: chat,
        account_id: account,
        name: "twin".into(),
        joined_at: wall_now(),
    }
}

/// The changes of one chat, their events and data, in order.
pub async fn every_change_records_its_event_in_order(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let joiner = fresh_account(r.accounts).await;
    let start = ok(log.head().await, "head");
    let chat = chat_at(r, creator, wall_now()).await;
    let m = join(r, chat.id, joiner, "J").await;
    join(r, chat.id, joiner, "J").await; // reuses the member: no event
    let seq = post(r, &m, "hello", wall_now()).await;
    ok(r.members.mark_read(chat.id, creator, 1).await, "mark_read");
    ok(
        r.members.mark_read(chat.id, creator, 0).await,
        "mark_read back",
    ); // no move
    ok(r.chats.rename_chat(chat.id, "renamed").await, "rename_chat");
    ok(r.members.leave(chat.id, m.id, true).await, "leave");
    let events = settled(log, time, start, chat.id, |e| e.len() >= 6).await;
    let got: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
    let message = match &got.get(2) {
        Some(Event::MessageCreated { message }) => message.clone(),
        other => panic!("the third event must be message.created, got {other:?}"),
    };
    assert_eq!(
        (
            message.seq,
            message.text.as_str(),
            message.user_id,
            message.chat_id
        ),
        (seq, "hello", m.id, chat.id),
        "message.created carries the stored message"
    );
    let expected = vec![
        Event::ChatCreated {
            chat_id: chat.id,
            chat_name: chat.name.clone(),
            creator,
        },
        Event::MemberJoined {
            chat_id: chat.id,
            user_id: m.id,
            user_name: "J".into(),
            account: joiner,
            reads_before: false,
        },
        Event::MessageCreated { message },
        Event::ReadUpdated {
            chat_id: chat.id,
            account: creator,
            read_seq: 1,
            unread_count: 0,
        },
        Event::ChatRenamed {
            chat_id: chat.id,
            chat_name: "renamed".into(),
        },
        Event::MemberLeft {
            chat_id: chat.id,
            user_id: m.id,
            removed: true,
            account: joiner,
            reads_after: false,
        },
    ];
    assert_eq!(
        got, expected,
        "the chat's events, in the order of its changes"
    );
    for pair in events.windows(2) {
        assert!(pair[0].position < pair[1].position, "positions must grow");
    }
    assert!(
        events[0].position > start,
        "events come after the head before them"
    );
}

/// Any limit pages through the same events as one read; `next` never goes back.
pub async fn paging_is_exact_and_positions_grow(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let start = ok(log.head().await, "head");
    let chat = chat_at(r, creator, wall_now()).await;
    let m = join(r, chat.id, creator, "Me").await;
    for i in 0..7 {
        post(r, &m, &format!("m{i}"), wall_now()).await;
    }
    let whole = settled(log, time, start, chat.id, |e| e.len() >= 9).await;
    for limit in [1, 2, 3, 5] {
        let (paged, _) = all_after(log, start, limit).await;
        let paged: Vec<LoggedEvent> = paged
            .into_iter()
            .filter(|e| e.event.chat_id() == chat.id)
            .collect();
        assert_eq!(
            paged, whole,
            "paging {limit} at a time must give the same events"
        );
    }
    let (_, next) = all_after(log, start, 1000).await;
    let (again, next2) = all_after(log, next, 1000).await;
    assert!(
        again.iter().all(|e| e.position > next),
        "reading after next must never find an event at or below it"
    );
    assert!(next2 >= next);
}

/// The head grows with committed changes; the chat list's position lies in between.
pub async fn the_head_covers_committed_changes(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let before = ok(log.head().await, "head");
    let chat = chat_at(r, creator, wall_now()).await;
    let created = settled(log, time, before, chat.id, |e| !e.is_empty()).await;
    let position = created[0].position;
    let mut covered = false;
    for _ in 0..500 {
        if ok(log.head().await, "head") >= position {
            covered = true;
            break;
        }
        time.advance(Duration::from_millis(10)).await;
    }
    assert!(covered, "the head must come to cover a readable event");
    let low = ok(log.head().await, "head");
    let page = ok(
        r.chats
            .list_chats(own(creator), ChatListCursor::start(creator), 10)
            .await,
        "list_chats",
    );
    let high = ok(log.head().await, "head");
    assert!(
        low <= page.events && page.events <= high,
        "the list's position {:?} must lie between the heads {low:?} and {high:?}",
        page.events
    );
}

/// What an account could read at a position follows its own membership events.
pub async fn readable_chats_follow_membership(
    r: &Repos<'_>,
    log: &dyn EventLog,
    time: &TimeTravel,
) {
    let creator = fresh_account(r.accounts).await;
    let joiner = fresh_account(r.accounts).await;
    let start = ok(log.head().await, "head");
    let chat = chat_at(r, creator, wall_now()).await;
    let first = join(r, chat.id, joiner, "one").await;
    let second = ok(
        r.members.join(&member_of(chat.id, joiner), false).await,
        "join",
    );
    ok(r.members.leave(chat.id, first.id, false).await, "leave one");
    ok(
        r.members.leave(chat.id, second.id, false).await,
        "leave two",
    );
    let events = settled(log, time, start, chat.id, |e| e.len() >= 5).await;
    let at = |p: EventPosition, account: AccountId| async move {
        some(
            ok(log.readable_chats_at(account, p).await, "readable_chats_at"),
            "readable_chats_at a retained position",
        )
        .contains(&chat.id)
    };
    let p: Vec<EventPosition> = events.iter().map(|e| e.position).collect();
    assert!(
        !at(start, creator).await,
        "before chat.created, its creator reads nothing"
    );
    assert!(
        at(p[0], creator).await,
        "the creator reads its chat from chat.created on"
    );
    assert!(
        !at(p[0], joiner).await,
        "before joining, an account does not read the chat"
    );
    assert!(at(p[1], joiner).await, "after joining it does");
    assert!(
        at(p[3], joiner).await,
        "leaving one of two identities keeps the chat"
    );
    assert!(!at(p[4], joiner).await, "leaving the last identity ends it");
    assert!(at(p[4], creator).await, "the creator keeps reading");
    assert!(
        matches!(
            events[3].event,
            Event::MemberLeft {
                reads_after: true,
                ..
            }
        ) && matches!(
            events[2].event,
            Event::MemberJoined {
                reads_before: true,
                ..
            }
        ),
        "the events tell whether the account reads before a join and after a leave"
    );
}

//! Live updates through the use cases: who sees which events, replay after a position,
//! resets after purging, following live.

use crate::world::{domain_err, world};
use messenger_domain::{Caller, Error, Event, EventPosition, IdParam, Limit, UncheckedCursor};
use messenger_ports::{EventsPage, Messenger};
use std::time::Duration;

async fn poll(m: &Messenger, caller: &Caller, after: EventPosition) -> EventsPage {
    let after = Some(UncheckedCursor::parse(&after.encode()));
    m.poll_events(caller, after, 1000, Duration::ZERO)
        .await
        .unwrap()
}

fn types(page: &EventsPage) -> Vec<&'static str> {
    page.events.iter().map(|e| e.event.type_name()).collect()
}

#[tokio::test]
async fn each_account_sees_the_chats_it_can_read_at_the_time_of_each_event() {
    let w = world(false);
    let (ann, bob, eve) = (
        w.account("ann").await,
        w.account("bob").await,
        w.account("eve").await,
    );
    let start =
        w.m.poll_events(&bob, None, 10, Duration::ZERO)
            .await
            .unwrap()
            .next;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    w.post(&ann, chat, a, "before bob").await;
    let b = w.join(&bob, chat, "Bob").await;
    w.post(&ann, chat, a, "with bob").await;
    w.m.remove_member(&ann, chat, IdParam::Valid(b))
        .await
        .unwrap();
    w.post(&ann, chat, a, "after bob").await;

    let seen = poll(&w.m, &bob, start).await;
    assert_eq!(
        types(&seen),
        ["member.joined", "message.created", "member.left"],
        "bob sees from his join to his removal, both included"
    );
    match &seen.events[2].event {
        Event::MemberLeft { removed, .. } => assert!(removed, "removed by the creator"),
        other => panic!("expected member.left, got {other:?}"),
    }
    let ann_sees = poll(&w.m, &ann, start).await;
    assert_eq!(
        types(&ann_sees),
        [
            "chat.created",
            "member.joined",
            "message.created",
            "member.joined",
            "message.created",
            "member.left",
            "message.created"
        ]
    );
    assert!(
        poll(&w.m, &eve, start).await.events.is_empty(),
        "a stranger never sees the chat's events"
    );
    // A replay from the middle knows what bob could read there.
    let mid = seen.events[0].position;
    assert_eq!(
        types(&poll(&w.m, &bob, mid).await),
        ["message.created", "member.left"]
    );
}

#[tokio::test]
async fn read_markers_go_to_their_own_account_only() {
    let w = world(false);
    let (ann, bob) = (w.account("ann").await, w.account("bob").await);
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    w.join(&bob, chat, "Bob").await;
    w.post(&ann, chat, a, "one").await;
    let start = poll(&w.m, &bob, EventPosition::new(0)).await.next;
    let end = w.m.chat_summary(&bob, chat).await.unwrap().end_cursor();
    w.m.mark_read(&bob, chat, UncheckedCursor::parse(&end.encode()))
        .await
        .unwrap();
    let bob_sees = poll(&w.m, &bob, start).await;
    assert_eq!(types(&bob_sees), ["read.updated"]);
    assert_eq!(bob_sees.events[0].event.read_cursor(), Some(end));
    assert!(poll(&w.m, &ann, start).await.events.is_empty());
}

#[tokio::test]
async fn the_chat_lists_position_replays_exactly_what_happened_since() {
    let w = world(false);
    let ann = w.account("ann").await;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    let list =
        w.m.list_chats(&ann, None, Limit::chats(10).unwrap())
            .await
            .unwrap();
    assert!(poll(&w.m, &ann, list.events).await.events.is_empty());
    w.post(&ann, chat, a, "news").await;
    assert_eq!(
        types(&poll(&w.m, &ann, list.events).await),
        ["message.created"]
    );
}

#[tokio::test]
async fn legacy_mode_sees_every_chat() {
    let w = world(true);
    let anon = w.account("anon").await;
    let other = Caller {
        account_id: messenger_domain::AccountId::from_u128(99),
        session: None,
    };
    let chat = w.chat(&other, "room").await;
    let m = w.join(&other, chat, "X").await;
    w.post(&other, chat, m, "hi").await;
    assert_eq!(
        types(&poll(&w.m, &anon, EventPosition::new(0)).await),
        ["chat.created", "member.joined", "message.created"]
    );
}

#[tokio::test]
async fn bad_and_purged_positions() {
    let w = world(false);
    let ann = w.account("ann").await;
    let bad =
        w.m.poll_events(
            &ann,
            Some(UncheckedCursor::parse("xyz")),
            10,
            Duration::ZERO,
        )
        .await;
    assert_eq!(domain_err(bad), Error::BadCursor);
    let start = poll(&w.m, &ann, EventPosition::new(0)).await.next;
    w.chat(&ann, "old").await;
    w.clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert!(w.m.purge_old_events().await.unwrap() >= 1);
    let page = poll(&w.m, &ann, start).await;
    assert!(
        page.reset && page.events.is_empty(),
        "a purged position resets"
    );
    let chat = w.chat(&ann, "new").await;
    let after = poll(&w.m, &ann, page.next).await;
    assert_eq!(
        types(&after),
        ["chat.created"],
        "after a reset the stream goes on"
    );
    assert_eq!(after.events[0].event.chat_id(), chat);
}

#[tokio::test]
async fn a_follower_is_woken_by_a_post() {
    let w = world(false);
    let ann = w.account("ann").await;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    let mut feed = w.m.follow_events(&ann, None).await.unwrap();
    let waiting = tokio::spawn(async move { feed.next(10, Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = std::time::Instant::now();
    w.post(&ann, chat, a, "live").await;
    let page = waiting.await.unwrap().unwrap();
    assert_eq!(types(&page), ["message.created"]);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "woken, not re-checked"
    );
}

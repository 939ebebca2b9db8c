//! Streams through the event hub: one reader of the log hands each event to the feeds that
//! may want it. Each test checks the events a feed gets against what it may see, exactly
//! once and in order, across the seam from replay to live, a lag, and a hub that stops.

use crate::world::{world, world_with_log, World};
use async_trait::async_trait;
use messenger_domain::{
    AccountId, Caller, ChatId, Event, EventPosition, IdParam, Timestamp, UncheckedCursor,
};
use messenger_memory::MemoryStore;
use messenger_ports::{EventLog, EventsAfter, LiveFeed, PortError, PortResult, INBOX_CAPACITY};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the hub and waits until it reads the log.
async fn start_hub(w: &World) -> tokio::task::JoinHandle<()> {
    let m = w.m.clone();
    let hub = tokio::spawn(async move { m.run_event_hub().await });
    let began = Instant::now();
    while !w.m.event_hub().is_running() {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the hub never ran"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    hub
}

async fn follow(w: &World, caller: &Caller, after: Option<EventPosition>) -> LiveFeed {
    let after = after.map(|p| UncheckedCursor::parse(&p.encode()));
    w.m.follow_live(caller, after).await.unwrap()
}

/// The next `n` events of the feed (each test's own deadline: 10 s).
async fn take(feed: &mut LiveFeed, n: usize) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "only {} of {n} events came: {got:?}",
            got.len()
        );
        if let Ok(page) =
            tokio::time::timeout(left, feed.next(100, Duration::from_millis(200))).await
        {
            let page = page.unwrap();
            assert!(!page.reset, "no reset expected");
            got.extend(page.events.iter().map(|e| e.logged.event.clone()));
        }
    }
    got
}

/// Nothing more comes within a short while.
async fn nothing_more(feed: &mut LiveFeed) {
    if let Ok(page) = tokio::time::timeout(
        Duration::from_millis(300),
        feed.next(100, Duration::from_millis(300)),
    )
    .await
    {
        let page = page.unwrap();
        assert!(page.events.is_empty(), "unexpected: {:?}", page.events);
    }
}

fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageCreated { message } => Some(message.text.clone()),
            _ => None,
        })
        .collect()
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::type_name).collect()
}

#[tokio::test]
async fn a_live_feed_gets_only_its_chats_once_each_and_a_join_or_removal_reroutes_it() {
    let w = world(false);
    let hub = start_hub(&w).await;
    let (ann, bob) = (w.account("ann").await, w.account("bob").await);
    let mut feed = follow(&w, &bob, None).await;
    nothing_more(&mut feed).await;
    assert!(feed.is_live(), "caught up with the hub: live");
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    w.post(&ann, chat, a, "before bob").await;
    nothing_more(&mut feed).await;
    assert_eq!(
        feed.queued(),
        0,
        "a chat bob cannot read is not routed to him at all"
    );

    let b = w.join(&bob, chat, "Bob").await;
    for i in 0..3 {
        w.post(&ann, chat, a, &format!("m{i}")).await;
    }
    let got = take(&mut feed, 4).await;
    assert_eq!(
        types(&got),
        [
            "member.joined",
            "message.created",
            "message.created",
            "message.created"
        ]
    );
    assert_eq!(texts(&got), ["m0", "m1", "m2"]);
    nothing_more(&mut feed).await;

    w.m.remove_member(&ann, chat, IdParam::Valid(b))
        .await
        .unwrap();
    assert_eq!(
        types(&take(&mut feed, 1).await),
        ["member.left"],
        "bob learns of his removal"
    );
    w.post(&ann, chat, a, "after bob").await;
    nothing_more(&mut feed).await;
    assert_eq!(
        feed.queued(),
        0,
        "after the removal the chat is not routed to bob"
    );
    assert_eq!(w.m.event_hub().streams(), 1);
    drop(feed);
    assert_eq!(w.m.event_hub().streams(), 0, "a dropped feed unregisters");
    hub.abort();
}

#[tokio::test]
async fn the_seam_between_replay_and_live_loses_and_repeats_nothing() {
    let w = world(false);
    let hub = start_hub(&w).await;
    let ann = w.account("ann").await;
    let start =
        w.m.list_chats(&ann, None, messenger_domain::Limit::chats(1).unwrap())
            .await
            .unwrap()
            .events;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    for i in 0..300 {
        w.post(&ann, chat, a, &format!("m{i}")).await;
    }
    // A feed that starts far back while posts go on: it replays, meets the hub's
    // position, and goes live, seeing every message once.
    let poster = {
        let m = w.m.clone();
        tokio::spawn(async move {
            for i in 300..800 {
                let text = messenger_domain::MessageText::parse(format!("m{i}")).unwrap();
                m.post_message(&ann, chat, IdParam::Valid(a), text, None)
                    .await
                    .unwrap();
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut feed = follow(&w, &ann, Some(start)).await;
    let got = take(&mut feed, 802).await;
    poster.await.unwrap();
    assert_eq!(types(&got[..2]), ["chat.created", "member.joined"]);
    let expected: Vec<String> = (0..800).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&got), expected, "every message once, in order");
    nothing_more(&mut feed).await;
    assert!(feed.is_live());
    hub.abort();
}

#[tokio::test]
async fn a_feed_that_falls_behind_replays_from_the_log_and_loses_nothing() {
    let w = world(false);
    let hub = start_hub(&w).await;
    let ann = w.account("ann").await;
    let chat: ChatId = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    let mut feed = follow(&w, &ann, None).await;
    nothing_more(&mut feed).await;
    assert!(feed.is_live());
    let n = INBOX_CAPACITY + 100;
    for i in 0..n {
        w.post(&ann, chat, a, &format!("m{i}")).await;
    }
    // Give the hub time to hand them out: the queue overflows and is dropped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        feed.queued() < INBOX_CAPACITY,
        "the overflowing queue was dropped"
    );
    let got = take(&mut feed, n).await;
    let expected: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    assert_eq!(
        texts(&got),
        expected,
        "the log fills what the queue dropped"
    );
    w.post(&ann, chat, a, "later").await;
    assert_eq!(texts(&take(&mut feed, 1).await), ["later"]);
    assert!(feed.is_live(), "live again after catching up");
    hub.abort();
}

#[tokio::test]
async fn without_a_hub_or_after_it_stops_feeds_read_the_log_themselves() {
    let w = world(false);
    let ann = w.account("ann").await;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    let mut feed = follow(&w, &ann, None).await;
    w.post(&ann, chat, a, "no hub").await;
    assert_eq!(texts(&take(&mut feed, 1).await), ["no hub"]);
    assert!(!feed.is_live(), "no hub: the feed follows the bus");

    let hub = start_hub(&w).await;
    w.post(&ann, chat, a, "hub started").await;
    assert_eq!(texts(&take(&mut feed, 1).await), ["hub started"]);
    nothing_more(&mut feed).await;
    assert!(feed.is_live(), "a running hub takes the feed live");

    hub.abort();
    let _ = hub.await;
    assert!(!w.m.event_hub().is_running());
    w.post(&ann, chat, a, "hub stopped").await;
    assert_eq!(texts(&take(&mut feed, 1).await), ["hub stopped"]);
    assert!(!feed.is_live());
}

/// The store's log, whose reads after a position fail while `failing` is set.
struct Flaky {
    inner: Arc<MemoryStore>,
    failing: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
}

#[async_trait]
impl EventLog for Flaky {
    async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter> {
        if self.failing.load(Ordering::SeqCst) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(PortError::Unavailable("the log is down".into()));
        }
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

#[tokio::test]
async fn a_failing_log_delays_live_feeds_and_loses_nothing() {
    let failing = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let w = {
        let (failing, failed) = (failing.clone(), failed.clone());
        world_with_log(false, move |inner| {
            Arc::new(Flaky {
                inner,
                failing,
                failed,
            })
        })
    };
    let hub = start_hub(&w).await;
    let ann = w.account("ann").await;
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    let mut feeds = Vec::new();
    for _ in 0..20 {
        let mut feed = follow(&w, &ann, None).await;
        nothing_more(&mut feed).await;
        assert!(feed.is_live());
        feeds.push(feed);
    }
    failing.store(true, Ordering::SeqCst);
    for i in 0..5 {
        w.post(&ann, chat, a, &format!("m{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let failures = failed.load(Ordering::SeqCst);
    assert!(failures >= 1, "the hub tried to read");
    assert!(
        failures <= 10,
        "only the hub reads while it fails, not each of the 20 feeds: {failures} reads"
    );
    failing.store(false, Ordering::SeqCst);
    for feed in &mut feeds {
        assert_eq!(texts(&take(feed, 5).await), ["m0", "m1", "m2", "m3", "m4"]);
        assert!(feed.is_live(), "the feeds stayed live through the failure");
    }
    hub.abort();
}

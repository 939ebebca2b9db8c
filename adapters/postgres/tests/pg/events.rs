//! The event log under load: writers on two instances (two pools) post into several chats
//! in parallel transactions while a reader follows the log from position 0.

use crate::helpers::*;
use messenger_domain::{ChatId, Event, EventPosition, MessageId};
use messenger_ports::{EventLog, EventsAfter};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_sees_every_event_of_parallel_writers_once_in_chat_order() {
    let Some(schema) = TestSchema::new("a_follower_sees_every_event_of_parallel_writers") else {
        return;
    };
    let a = schema.store().await;
    let b = schema.store().await;
    const CHATS: usize = 6;
    const WRITERS: usize = 16;
    const EACH: usize = 25;
    let mut members = Vec::new();
    for _ in 0..CHATS {
        members.push(chat_with_creator_joined(&a).await.1);
    }
    let follower = {
        let store = a.clone();
        tokio::spawn(async move {
            let mut at = EventPosition::new(0);
            let mut seen = Vec::new();
            let mut messages = 0;
            for _ in 0..20_000 {
                let EventsAfter::Events { events, next } =
                    store.events_after(at, 50).await.unwrap()
                else {
                    panic!("the follower's position expired");
                };
                for e in events {
                    assert!(e.position > at, "an event appeared below a read position");
                    at = e.position;
                    if matches!(e.event, Event::MessageCreated { .. }) {
                        messages += 1;
                    }
                    seen.push(e);
                }
                assert!(next >= at);
                at = next;
                if messages == WRITERS * EACH {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            panic!("the follower saw only {messages} messages");
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let members = members.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let m = &members[(w * 7 + i) % CHATS];
                let msg = post(&store, new_message(m.chat_id, m, &format!("w{w} {i}"), 1)).await;
                ids.push(msg.id);
            }
            ids
        }));
    }
    let mut posted = HashSet::new();
    for w in writers {
        posted.extend(w.await.unwrap());
    }
    let seen = follower.await.unwrap();
    let mut ids: HashSet<MessageId> = HashSet::new();
    let mut last: HashMap<ChatId, u64> = HashMap::new();
    for e in &seen {
        if let Event::MessageCreated { message } = &e.event {
            assert!(ids.insert(message.id), "a message seen twice");
            let l = last.entry(message.chat_id).or_insert(0);
            assert_eq!(message.seq, *l + 1, "a chat's messages out of order");
            *l = message.seq;
        }
    }
    assert_eq!(ids, posted, "every message exactly once");
    // The setup's events (chats created, creators joined) came first, also exactly once.
    let setup: Vec<_> = seen
        .iter()
        .filter(|e| !matches!(e.event, Event::MessageCreated { .. }))
        .collect();
    assert_eq!(setup.len(), CHATS * 2);
}

//! Races: concurrent posts to one chat, duplicate idempotent posts, concurrent joins.

use crate::helpers::*;
use messenger_domain::AccountId;
use messenger_ports::{AppendOutcome, Chats, IdempotencyRecord, Members, Messages};
use messenger_postgres::PgStore;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_get_distinct_gapless_sequence_numbers_and_readers_never_see_gaps() {
    let Some(schema) = TestSchema::new("concurrent_posts_get_distinct_gapless_sequence_numbers")
    else {
        return;
    };
    let store = schema.store().await;
    let (chat, m) = chat_with_creator_joined(&store).await;

    const WRITERS: usize = 3;
    const EACH: usize = 40;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (store, m) = (store.clone(), m.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                // Clocks disagree between writers: times must still never run backwards.
                let now = 1_000_000 + (i as i64) * 10 - (w as i64) * 500;
                let msg = post(&store, new_message(chat.id, &m, &format!("w{w} m{i}"), now)).await;
                seqs.push(msg.seq);
            }
            seqs
        }));
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = store.page_after(chat.id, 0, 1000).await.unwrap();
                let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
                let expected: Vec<u64> = (1..=page.last_seq).collect();
                assert_eq!(seqs, expected, "a read saw a gap or a seq beyond last_seq");
                reads += 1;
                if finished {
                    return reads;
                }
            }
        })
    };
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.await.unwrap() > 0);
    all.sort_unstable();
    assert_eq!(all, (1..=(WRITERS * EACH) as u64).collect::<Vec<_>>());
    let page = store.page_after(chat.id, 0, 1000).await.unwrap();
    for pair in page.messages.windows(2) {
        assert!(
            pair[0].created_at <= pair[1].created_at,
            "time ran backwards"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_duplicates_of_an_idempotent_post_store_one_message_and_replay_it() {
    let Some(schema) = TestSchema::new("racing_duplicates_of_an_idempotent_post_store_one_message")
    else {
        return;
    };
    let store = schema.store().await;
    let (chat, m) = chat_with_creator_joined(&store).await;

    for round in 0..5 {
        let key = format!("key-{round}");
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (store, m, key) = (store.clone(), m.clone(), key.clone());
            // Even attempts carry the same body; odd ones another body (a reused key).
            let text = if i % 2 == 0 { "same" } else { "different" };
            tasks.push(tokio::spawn(async move {
                let mut msg = new_message(chat.id, &m, text, 1_000);
                msg.idempotency = Some(IdempotencyRecord {
                    scope: "account:a".into(),
                    key,
                    fingerprint: messenger_domain::idempotency_fingerprint(m.id, text),
                });
                (text, store.append(msg).await.unwrap())
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let stored: Vec<_> = outcomes
            .iter()
            .filter_map(|(text, o)| match o {
                AppendOutcome::Stored(msg) => Some((*text, msg.id)),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 1, "exactly one attempt stores: {outcomes:?}");
        let (winner_text, winner_id) = stored[0];
        for (text, o) in &outcomes {
            match o {
                AppendOutcome::Stored(_) => {}
                AppendOutcome::Replayed(id) => {
                    assert_eq!(*text, winner_text);
                    assert_eq!(*id, winner_id);
                }
                AppendOutcome::KeyReused => assert_ne!(*text, winner_text),
                AppendOutcome::NotMember => panic!("a member's post was refused: {o:?}"),
            }
        }
    }
    let page = store.page_after(chat.id, 0, 100).await.unwrap();
    assert_eq!(page.messages.len(), 5, "one message per key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reusing_joins_give_one_member_and_legacy_joins_give_many() {
    let Some(schema) = TestSchema::new("racing_reusing_joins_give_one_member") else {
        return;
    };
    let store = schema.store().await;
    let owner = AccountId::from_u128(id());
    let chat = chat_by(owner);
    store.insert_chat(&chat).await.unwrap();

    for (reuse, expected) in [(true, 1), (false, 8)] {
        let account = AccountId::from_u128(id());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let member = member_of(chat.id, account, "same name");
            tasks.push(tokio::spawn(async move {
                store.join(&member, reuse).await.unwrap().id
            }));
        }
        let mut ids = HashSet::new();
        for t in tasks {
            ids.insert(t.await.unwrap());
        }
        assert_eq!(ids.len(), expected, "reuse = {reuse}");
    }
}

/// Joins and leaves racing in one chat keep the member count equal to the members listed,
/// and read markers racing with posts end at the furthest point marked (never moved back).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_joins_leaves_and_read_markers_stay_consistent() {
    let Some(schema) = TestSchema::new("racing_joins_leaves_and_read_markers_stay_consistent")
    else {
        return;
    };
    let store = schema.store().await;
    let (chat, poster) = chat_with_creator_joined(&store).await;
    let mut early = Vec::new();
    for i in 0..6 {
        let m = member_of(chat.id, AccountId::from_u128(id()), &format!("e{i}"));
        early.push(store.join(&m, true).await.unwrap());
    }
    let mut tasks = Vec::new();
    for (i, m) in early.iter().enumerate() {
        let (store, m) = (store.clone(), m.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store.leave(chat.id, m.id, i % 4 == 0).await.unwrap();
            } else {
                let again = member_of(chat.id, AccountId::from_u128(id()), "late");
                store.join(&again, true).await.unwrap();
            }
        }));
    }
    let reader = AccountId::from_u128(id());
    store
        .join(&member_of(chat.id, reader, "reader"), true)
        .await
        .unwrap();
    let posts = {
        let (store, poster) = (store.clone(), poster.clone());
        tokio::spawn(async move {
            for i in 0..30 {
                post(
                    &store,
                    new_message(chat.id, &poster, &format!("p{i}"), 5_000 + i),
                )
                .await;
            }
        })
    };
    let marks = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut furthest = 0;
            for _ in 0..30 {
                let end = store.page_after(chat.id, 0, 1).await.unwrap().last_seq;
                // Alternately the end and an earlier point: the marker must keep the end.
                for upto in [end, end / 2] {
                    store.mark_read(chat.id, reader, upto).await.unwrap();
                    furthest = furthest.max(upto);
                }
            }
            furthest
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    posts.await.unwrap();
    let furthest = marks.await.unwrap();

    let page = store.members_page(chat.id, 0, 1000).await.unwrap();
    let viewer = messenger_ports::ChatViewer {
        account: reader,
        every_chat: false,
    };
    let summary = store.chat_summary(chat.id, viewer).await.unwrap().unwrap();
    assert_eq!(
        summary.member_count,
        page.members.len() as u64,
        "member_count must equal the members listed"
    );
    assert_eq!(
        page.members.len(),
        1 + 6 - 3 + 3 + 1,
        "creator, early, late, reader"
    );
    assert_eq!(summary.last_seq, 30);
    assert_eq!(
        summary.read_seq, furthest,
        "the marker ends at the furthest point marked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_to_one_chat_share_transactions() {
    let Some(schema) = TestSchema::new("concurrent_posts_to_one_chat_share_transactions") else {
        return;
    };
    let store = schema.store().await;
    let (chat, m) = chat_with_creator_joined(&store).await;
    const POSTS: usize = 64;
    let mut tasks = Vec::new();
    for i in 0..POSTS {
        let (store, m) = (store.clone(), m.clone());
        tasks.push(tokio::spawn(async move {
            post(&store, new_message(chat.id, &m, &format!("m{i}"), 1_000))
                .await
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=POSTS as u64).collect::<Vec<_>>());
    // Rows written by one transaction share its id (`xmin`): fewer transactions than
    // posts means posts waiting for the chat went in together.
    let row = schema
        .client()
        .await
        .query_one("SELECT count(DISTINCT xmin::text)::int8 FROM messages", &[])
        .await
        .unwrap();
    let transactions: i64 = row.get(0);
    assert!(
        transactions < POSTS as i64,
        "{transactions} transactions for {POSTS} concurrent posts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_to_many_chats_of_one_lane_share_statements_and_stay_in_order() {
    let Some(schema) = TestSchema::new("concurrent_posts_to_many_chats_of_one_lane") else {
        return;
    };
    // One lane: every chat's posts go through the same batches.
    let config = schema.config().with_write_lanes(1);
    let store = PgStore::connect(&config, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    const CHATS: usize = 6;
    const EACH: usize = 12;
    let mut chats = Vec::new();
    for _ in 0..CHATS {
        chats.push(chat_with_creator_joined(&store).await);
    }
    let mut tasks = Vec::new();
    for i in 0..EACH {
        for (c, (chat, m)) in chats.iter().enumerate() {
            let (store, chat, m) = (store.clone(), chat.id, m.clone());
            // Times run backwards in the arrival order: `created_at` must not.
            let now = 1_000_000 - (i * CHATS + c) as i64;
            tasks.push(tokio::spawn(async move {
                post(&store, new_message(chat, &m, &format!("c{c} m{i}"), now)).await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let client = schema.client().await;
    for (chat, m) in &chats {
        let uuid = uuid::Uuid::from_u128(chat.id.as_u128());
        let page = store.page_after(chat.id, 0, 1000).await.unwrap();
        let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=EACH as u64).collect::<Vec<_>>());
        assert!(page.messages.iter().all(|x| x.user_name == m.name));
        for pair in page.messages.windows(2) {
            assert!(
                pair[0].created_at <= pair[1].created_at,
                "time ran backwards"
            );
        }
        // One `message.created` per message, in the chat's order.
        let events: Vec<i64> = client
            .query(
                "SELECT seq FROM events WHERE chat_id = $1 AND kind = 1 ORDER BY pos",
                &[&uuid],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(events, (1..=EACH as i64).collect::<Vec<_>>());
        // The poster has read its last post.
        let read: i64 = client
            .query_one(
                "SELECT read_seq FROM participants WHERE chat_id = $1",
                &[&uuid],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(read, EACH as i64);
    }
    // Rows written by one transaction share its id: some transaction stored posts of
    // more than one chat.
    let shared: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT xmin::text FROM messages GROUP BY 1 \
             HAVING count(DISTINCT chat_id) > 1) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(shared > 0, "no transaction stored posts of two chats");
}

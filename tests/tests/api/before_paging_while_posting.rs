//! Paging back with `before`/`prev` while others post: every message that existed when
//! paging began is seen exactly once, in the chat's order.

use super::before_paging::{chat_with_messages, ids};
use crate::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

/// Posts `each` messages from each of `posters` accounts concurrently; returns the tasks.
async fn start_posters(
    app: &Arc<TestApp>,
    chat: &str,
    posters: usize,
    each: usize,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    let mut tasks = Vec::new();
    for p in 0..posters {
        let poster = app.new_user().await;
        let member = app.join_ok(&poster, chat, &format!("poster {p}")).await;
        let (app, chat) = (app.clone(), chat.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(each);
            for i in 0..each {
                ids.push(
                    app.post_ok(&poster, &chat, &member, &format!("p{p} #{i}"))
                        .await,
                );
            }
            ids
        }));
    }
    tasks
}

/// Pages back from `before=` with `limit` to the first message; checks that the pages
/// meet exactly and returns what was read, oldest first, with the first page's `next`.
async fn page_back(app: &TestApp, user: &User, chat: &str, limit: u32) -> (Vec<Message>, u64) {
    let mut before = String::new();
    let mut seen: Vec<Message> = Vec::new();
    let mut start = None;
    loop {
        let page = app.before_page_ok(user, chat, limit, &before).await;
        start.get_or_insert(page.next_position());
        seen.splice(0..0, page.messages);
        match page.prev {
            Some(prev) => before = prev.iterator,
            None => return (seen, start.expect("set")),
        }
    }
}

/// Checks a backward read taken while others posted: each message once, and exactly the
/// chat's messages up to the point the first page marked, in the chat's order.
async fn check_read_back(
    app: &TestApp,
    user: &User,
    chat: &str,
    seen: &[Message],
    start: u64,
    seeded: &[String],
) {
    let seen_ids = ids(seen);
    let distinct: HashSet<&String> = seen_ids.iter().collect();
    assert_eq!(distinct.len(), seen_ids.len(), "a message was seen twice");
    for id in seeded {
        assert!(
            distinct.contains(id),
            "message {id}, there before paging began, was not seen"
        );
    }
    let (quiet, _) = app.all_messages(user, chat, 1000).await;
    let upto = usize::try_from(start).expect("small");
    assert!(
        upto >= seeded.len(),
        "the first page started before the seeded messages' end"
    );
    assert_eq!(
        seen_ids,
        ids(&quiet[..upto]),
        "the backward read is not the chat up to its start"
    );
}

async fn paging_back_while_others_post_sees_every_earlier_message_once(backend: Backend) {
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let (user, chat, _, seeded, _) = chat_with_messages(&app, 150).await;
    let posters = start_posters(&app, &chat, 4, 30).await;
    let (seen, start) = page_back(&app, &user, &chat, 7).await;
    for task in posters {
        task.await.expect("a poster panicked");
    }
    check_read_back(&app, &user, &chat, &seen, start, &ids(&seeded)).await;
}

/// Many writers at once (so sequence numbers are handed out under contention), then two
/// backward reads while others post: 10,000 messages, as a busy chat's history (about
/// 25 s per backend over HTTP on a shared 2-core machine).
async fn many_messages_posted_at_once_are_paged_back_exactly_once_while_others_post(
    backend: Backend,
) {
    const N: usize = 10_000;
    const WRITERS: usize = 16;
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let user = app.new_user().await;
    let (chat, _) = app.chat_with_member(&user).await;
    for task in start_posters(&app, &chat, WRITERS, N / WRITERS).await {
        task.await.expect("a writer panicked");
    }
    let (seeded, _) = app.all_messages(&user, &chat, 1000).await;
    assert_eq!(seeded.len(), N, "set-up: {N} messages");
    let posters = start_posters(&app, &chat, 2, 100).await;
    let (seen, start) = page_back(&app, &user, &chat, 500).await;
    check_read_back(&app, &user, &chat, &seen, start, &ids(&seeded)).await;
    let (seen, start) = page_back(&app, &user, &chat, 97).await;
    for task in posters {
        task.await.expect("a poster panicked");
    }
    check_read_back(&app, &user, &chat, &seen, start, &ids(&seeded)).await;
}

backend_tests!(
    paging_back_while_others_post_sees_every_earlier_message_once,
    many_messages_posted_at_once_are_paged_back_exactly_once_while_others_post,
);

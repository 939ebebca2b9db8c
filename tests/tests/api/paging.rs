//! Exact cursor paging: order, every message once, polling, bad cursors and limits, and
//! pages read right after a post (the page cache must never hide a message).

use crate::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

/// A user with a chat holding `n` messages `"m0"`, `"m1"`, …; returns their ids in order.
async fn chat_with_messages(app: &TestApp, n: usize) -> (User, String, String, Vec<String>) {
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(app.post_ok(&user, &chat, &member, &format!("m{i}")).await);
    }
    (user, chat, member, ids)
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.text.clone()).collect()
}

/// Pages from `from` with `limit` until an empty page; returns what was read.
async fn read_from(app: &TestApp, user: &User, chat: &str, limit: u32, from: &str) -> Vec<Message> {
    let mut all = Vec::new();
    let mut from = from.to_owned();
    loop {
        let page = app.page_ok(user, chat, limit, Some(&from)).await;
        if page.messages.is_empty() {
            return all;
        }
        all.extend(page.messages);
        from = page.next.iterator;
    }
}

async fn an_empty_chat_gives_an_empty_page_with_a_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert!(page.messages.is_empty());
    assert_eq!(
        cursor_position(&page.next.iterator),
        0,
        "an empty chat's cursor is at 0"
    );
    let again = app
        .page_ok(&user, &chat, 10, Some(&page.next.iterator))
        .await;
    assert!(again.messages.is_empty());
    assert_eq!(again.next.iterator, page.next.iterator);
    app.post_ok(&user, &chat, &member, "first").await;
    let polled = app
        .page_ok(&user, &chat, 10, Some(&page.next.iterator))
        .await;
    assert_eq!(texts(&polled.messages), ["first"]);
}

async fn messages_come_oldest_first(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, ids) = chat_with_messages(&app, 5).await;
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(texts(&page.messages), ["m0", "m1", "m2", "m3", "m4"]);
    let read: Vec<String> = page.messages.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(read, ids);
}

async fn paging_with_any_limit_visits_every_message_exactly_once(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, ids) = chat_with_messages(&app, 25).await;
    for limit in [1, 2, 3, 7, 10, 24, 25, 26, 1000] {
        let mut seen = Vec::new();
        let mut from: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = app.page_ok(&user, &chat, limit, from.as_deref()).await;
            pages += 1;
            let expected_len = (ids.len() - seen.len()).min(limit as usize);
            assert_eq!(
                page.messages.len(),
                expected_len,
                "limit {limit}, page {pages}"
            );
            if page.messages.is_empty() {
                break;
            }
            seen.extend(page.messages.into_iter().map(|m| m.message_id));
            from = Some(page.next.iterator);
        }
        assert_eq!(seen, ids, "limit {limit}");
    }
}

async fn the_last_page_cursor_marks_the_end(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, ids) = chat_with_messages(&app, 7).await;
    let page = app.page_ok(&user, &chat, 1000, None).await;
    assert_eq!(page.messages.len(), ids.len());
    assert_eq!(cursor_position(&page.next.iterator), ids.len() as u64);
    let after = app
        .page_ok(&user, &chat, 1000, Some(&page.next.iterator))
        .await;
    assert!(after.messages.is_empty());
    assert_eq!(
        after.next.iterator, page.next.iterator,
        "the end cursor moved"
    );
}

async fn polling_with_the_end_cursor_returns_exactly_the_new_messages(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _) = chat_with_messages(&app, 3).await;
    let (_, mut end) = app.all_messages(&user, &chat, 2).await;
    for round in 0..4 {
        let mut posted = Vec::new();
        for i in 0..round {
            let text = format!("round {round} #{i}");
            app.post_ok(&user, &chat, &member, &text).await;
            posted.push(text);
        }
        let page = app.page_ok(&user, &chat, 100, Some(&end)).await;
        assert_eq!(texts(&page.messages), posted, "round {round}");
        end = page.next.iterator;
    }
}

async fn the_cursor_of_an_earlier_page_still_works_later(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _) = chat_with_messages(&app, 5).await;
    let first = app.page_ok(&user, &chat, 2, None).await;
    for i in 0..3 {
        app.post_ok(&user, &chat, &member, &format!("late {i}"))
            .await;
    }
    let rest = read_from(&app, &user, &chat, 2, &first.next.iterator).await;
    assert_eq!(
        texts(&rest),
        ["m2", "m3", "m4", "late 0", "late 1", "late 2"]
    );
}

async fn paging_while_others_post_visits_every_message_once_in_order(backend: Backend) {
    const POSTERS: usize = 4;
    const EACH: usize = 40;
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let reader = app.new_user().await;
    let (chat, _) = app.chat_with_member(&reader).await;
    let mut posters = Vec::new();
    for p in 0..POSTERS {
        let poster = app.new_user().await;
        let member = app.join_ok(&poster, &chat, &format!("poster {p}")).await;
        let app = app.clone();
        let chat = chat.clone();
        posters.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(EACH);
            for i in 0..EACH {
                ids.push(
                    app.post_ok(&poster, &chat, &member, &format!("p{p} #{i}"))
                        .await,
                );
                if i % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            ids
        }));
    }
    let mut seen: Vec<Message> = Vec::new();
    let mut from: Option<String> = None;
    loop {
        // "Finished" is read before the page: an empty page after that is the true end.
        let done = posters.iter().all(|h| h.is_finished());
        let page = app.page_ok(&reader, &chat, 7, from.as_deref()).await;
        let empty = page.messages.is_empty();
        seen.extend(page.messages);
        from = Some(page.next.iterator);
        if done && empty {
            break;
        }
        if empty {
            tokio::task::yield_now().await;
        }
    }
    let mut posted = Vec::new();
    for handle in posters {
        posted.push(handle.await.expect("a poster panicked"));
    }
    let ids: Vec<&str> = seen.iter().map(|m| m.message_id.as_str()).collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "a message was seen twice");
    assert_eq!(ids.len(), POSTERS * EACH, "messages were skipped");
    let all: HashSet<&str> = posted.iter().flatten().map(String::as_str).collect();
    assert_eq!(distinct, all, "the pages and the posts differ");
    // The same order as a quiet read from the start, and each poster's messages in the
    // order it posted them.
    let (quiet, _) = app.all_messages(&reader, &chat, 1000).await;
    let quiet_ids: Vec<&str> = quiet.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, quiet_ids, "paging order differs from the chat's order");
    for (p, own) in posted.iter().enumerate() {
        let order: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| own.iter().any(|o| o == id))
            .collect();
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        assert_eq!(order, own, "poster {p}'s messages out of order");
    }
}

async fn polling_while_another_posts_sees_every_message_once(backend: Backend) {
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let reader = app.new_user().await;
    let (chat, _) = app.chat_with_member(&reader).await;
    let (_, start) = app.all_messages(&reader, &chat, 10).await;
    let poster = app.new_user().await;
    let member = app.join_ok(&poster, &chat, "poster").await;
    let writer = {
        let app = app.clone();
        let chat = chat.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..60 {
                ids.push(app.post_ok(&poster, &chat, &member, &format!("n{i}")).await);
            }
            ids
        })
    };
    let mut seen = Vec::new();
    let mut from = start;
    loop {
        let done = writer.is_finished();
        let page = app.page_ok(&reader, &chat, 1000, Some(&from)).await;
        let empty = page.messages.is_empty();
        seen.extend(page.messages.into_iter().map(|m| m.message_id));
        from = page.next.iterator;
        if done && empty {
            break;
        }
        tokio::task::yield_now().await;
    }
    let posted = writer.await.expect("the poster panicked");
    assert_eq!(seen, posted);
}

async fn from_empty_is_the_same_as_no_from(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _) = chat_with_messages(&app, 3).await;
    let without = app.page_ok(&user, &chat, 2, None).await;
    let empty = app.page_ok(&user, &chat, 2, Some("")).await;
    assert_eq!(without, empty);
}

async fn a_bad_cursor_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _) = chat_with_messages(&app, 3).await;
    let (other_chat, other_member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &other_chat, &other_member, "elsewhere")
        .await;
    let other_cursor = app.page_ok(&user, &other_chat, 1, None).await.next.iterator;
    let end = app.page_ok(&user, &chat, 100, None).await.next.iterator;
    for (case, cursor) in [
        ("garbage", "xyz".to_owned()),
        ("31 hex digits", end[..31].to_owned()),
        ("33 hex digits", format!("{end}0")),
        ("32 non-hex characters", "z".repeat(32)),
        ("all zeros", "0".repeat(32)),
        ("a cursor of another chat", other_cursor),
        ("beyond the last message", cursor_at(&end, 4)),
        ("far beyond the last message", cursor_at(&end, u64::MAX)),
        ("a cursor with a space", format!(" {}", &end[1..])),
    ] {
        app.get_messages(&user, &chat, "10", Some(&cursor))
            .await
            .assert_error(400, "bad-cursor", case);
    }
    // The end itself and every position before it are fine.
    for position in 0..=3 {
        app.page_ok(&user, &chat, 10, Some(&cursor_at(&end, position)))
            .await;
    }
}

async fn a_cursor_beyond_the_end_of_an_empty_chat_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let end = app.page_ok(&user, &chat, 10, None).await.next.iterator;
    app.get_messages(&user, &chat, "10", Some(&cursor_at(&end, 1)))
        .await
        .assert_error(400, "bad-cursor", "position 1 of an empty chat");
}

async fn a_limit_out_of_range_or_not_an_integer_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _) = chat_with_messages(&app, 2).await;
    for limit in [
        "0",
        "1001",
        "-1",
        "abc",
        "1.5",
        "",
        " 5",
        "1e2",
        "99999999999999999999",
        "0x10",
    ] {
        app.get_messages(&user, &chat, limit, None)
            .await
            .assert_error(400, "bad-parameters", &format!("limit={limit:?}"));
    }
    let reply = app
        .raw(
            Method::GET,
            &format!("/v1/chats/{chat}/messages"),
            &user,
            &[],
            None,
        )
        .await;
    reply.assert_error(400, "bad-parameters", "no limit");
    let reply = app
        .raw(
            Method::GET,
            &format!("/v1/chats/{chat}/messages?from="),
            &user,
            &[],
            None,
        )
        .await;
    reply.assert_error(400, "bad-parameters", "no limit, empty from");
    for limit in [1, 1000] {
        app.page_ok(&user, &chat, limit, None).await;
    }
}

async fn a_full_page_read_before_a_post_does_not_hide_it(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _) = chat_with_messages(&app, 10).await;
    let full = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(full.messages.len(), 10);
    app.post_ok(&user, &chat, &member, "after the full page")
        .await;
    let again = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(again, full, "a full page changed");
    let next = app
        .page_ok(&user, &chat, 10, Some(&full.next.iterator))
        .await;
    assert_eq!(texts(&next.messages), ["after the full page"]);
    let bigger = app.page_ok(&user, &chat, 20, None).await;
    assert_eq!(bigger.messages.len(), 11);
}

async fn a_partial_last_page_read_before_a_post_shows_it_afterwards(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _) = chat_with_messages(&app, 3).await;
    let second_page_from = app.page_ok(&user, &chat, 2, None).await.next.iterator;
    for i in 0..12 {
        let before = app.page_ok(&user, &chat, 10, None).await.messages.len();
        let tail = app
            .page_ok(&user, &chat, 2, Some(&second_page_from))
            .await
            .messages
            .len();
        let text = format!("new {i}");
        app.post_ok(&user, &chat, &member, &text).await;
        let page = app.page_ok(&user, &chat, 10, None).await;
        assert_eq!(page.messages.len(), (before + 1).min(10), "after post {i}");
        if before < 10 {
            assert_eq!(
                page.messages.last().map(|m| m.text.as_str()),
                Some(text.as_str())
            );
        }
        let tail_after = app.page_ok(&user, &chat, 2, Some(&second_page_from)).await;
        assert_eq!(
            tail_after.messages.len(),
            (tail + 1).min(2),
            "tail after post {i}"
        );
        let (all, _) = app.all_messages(&user, &chat, 4).await;
        assert_eq!(
            all.last().map(|m| m.text.as_str()),
            Some(text.as_str()),
            "paging after post {i}"
        );
    }
}

async fn pages_are_right_with_the_page_cache_off(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).with(|c| c.cache.page_cache = false)).await;
    let (user, chat, member, ids) = chat_with_messages(&app, 9).await;
    let (all, end) = app.all_messages(&user, &chat, 4).await;
    let read: Vec<String> = all.into_iter().map(|m| m.message_id).collect();
    assert_eq!(read, ids);
    app.post_ok(&user, &chat, &member, "one more").await;
    let polled = app.page_ok(&user, &chat, 4, Some(&end)).await;
    assert_eq!(texts(&polled.messages), ["one more"]);
}

backend_tests!(
    an_empty_chat_gives_an_empty_page_with_a_cursor,
    messages_come_oldest_first,
    paging_with_any_limit_visits_every_message_exactly_once,
    the_last_page_cursor_marks_the_end,
    polling_with_the_end_cursor_returns_exactly_the_new_messages,
    the_cursor_of_an_earlier_page_still_works_later,
    paging_while_others_post_visits_every_message_once_in_order,
    polling_while_another_posts_sees_every_message_once,
    from_empty_is_the_same_as_no_from,
    a_bad_cursor_is_400_bad_cursor,
    a_cursor_beyond_the_end_of_an_empty_chat_is_400_bad_cursor,
    a_limit_out_of_range_or_not_an_integer_is_400_bad_parameters,
    a_full_page_read_before_a_post_does_not_hide_it,
    a_partial_last_page_read_before_a_post_shows_it_afterwards,
    pages_are_right_with_the_page_cache_off,
);

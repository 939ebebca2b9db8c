//! Newest-first paging: `before=` (empty: the end of the chat), `prev` on every page,
//! paging back through the whole history exactly once, both ends of a chat, and the bad
//! inputs of the combination. (Paging back while others post: `before_paging_while_posting`.)

use crate::prelude::*;

/// A user with a chat holding `n` messages `"m0"`, `"m1"`, … posted one after another;
/// returns them as a forward read gives them, with a cursor of the chat.
pub(super) async fn chat_with_messages(
    app: &TestApp,
    n: usize,
) -> (User, String, String, Vec<Message>, String) {
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    for i in 0..n {
        app.post_ok(&user, &chat, &member, &format!("m{i}")).await;
    }
    let (messages, end) = app.all_messages(&user, &chat, 1000).await;
    assert_eq!(messages.len(), n, "set-up: the forward read");
    (user, chat, member, messages, end)
}

pub(super) fn ids(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.message_id.clone()).collect()
}

fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

async fn before_empty_gives_the_newest_messages_oldest_first(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, all, end) = chat_with_messages(&app, 10).await;
    let page = app.before_page_ok(&user, &chat, 3, "").await;
    assert_eq!(page.texts(), texts(7..10), "before= with limit 3");
    assert_eq!(
        page.messages,
        all[7..].to_vec(),
        "the messages as a forward read shows them"
    );
    assert_eq!(
        page.prev_position(),
        Some(7),
        "prev marks the point before m7"
    );
    assert_eq!(page.next_position(), 10, "next marks the end");
    assert_eq!(
        page.next.iterator, end,
        "next is the forward read's end cursor"
    );
    let at_end = app.before_page_ok(&user, &chat, 3, &end).await;
    assert_eq!(
        at_end, page,
        "before=<the end cursor> is the same as before="
    );
    let whole = app.before_page_ok(&user, &chat, 1000, "").await;
    assert_eq!(
        whole.messages, all,
        "a limit above the chat's size gives it all"
    );
    assert_eq!(whole.prev, None, "the page starts at the first message");
}

async fn before_a_cursor_gives_the_messages_at_or_below_it(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, end) = chat_with_messages(&app, 10).await;
    let page = app
        .before_page_ok(&user, &chat, 3, &cursor_at(&end, 5))
        .await;
    assert_eq!(page.texts(), texts(2..5), "before position 5, limit 3");
    assert_eq!(
        page.prev_position(),
        Some(2),
        "prev before position 5, limit 3"
    );
    assert_eq!(page.next_position(), 5, "next before position 5");
    let page = app
        .before_page_ok(&user, &chat, 10, &cursor_at(&end, 5))
        .await;
    assert_eq!(page.texts(), texts(0..5), "before position 5, limit 10");
    assert_eq!(
        page.prev, None,
        "before position 5, limit 10: starts at the first"
    );
    let page = app
        .before_page_ok(&user, &chat, 5, &cursor_at(&end, 5))
        .await;
    assert_eq!(page.texts(), texts(0..5), "before position 5, limit 5");
    assert_eq!(
        page.prev, None,
        "a full page that starts at the first message"
    );
    let page = app
        .before_page_ok(&user, &chat, 1, &cursor_at(&end, 1))
        .await;
    assert_eq!(page.texts(), texts(0..1), "before position 1");
    assert_eq!(page.prev, None, "before position 1");
}

async fn paging_back_with_prev_visits_every_message_exactly_once(backend: Backend) {
    const N: usize = 300;
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, all, _) = chat_with_messages(&app, N).await;
    // Page by page with limit 7, checking where every page starts and ends.
    let mut before = String::new();
    let mut upper = N;
    let mut back: Vec<Message> = Vec::new();
    loop {
        let page = app.before_page_ok(&user, &chat, 7, &before).await;
        let lower = upper.saturating_sub(7);
        assert_eq!(
            page.messages,
            all[lower..upper].to_vec(),
            "limit 7: the page below position {upper}"
        );
        assert_eq!(
            page.next_position(),
            upper as u64,
            "limit 7: next of the page below {upper}"
        );
        back.splice(0..0, page.messages);
        match page.prev {
            Some(prev) => {
                assert_eq!(
                    cursor_position(&prev.iterator),
                    lower as u64,
                    "limit 7: prev"
                );
                before = prev.iterator;
                upper = lower;
            }
            None => {
                assert_eq!(lower, 0, "prev is null before the first message only");
                break;
            }
        }
    }
    assert_eq!(ids(&back), ids(&all), "limit 7: paging back");
    for limit in [1, 50, 299, 300, 301, 1000] {
        let back = app.all_messages_backwards(&user, &chat, limit).await;
        assert_eq!(ids(&back), ids(&all), "paging back with limit {limit}");
    }
}

async fn every_page_carries_prev(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, end) = chat_with_messages(&app, 6).await;
    let first = app.from_page_ok(&user, &chat, 3, None).await;
    assert_eq!(first.texts(), texts(0..3));
    assert_eq!(first.prev, None, "the first page (no from)");
    let second = app
        .from_page_ok(&user, &chat, 3, Some(&first.next.iterator))
        .await;
    assert_eq!(second.texts(), texts(3..6));
    assert_eq!(second.prev_position(), Some(3), "the second page's prev");
    let from_zero = app
        .from_page_ok(&user, &chat, 3, Some(&cursor_at(&end, 0)))
        .await;
    assert_eq!(
        from_zero.prev, None,
        "from position 0 starts at the first message"
    );
    let middle = app
        .from_page_ok(&user, &chat, 2, Some(&cursor_at(&end, 1)))
        .await;
    assert_eq!(middle.texts(), texts(1..3));
    assert_eq!(middle.prev_position(), Some(1), "from position 1");
    // An empty page at the end: prev marks the end, so before=prev shows the newest.
    let past = app.from_page_ok(&user, &chat, 3, Some(&end)).await;
    assert!(past.messages.is_empty(), "from the end");
    assert_eq!(
        past.prev_position(),
        Some(6),
        "prev of the empty page at the end"
    );
    assert_eq!(past.next.iterator, end, "next of the empty page at the end");
}

async fn prev_and_next_at_both_ends(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _, end) = chat_with_messages(&app, 4).await;
    // Before the very beginning: nothing, and nothing further back.
    let start = app
        .before_page_ok(&user, &chat, 10, &cursor_at(&end, 0))
        .await;
    assert!(start.messages.is_empty(), "before position 0");
    assert_eq!(start.prev, None, "before position 0: prev");
    assert_eq!(start.next_position(), 0, "before position 0: next");
    // The newest page's next is the end: polling from it gives exactly what comes later.
    let newest = app.before_page_ok(&user, &chat, 2, "").await;
    assert_eq!(newest.next.iterator, end, "the newest page's next");
    let polled = app
        .from_page_ok(&user, &chat, 10, Some(&newest.next.iterator))
        .await;
    assert!(polled.messages.is_empty(), "nothing after the end yet");
    app.post_ok(&user, &chat, &member, "later").await;
    let polled = app
        .from_page_ok(&user, &chat, 10, Some(&newest.next.iterator))
        .await;
    assert_eq!(
        polled.texts(),
        ["later"],
        "polling from the newest page's next"
    );
    assert_eq!(polled.prev_position(), Some(4), "the polled page's prev");
    let newest = app.before_page_ok(&user, &chat, 2, "").await;
    assert_eq!(newest.texts(), ["m3", "later"], "before= after a post");
    assert_eq!(newest.next_position(), 5);
}

async fn an_empty_chat_gives_an_empty_page_before_its_end(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let page = app.before_page_ok(&user, &chat, 10, "").await;
    assert!(page.messages.is_empty(), "an empty chat");
    assert_eq!(page.prev, None, "an empty chat: prev");
    assert_eq!(page.next_position(), 0, "an empty chat: next marks 0");
    let first = app.from_page_ok(&user, &chat, 10, None).await;
    assert_eq!(first.prev, None, "an empty chat's first page: prev");
    app.post_ok(&user, &chat, &member, "first").await;
    let polled = app
        .from_page_ok(&user, &chat, 10, Some(&page.next.iterator))
        .await;
    assert_eq!(
        polled.texts(),
        ["first"],
        "polling from the empty chat's end"
    );
    let page = app.before_page_ok(&user, &chat, 10, "").await;
    assert_eq!(page.texts(), ["first"]);
    assert_eq!(page.prev, None, "one message: the page starts at the first");
}

async fn prev_used_as_from_continues_right_after_that_point(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, _) = chat_with_messages(&app, 9).await;
    let newest = app.before_page_ok(&user, &chat, 4, "").await;
    let prev = newest.prev.clone().expect("a prev before m5").iterator;
    let forward = app.from_page_ok(&user, &chat, 4, Some(&prev)).await;
    assert_eq!(
        forward.messages, newest.messages,
        "from=prev gives the same page"
    );
    let older = app.before_page_ok(&user, &chat, 4, &prev).await;
    assert_eq!(
        older.texts(),
        texts(1..5),
        "before=prev gives the page before"
    );
    assert_eq!(
        older.next.iterator, prev,
        "that page's next is the prev it came from"
    );
}

async fn from_and_before_together_are_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, end) = chat_with_messages(&app, 3).await;
    let start = cursor_at(&end, 0);
    for (case, query) in [
        (
            "both cursors",
            format!("limit=10&from={start}&before={end}"),
        ),
        (
            "from and an empty before",
            format!("limit=10&from={start}&before="),
        ),
        (
            "before first",
            format!("limit=10&before={end}&from={start}"),
        ),
    ] {
        app.get_messages_query(&user, &chat, &query)
            .await
            .assert_error(400, "bad-parameters", case);
        app.get_messages_query(&user, &"a".repeat(32), &query)
            .await
            .assert_error(400, "bad-parameters", &format!("{case}, an unknown chat"));
    }
}

async fn a_bad_before_cursor_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, end) = chat_with_messages(&app, 3).await;
    let (other_chat, other_member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &other_chat, &other_member, "elsewhere")
        .await;
    let other_cursor = app
        .page_ok(&user, &other_chat, 10, None)
        .await
        .next
        .iterator;
    for (case, cursor) in [
        ("garbage", "xyz".to_owned()),
        ("31 hex digits", end[..31].to_owned()),
        ("33 hex digits", format!("{end}0")),
        ("32 non-hex characters", "z".repeat(32)),
        ("all zeros", "0".repeat(32)),
        ("a cursor of another chat", other_cursor),
        ("beyond the last message", cursor_at(&end, 4)),
        ("far beyond the last message", cursor_at(&end, u64::MAX)),
    ] {
        app.get_messages_before(&user, &chat, "10", &cursor)
            .await
            .assert_error(400, "bad-cursor", case);
        app.get_messages_before(&user, &"b".repeat(32), "10", &cursor)
            .await
            .assert_error(404, "chat-not-found", &format!("{case}, an unknown chat"));
    }
}

async fn a_bad_limit_with_before_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, _, _, _) = chat_with_messages(&app, 2).await;
    for limit in ["0", "1001", "-1", "abc", "1.5", ""] {
        app.get_messages_before(&user, &chat, limit, "")
            .await
            .assert_error(400, "bad-parameters", &format!("before=, limit={limit:?}"));
    }
    app.get_messages_query(&user, &chat, "before=")
        .await
        .assert_error(400, "bad-parameters", "before= without a limit");
    for limit in [1, 1000] {
        app.before_page_ok(&user, &chat, limit, "").await;
    }
}

async fn before_pages_of_a_chat_you_cannot_read_are_404(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, chat, _, _, _) = chat_with_messages(&app, 2).await;
    let stranger = app.new_user().await;
    app.get_messages_before(&stranger, &chat, "10", "")
        .await
        .assert_error(404, "chat-not-found", "someone else's chat");
    app.get_messages_before(&stranger, "nope", "10", "")
        .await
        .assert_error(404, "chat-not-found", "an unparseable chat id");
}

async fn a_full_before_page_never_changes_and_the_newest_page_shows_new_posts(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, chat, member, _, end) = chat_with_messages(&app, 10).await;
    let fixed = app
        .before_page_ok(&user, &chat, 4, &cursor_at(&end, 8))
        .await;
    let newest = app.before_page_ok(&user, &chat, 4, "").await;
    assert_eq!(newest.texts(), texts(6..10));
    for i in 0..3 {
        let text = format!("new {i}");
        app.post_ok(&user, &chat, &member, &text).await;
        let again = app
            .before_page_ok(&user, &chat, 4, &cursor_at(&end, 8))
            .await;
        assert_eq!(again, fixed, "a full before page changed after post {i}");
        let newest = app.before_page_ok(&user, &chat, 4, "").await;
        assert_eq!(
            newest.messages.last().map(|m| m.text.as_str()),
            Some(text.as_str()),
            "before= right after post {i}"
        );
        assert_eq!(
            newest.next_position(),
            11 + i as u64,
            "the end after post {i}"
        );
    }
}

async fn before_paging_is_right_with_the_page_cache_off(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).with(|c| c.cache.page_cache = false)).await;
    let (user, chat, member, all, _) = chat_with_messages(&app, 9).await;
    let back = app.all_messages_backwards(&user, &chat, 4).await;
    assert_eq!(ids(&back), ids(&all));
    app.post_ok(&user, &chat, &member, "one more").await;
    let newest = app.before_page_ok(&user, &chat, 1, "").await;
    assert_eq!(newest.texts(), ["one more"]);
}

backend_tests!(
    before_empty_gives_the_newest_messages_oldest_first,
    before_a_cursor_gives_the_messages_at_or_below_it,
    paging_back_with_prev_visits_every_message_exactly_once,
    every_page_carries_prev,
    prev_and_next_at_both_ends,
    an_empty_chat_gives_an_empty_page_before_its_end,
    prev_used_as_from_continues_right_after_that_point,
    from_and_before_together_are_400_bad_parameters,
    a_bad_before_cursor_is_400_bad_cursor,
    a_bad_limit_with_before_is_400_bad_parameters,
    before_pages_of_a_chat_you_cannot_read_are_404,
    a_full_before_page_never_changes_and_the_newest_page_shows_new_posts,
    before_paging_is_right_with_the_page_cache_off,
);

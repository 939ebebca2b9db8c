//! Read markers (`PUT /v1/chats/{chat_id}/read`) and unread counts: the marker only moves
//! forward; joining puts it at the end; posting moves the poster's; others' posts count;
//! leaving ends it; each account has its own.

use crate::prelude::*;

/// Alice's chat with bob in it, and `n` messages from alice; returns
/// `(alice, bob, chat, alice's member, bob's member, a cursor of the chat)`.
async fn chat_of_two(app: &TestApp, n: usize) -> (User, User, String, String, String, String) {
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    for i in 0..n {
        app.post_ok(&alice, &chat, &a, &format!("m{i}")).await;
    }
    let end = app.page_ok(&alice, &chat, 1000, None).await.next.iterator;
    (alice, bob, chat, a, b, end)
}

/// The caller's unread count and marker position in `chat`, from its summary, checked
/// against its list entry.
async fn unread(app: &TestApp, auth: &User, chat: &str) -> (u64, u64) {
    let s = app.chat_summary_ok(auth, chat).await;
    let listed = app.all_chats(auth, 100).await;
    let entry = listed
        .iter()
        .find(|c| c.chat_id == chat)
        .expect("the chat is in the list");
    assert_eq!(
        (entry.unread_count, &entry.read.iterator),
        (s.unread_count, &s.read.iterator),
        "the list and the summary disagree on the marker"
    );
    (s.unread_count, cursor_position(&s.read.iterator))
}

async fn marking_read_answers_the_marker_and_the_unread_count(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, bob, chat, _, _, end) = chat_of_two(&app, 5).await;
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (5, 0),
        "bob joined before the 5 messages"
    );
    let marker = app.mark_read_ok(&bob, &chat, &cursor_at(&end, 3)).await;
    assert_eq!(
        cursor_position(&marker.read.iterator),
        3,
        "the marker after reading 3"
    );
    assert_eq!(marker.unread_count, 2, "unread after reading 3 of 5");
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (2, 3),
        "the summary agrees"
    );
    let marker = app.mark_read_ok(&bob, &chat, &end).await;
    assert_eq!(
        (marker.unread_count, marker.read.iterator.as_str()),
        (0, end.as_str()),
        "read to the end"
    );
    assert_eq!(unread(&app, &bob, &chat).await, (0, 5));
}

async fn the_marker_only_moves_forward(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, bob, chat, _, _, end) = chat_of_two(&app, 6).await;
    app.mark_read_ok(&bob, &chat, &cursor_at(&end, 4)).await;
    for back in [3, 1, 0] {
        let marker = app.mark_read_ok(&bob, &chat, &cursor_at(&end, back)).await;
        assert_eq!(
            cursor_position(&marker.read.iterator),
            4,
            "marking position {back} after 4"
        );
        assert_eq!(
            marker.unread_count, 2,
            "unread after marking position {back}"
        );
    }
    let marker = app.mark_read_ok(&bob, &chat, &cursor_at(&end, 4)).await;
    assert_eq!(
        cursor_position(&marker.read.iterator),
        4,
        "the same position again"
    );
    assert_eq!(unread(&app, &bob, &chat).await, (2, 4));
}

async fn every_cursor_the_service_gives_is_accepted(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, bob, chat, _, _, _) = chat_of_two(&app, 6).await;
    let first = app.from_page_ok(&bob, &chat, 2, None).await;
    let m = app.mark_read_ok(&bob, &chat, &first.next.iterator).await;
    assert_eq!(m.unread_count, 4, "a page's next");
    let newest = app.before_page_ok(&bob, &chat, 1, "").await;
    let prev = newest.prev.expect("a prev").iterator;
    let m = app.mark_read_ok(&bob, &chat, &prev).await;
    assert_eq!(m.unread_count, 1, "a page's prev");
    let end = app.chat_summary_ok(&bob, &chat).await.end.iterator;
    let m = app.mark_read_ok(&bob, &chat, &end).await;
    assert_eq!(m.unread_count, 0, "the summary's end");
    let m = app.mark_read_ok(&bob, &chat, &m.read.iterator).await;
    assert_eq!(m.unread_count, 0, "the marker itself");
}

async fn joining_puts_the_marker_at_the_end(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (alice, _, chat, a, _, _) = chat_of_two(&app, 7).await;
    let carol = app.new_user().await;
    app.join_ok(&carol, &chat, "carol").await;
    assert_eq!(
        unread(&app, &carol, &chat).await,
        (0, 7),
        "history is not unread"
    );
    app.post_ok(&alice, &chat, &a, "after carol joined").await;
    assert_eq!(unread(&app, &carol, &chat).await, (1, 7), "one new message");
}

async fn others_posts_raise_the_count_and_own_posts_clear_it(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (alice, bob, chat, a, b, _) = chat_of_two(&app, 0).await;
    for i in 1..=3 {
        app.post_ok(&alice, &chat, &a, &format!("from alice {i}"))
            .await;
        assert_eq!(
            unread(&app, &bob, &chat).await,
            (i, 0),
            "bob after alice's post {i}"
        );
        assert_eq!(
            unread(&app, &alice, &chat).await,
            (0, i),
            "alice after her own post {i}"
        );
    }
    app.post_ok(&bob, &chat, &b, "from bob").await;
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (0, 4),
        "posting moves the poster's marker"
    );
    assert_eq!(
        unread(&app, &alice, &chat).await,
        (1, 3),
        "alice has bob's message unread"
    );
    app.post_ok(&alice, &chat, &a, "from alice 4").await;
    assert_eq!(
        unread(&app, &alice, &chat).await,
        (0, 5),
        "alice's post covers bob's too"
    );
    assert_eq!(unread(&app, &bob, &chat).await, (1, 4));
}

async fn two_accounts_markers_are_independent(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (alice, bob, chat, _, b, end) = chat_of_two(&app, 4).await;
    let carol = app.new_user().await;
    let c = app.join_ok(&carol, &chat, "carol").await;
    for i in 0..4 {
        app.post_ok(&carol, &chat, &c, &format!("c{i}")).await;
    }
    app.mark_read_ok(&bob, &chat, &cursor_at(&end, 2)).await;
    assert_eq!(unread(&app, &bob, &chat).await, (6, 2), "bob read 2 of 8");
    assert_eq!(
        unread(&app, &alice, &chat).await,
        (4, 4),
        "alice is untouched by bob's marker"
    );
    assert_eq!(
        unread(&app, &carol, &chat).await,
        (0, 8),
        "carol posted last"
    );
    app.mark_read_ok(&alice, &chat, &cursor_at(&end, 4)).await;
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (6, 2),
        "bob is untouched by alice's marking"
    );
    app.post_ok(&bob, &chat, &b, "bob").await;
    assert_eq!(unread(&app, &alice, &chat).await, (5, 4));
    assert_eq!(unread(&app, &carol, &chat).await, (1, 8));
    // Markers of one account are per chat.
    let (other, _) = app.chat_with_member(&bob).await;
    assert_eq!(
        unread(&app, &bob, &other).await,
        (0, 0),
        "another chat of bob's"
    );
}

async fn the_marker_is_per_account_not_per_identity(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (alice, bob, chat, a, _, _) = chat_of_two(&app, 0).await;
    let alias = app.join_ok(&bob, &chat, "bob's alias").await;
    for i in 0..3 {
        app.post_ok(&alice, &chat, &a, &format!("m{i}")).await;
    }
    assert_eq!(unread(&app, &bob, &chat).await, (3, 0));
    app.post_ok(&bob, &chat, &alias, "as the alias").await;
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (0, 4),
        "a post under any identity moves it"
    );
    let other_session = Auth::Token(app.login_ok(&bob.name, &bob.password).await);
    let s = app.chat_summary_ok(&other_session, &chat).await;
    assert_eq!(
        s.unread_count, 0,
        "another session of bob's sees the same marker"
    );
}

async fn leaving_ends_the_marker_and_joining_again_starts_at_the_end(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (alice, bob, chat, a, b, end) = chat_of_two(&app, 3).await;
    app.remove_member_ok(&bob, &chat, &b).await;
    app.mark_read(&bob, &chat, &end).await.assert_error(
        404,
        "chat-not-found",
        "marking a chat bob left",
    );
    app.chat_summary(&bob, &chat).await.assert_error(
        404,
        "chat-not-found",
        "the summary of a chat bob left",
    );
    assert!(
        app.all_chats(&bob, 100).await.is_empty(),
        "bob's list after leaving"
    );
    for i in 0..2 {
        app.post_ok(&alice, &chat, &a, &format!("while bob was away {i}"))
            .await;
    }
    app.join_ok(&bob, &chat, "bob is back").await;
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (0, 5),
        "joining again starts at the end"
    );
    app.post_ok(&alice, &chat, &a, "welcome back").await;
    assert_eq!(unread(&app, &bob, &chat).await, (1, 5));
}

async fn a_bad_cursor_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, bob, chat, _, _, end) = chat_of_two(&app, 3).await;
    let (other, member) = app.chat_with_member(&bob).await;
    app.post_ok(&bob, &other, &member, "elsewhere").await;
    let other_cursor = app.page_ok(&bob, &other, 10, None).await.next.iterator;
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
        app.mark_read(&bob, &chat, &cursor)
            .await
            .assert_error(400, "bad-cursor", case);
        app.mark_read(&bob, &"c".repeat(32), &cursor)
            .await
            .assert_error(404, "chat-not-found", &format!("{case}, an unknown chat"));
    }
    assert_eq!(
        unread(&app, &bob, &chat).await,
        (3, 0),
        "bad cursors left the marker"
    );
}

async fn a_missing_or_bad_body_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, bob, chat, _, _, end) = chat_of_two(&app, 1).await;
    for (target, id) in [
        ("bob's chat", chat.clone()),
        ("an unknown chat", "d".repeat(32)),
        ("an unparseable id", "nope".into()),
    ] {
        for (case, body) in [
            ("no iterator", json!({})),
            ("a number", json!({ "iterator": 5 })),
            ("null", json!({ "iterator": null })),
            ("an object", json!({ "iterator": { "iterator": end } })),
            (
                "the read object instead",
                json!({ "read": { "iterator": end } }),
            ),
            ("not an object", json!(end)),
            ("U+0000", json!({ "iterator": "a\u{0}" })),
        ] {
            app.put_read(&bob, &id, Some(&body)).await.assert_error(
                400,
                "bad-parameters",
                &format!("{case}, {target}"),
            );
        }
        app.put_read(&bob, &id, None).await.assert_error(
            400,
            "bad-parameters",
            &format!("no body, {target}"),
        );
        let path = format!("/v1/chats/{id}/read");
        app.raw_bytes(
            Method::PUT,
            &path,
            &bob,
            &[("content-type", "application/json")],
            b"{".to_vec(),
        )
        .await
        .assert_error(400, "bad-parameters", &format!("malformed JSON, {target}"));
    }
}

async fn marking_a_chat_you_cannot_read_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_, _, chat, _, _, end) = chat_of_two(&app, 1).await;
    let mallory = app.new_user().await;
    app.mark_read(&mallory, &chat, &end).await.assert_error(
        404,
        "chat-not-found",
        "someone else's chat",
    );
    app.mark_read(&mallory, &chat, "xyz").await.assert_error(
        404,
        "chat-not-found",
        "someone else's chat, a bad cursor",
    );
    app.mark_read(&mallory, "nope", &end).await.assert_error(
        404,
        "chat-not-found",
        "an unparseable chat id",
    );
}

backend_tests!(
    marking_read_answers_the_marker_and_the_unread_count,
    the_marker_only_moves_forward,
    every_cursor_the_service_gives_is_accepted,
    joining_puts_the_marker_at_the_end,
    others_posts_raise_the_count_and_own_posts_clear_it,
    two_accounts_markers_are_independent,
    the_marker_is_per_account_not_per_identity,
    leaving_ends_the_marker_and_joining_again_starts_at_the_end,
    a_bad_cursor_is_400_bad_cursor,
    a_missing_or_bad_body_is_400_bad_parameters,
    marking_a_chat_you_cannot_read_is_404_chat_not_found,
);

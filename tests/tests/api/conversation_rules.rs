//! The rules every conversation route shares: authentication, the error order of
//! `DECISIONS.md` (401 → 429 → 400 → 404 chat → user / cursor → 403), and legacy mode.

use crate::prelude::*;

async fn every_conversation_route_without_a_valid_session_is_401(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_a_conversation().await;
    for route in &routes {
        app.call(route, Auth::None).await.assert_error(
            401,
            "auth-failed",
            &format!("{}: no header", route.name),
        );
        app.call(route, Auth::Raw(format!("Bearer {}", user.token)))
            .await
            .assert_error(
                401,
                "auth-failed",
                &format!("{}: another scheme", route.name),
            );
        app.call(route, Auth::Token("0".repeat(32)))
            .await
            .assert_error(
                401,
                "invalid-session-id",
                &format!("{}: an unknown token", route.name),
            );
    }
    app.advance(Duration::from_secs(2 * 3600));
    for route in &routes {
        app.call(route, &user).await.assert_error(
            401,
            "session-id-expired",
            &format!("{}: an expired session", route.name),
        );
    }
}

/// A throttled service (1 request/s, burst 3) and a user with a chat, a member and a
/// cursor of it, whose budget is spent, and whose address's budget is spent too.
async fn spent(backend: Backend) -> (TestApp, User, String, String, String) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 3)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &chat, &member, "hello").await;
    app.advance(Duration::from_secs(60));
    let cursor = app.page_ok(&user, &chat, 10, None).await.next.iterator;
    for _ in 0..3 {
        let _ = app.get_messages(&user, &chat, "10", None).await;
    }
    app.get_messages(&user, &chat, "10", None)
        .await
        .assert_throttled("set-up: the budget is spent");
    for _ in 0..4 {
        let _ = app.login(&unique("nobody"), "x").await;
    }
    (app, user, chat, member, cursor)
}

async fn authentication_answers_before_throttling(backend: Backend) {
    let (app, _, chat, member, cursor) = spent(backend).await;
    for route in &conversation_routes(&chat, &member, &cursor) {
        app.call(route, Auth::None).await.assert_error(
            401,
            "auth-failed",
            &format!("{}: no header, budget spent", route.name),
        );
    }
}

async fn throttling_answers_before_bad_input(backend: Backend) {
    let (app, user, chat, member, _) = spent(backend).await;
    app.list_chats(&user, "0", None)
        .await
        .assert_throttled("list: limit 0");
    app.patch_chat(&user, &chat, Some(&json!({ "chat_name": "" })))
        .await
        .assert_throttled("rename: an empty name");
    app.put_read(&user, &chat, None)
        .await
        .assert_throttled("mark read: no body");
    app.get_messages_query(&user, &chat, "limit=10&from=x&before=y")
        .await
        .assert_throttled("messages: from and before");
    app.list_members(&user, &chat, "0", None)
        .await
        .assert_throttled("members: limit 0");
    app.chat_summary(&user, "nope")
        .await
        .assert_throttled("summary: an unparseable chat");
    app.remove_member(&user, &chat, &member)
        .await
        .assert_throttled("remove: a valid member");
    // The refused request did not remove anything.
    app.advance(Duration::from_secs(60));
    app.post_ok(&user, &chat, &member, "still a member").await;
}

async fn bad_input_answers_before_an_unknown_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let unknown = "a".repeat(32);
    for id in [unknown.as_str(), "nope"] {
        app.list_members(&user, id, "0", None).await.assert_error(
            400,
            "bad-parameters",
            &format!("members of {id:?}, limit 0"),
        );
        app.get_messages_before(&user, id, "1001", "")
            .await
            .assert_error(
                400,
                "bad-parameters",
                &format!("before= in {id:?}, limit 1001"),
            );
        app.patch_chat(&user, id, Some(&json!({ "chat_name": 1 })))
            .await
            .assert_error(400, "bad-parameters", &format!("rename {id:?} to a number"));
        app.put_read(&user, id, Some(&json!({})))
            .await
            .assert_error(
                400,
                "bad-parameters",
                &format!("mark {id:?} without an iterator"),
            );
    }
    app.list_chats(&user, "0", Some("xyz")).await.assert_error(
        400,
        "bad-parameters",
        "list: limit 0 and a bad cursor",
    );
}

async fn an_unknown_chat_answers_before_a_user_a_cursor_or_a_permission(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    for (case, id) in [
        ("an unknown chat", "c".repeat(32)),
        ("someone else's chat", chat.clone()),
    ] {
        app.get_messages_before(&mallory, &id, "10", "xyz")
            .await
            .assert_error(404, "chat-not-found", &format!("{case}: a bad before"));
        app.mark_read(&mallory, &id, "xyz").await.assert_error(
            404,
            "chat-not-found",
            &format!("{case}: a bad read cursor"),
        );
        app.list_members(&mallory, &id, "10", Some("xyz"))
            .await
            .assert_error(
                404,
                "chat-not-found",
                &format!("{case}: a bad members cursor"),
            );
        app.remove_member(&mallory, &id, "nope").await.assert_error(
            404,
            "chat-not-found",
            &format!("{case}: an unparseable user"),
        );
        app.remove_member(&mallory, &id, &a).await.assert_error(
            404,
            "chat-not-found",
            &format!("{case}: another's member"),
        );
        app.rename_chat(&mallory, &id, "mine now")
            .await
            .assert_error(404, "chat-not-found", &format!("{case}: rename"));
    }
}

async fn an_unknown_user_answers_before_forbidden(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    app.remove_member(&bob, &chat, &"d".repeat(32))
        .await
        .assert_error(404, "user-not-found", "a member removing an unknown user");
    app.remove_member(&bob, &chat, "nope").await.assert_error(
        404,
        "user-not-found",
        "a member removing an unparseable user",
    );
}

// ---- legacy mode ----

fn legacy(backend: Backend) -> TestOptions {
    TestOptions::new(backend).legacy()
}

async fn in_legacy_mode_the_anonymous_account_lists_every_chat(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    // Later than anything else in a shared store, so these chats lead the list.
    app.advance(Duration::from_secs(7 * 24 * 3600));
    let user = app.new_user().await;
    let mut wanted = Vec::new();
    for auth in [Auth::None, Auth::from(&user), Auth::Raw("Bearer x".into())] {
        wanted.push(app.create_chat_ok(auth).await);
        app.advance(Duration::from_secs(1));
    }
    for auth in [Auth::None, Auth::from(&user)] {
        let mut found = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..1000 {
            let page = app.list_chats_ok(auth.clone(), 100, from.as_deref()).await;
            if page.chats.is_empty() {
                break;
            }
            for c in page.chats.iter().filter(|c| wanted.contains(&c.chat_id)) {
                assert!(
                    c.is_creator,
                    "legacy: the anonymous account created every chat"
                );
                found.push(c.chat_id.clone());
            }
            if found.len() == wanted.len() {
                break;
            }
            from = Some(page.next.iterator);
        }
        let expected: Vec<String> = wanted.iter().rev().cloned().collect();
        assert_eq!(
            found, expected,
            "legacy: every chat, newest first, as {auth:?}"
        );
    }
}

async fn in_legacy_mode_the_conversation_routes_act_for_the_anonymous_account(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let chat = app.create_chat_ok(Auth::None).await;
    let first = app.join_ok(Auth::None, &chat, "same").await;
    let second = app
        .join_ok(Auth::Raw("Bearer y".into()), &chat, "same")
        .await;
    assert_ne!(first, second, "legacy: each join is a new member");
    for i in 0..3 {
        app.post_ok(Auth::None, &chat, &first, &format!("m{i}"))
            .await;
    }
    let s = app.chat_summary_ok(Auth::None, &chat).await;
    assert!(s.is_creator, "legacy: creator of every chat");
    assert_eq!(
        s.my_users.len(),
        2,
        "legacy: both members are the anonymous account's"
    );
    assert_eq!(
        (s.member_count, s.unread_count),
        (2, 0),
        "legacy: its own posts are read"
    );
    let members = app.members_ok(Auth::None, &chat, 10, None).await.users;
    assert!(
        members.iter().all(|m| m.is_mine),
        "legacy: every member is mine"
    );
    let newest = app.before_page_ok(Auth::None, &chat, 2, "").await;
    assert_eq!(newest.texts(), ["m1", "m2"], "legacy: before=");
    let marker = app
        .mark_read_ok(Auth::None, &chat, &newest.prev.expect("a prev").iterator)
        .await;
    assert_eq!(
        marker.unread_count, 0,
        "legacy: the marker never moves back"
    );
    assert_eq!(
        app.rename_chat_ok(Auth::None, &chat, "renamed")
            .await
            .chat_name,
        "renamed"
    );
    app.remove_member_ok(Auth::None, &chat, &second).await;
    app.post_message(Auth::None, &chat, &second, "gone")
        .await
        .assert_error(
            404,
            "user-not-found",
            "legacy: posting as a member that left",
        );
    // The original's routes go on as before: the chat stays readable, joins still add.
    assert_eq!(
        app.page_ok(Auth::None, &chat, 10, None)
            .await
            .messages
            .len(),
        3
    );
    let third = app.join_ok(Auth::None, &chat, "same").await;
    app.post_ok(Auth::None, &chat, &third, "after the leave")
        .await;
}

backend_tests!(
    every_conversation_route_without_a_valid_session_is_401,
    authentication_answers_before_throttling,
    throttling_answers_before_bad_input,
    bad_input_answers_before_an_unknown_chat,
    an_unknown_chat_answers_before_a_user_a_cursor_or_a_permission,
    an_unknown_user_answers_before_forbidden,
    in_legacy_mode_the_anonymous_account_lists_every_chat,
    in_legacy_mode_the_conversation_routes_act_for_the_anonymous_account,
);

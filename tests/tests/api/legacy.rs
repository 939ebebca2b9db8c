//! Legacy mode (`AUTH_DISABLED=true`): no credentials, one anonymous account, every chat
//! readable, each join a new member.

use crate::prelude::*;

fn legacy(backend: Backend) -> TestOptions {
    TestOptions::new(backend).legacy()
}

async fn every_route_works_without_a_header(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    // A word of its own: legacy search sees every chat in the store, earlier runs' too.
    let word = format!("w{}", uuid::Uuid::new_v4().simple());
    let chat = app.create_chat_ok(Auth::None).await;
    let member = app.join_ok(Auth::None, &chat, "old client").await;
    let id = app
        .post_ok(Auth::None, &chat, &member, &format!("hello {word}"))
        .await;
    let page = app.page_ok(Auth::None, &chat, 10, None).await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].message_id, id);
    assert_eq!(page.messages[0].user_name, "old client");
    let hits = app.search_all(Auth::None, &word, 10).await;
    assert_eq!(hits.len(), 1);
    app.logout(Auth::None)
        .await
        .assert_empty(200, "logout without a header");
}

async fn any_auth_header_is_ignored(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    for (case, auth) in [
        ("another scheme", Auth::Raw("Bearer whatever".into())),
        ("a malformed token", Auth::Token("zzz".into())),
        ("an unknown token", Auth::Token("0".repeat(32))),
    ] {
        let chat = app.create_chat(auth.clone(), "x").await;
        chat.assert_status(201, case);
        let chat = chat.field("chat_id");
        app.page_ok(auth.clone(), &chat, 10, None).await;
        app.logout(auth).await.assert_status(200, case);
    }
}

async fn any_chat_is_readable_whoever_created_it(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let member = app
        .join_ok(Auth::Token("1".repeat(32)), &chat, "someone")
        .await;
    app.post_ok(Auth::None, &chat, &member, "visible to all")
        .await;
    for auth in [Auth::None, Auth::from(&user), Auth::Raw("Bearer x".into())] {
        let page = app.page_ok(auth, &chat, 10, None).await;
        assert_eq!(page.messages.len(), 1);
    }
}

async fn each_join_creates_a_new_member(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let chat = app.create_chat_ok(Auth::None).await;
    let a = app.join_ok(Auth::None, &chat, "same").await;
    let b = app.join_ok(Auth::None, &chat, "same").await;
    assert_ne!(a, b, "a legacy join returned an existing member");
    app.post_ok(Auth::None, &chat, &a, "from a").await;
    app.post_ok(Auth::None, &chat, &b, "from b").await;
    let users: Vec<String> = app
        .page_ok(Auth::None, &chat, 10, None)
        .await
        .messages
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(users, [a, b]);
}

async fn posting_needs_a_user_id_of_that_chat(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let first = app.create_chat_ok(Auth::None).await;
    let second = app.create_chat_ok(Auth::None).await;
    let member = app.join_ok(Auth::None, &second, "x").await;
    app.post_message(Auth::None, &first, &member, "hi")
        .await
        .assert_error(404, "user-not-found", "a user_id of another chat");
    app.post_message(Auth::None, &first, &"f".repeat(32), "hi")
        .await
        .assert_error(404, "user-not-found", "an unknown user_id");
    app.post_message(Auth::None, &"f".repeat(32), &member, "hi")
        .await
        .assert_error(404, "chat-not-found", "an unknown chat");
    app.get_messages(Auth::None, "nope", "10", None)
        .await
        .assert_error(404, "chat-not-found", "an unparseable chat");
}

async fn register_and_login_still_work(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let name = unique("old");
    app.register(&name, "pw")
        .await
        .assert_empty(201, "register");
    app.register(&name, "pw")
        .await
        .assert_error(400, "user-already-exists", "register again");
    let token = app.login_ok(&name, "pw").await;
    assert!(is_lower_hex_32(&token));
    app.login(&name, "nope")
        .await
        .assert_error(400, "bad-password", "bad password");
    app.login(&unique("ghost"), "pw")
        .await
        .assert_error(400, "user-not-found", "unknown name");
}

async fn search_covers_every_chat(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    // A word no other test or run uses: legacy search sees every chat in the store.
    let word = format!("w{}", uuid::Uuid::new_v4().simple());
    for i in 0..3 {
        let chat = app.create_chat_ok(Auth::None).await;
        let member = app.join_ok(Auth::None, &chat, "x").await;
        app.post_ok(Auth::None, &chat, &member, &format!("{word} {i}"))
            .await;
    }
    assert_eq!(app.search_all(Auth::None, &word, 10).await.len(), 3);
}

async fn idempotency_keys_are_scoped_by_member(backend: Backend) {
    let app = spawn_app(legacy(backend)).await;
    let chat = app.create_chat_ok(Auth::None).await;
    let a = app.join_ok(Auth::None, &chat, "a").await;
    let b = app.join_ok(Auth::None, &chat, "b").await;
    let key = [("idempotency-key", "k")];
    let first = app
        .post_message_with(Auth::None, &chat, &a, "hi", &key)
        .await
        .field("message_id");
    let retry = app
        .post_message_with(Auth::None, &chat, &a, "hi", &key)
        .await;
    retry.assert_status(201, "a retry");
    assert_eq!(retry.field("message_id"), first);
    app.post_message_with(Auth::None, &chat, &a, "other", &key)
        .await
        .assert_error(
            422,
            "idempotency-key-reused",
            "the same member, another body",
        );
    let other = app
        .post_message_with(Auth::None, &chat, &b, "hi", &key)
        .await;
    other.assert_status(201, "another member, the same key");
    assert_ne!(other.field("message_id"), first);
}

async fn throttling_is_per_address(backend: Backend) {
    let app = spawn_app(legacy(backend).throttled(1, 3)).await;
    let chat = app.create_chat_ok(Auth::None).await;
    app.advance(Duration::from_secs(60));
    for i in 1..=3 {
        app.get_messages(Auth::None, &chat, "10", None)
            .await
            .assert_status(200, &format!("request {i}"));
    }
    app.get_messages(Auth::None, &chat, "10", None)
        .await
        .assert_throttled("over the burst");
    app.get_messages(Auth::Token("2".repeat(32)), &chat, "10", None)
        .await
        .assert_throttled("a token does not buy another budget");
    app.get("/ping").await.assert_status(200, "ping");
}

async fn the_served_spec_is_the_same_as_with_auth_on(backend: Backend) {
    let with_auth = spawn_app(TestOptions::new(backend.clone())).await;
    let legacy = spawn_app(legacy(backend)).await;
    let a = with_auth.get("/openapi.json").await;
    let b = legacy.get("/openapi.json").await;
    a.assert_status(200, "spec with auth on");
    b.assert_status(200, "spec in legacy mode");
    assert_eq!(a.json(), b.json(), "legacy mode serves another spec");
}

backend_tests!(
    the_served_spec_is_the_same_as_with_auth_on,
    every_route_works_without_a_header,
    any_auth_header_is_ignored,
    any_chat_is_readable_whoever_created_it,
    each_join_creates_a_new_member,
    posting_needs_a_user_id_of_that_chat,
    register_and_login_still_work,
    search_covers_every_chat,
    idempotency_keys_are_scoped_by_member,
    throttling_is_per_address,
);

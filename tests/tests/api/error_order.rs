//! When several things are wrong, the first rule in `DECISIONS.md`'s order answers:
//! route → authentication → throttling → bad input → chat → user / cursor → idempotency.
//! (Throttling's place is checked in `throttling`.)

use crate::prelude::*;

async fn an_unknown_route_or_method_answers_before_authentication(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    app.raw(
        Method::POST,
        "/v1/nothing",
        Auth::Raw("Bearer x".into()),
        &[],
        None,
    )
    .await
    .assert_error(404, "not-found", "unknown route, bad credentials");
    app.raw(Method::DELETE, "/v1/chats", Auth::None, &[], None)
        .await
        .assert_error(405, "method-not-allowed", "other method, no credentials");
}

async fn authentication_answers_before_bad_input(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let bad = json!({ "chat_name": 5 });
    app.raw(Method::POST, "/v1/chats", Auth::None, &[], Some(&bad))
        .await
        .assert_error(401, "auth-failed", "bad body, no header");
    app.raw(
        Method::POST,
        "/v1/chats",
        Auth::Token("0".repeat(32)),
        &[],
        Some(&bad),
    )
    .await
    .assert_error(401, "invalid-session-id", "bad body, unknown token");
    let reply = app
        .raw_bytes(
            Method::POST,
            "/v1/chats",
            Auth::None,
            &[("content-type", "text/plain")],
            b"x".to_vec(),
        )
        .await;
    reply.assert_error(401, "auth-failed", "wrong content type, no header");
    app.get_messages(Auth::None, "nope", "0", Some("bad"))
        .await
        .assert_error(401, "auth-failed", "everything wrong, no header");
    let user = app.new_user().await;
    app.advance(Duration::from_secs(2 * 3600));
    app.get_messages(&user, "nope", "abc", None)
        .await
        .assert_error(
            401,
            "session-id-expired",
            "everything wrong, expired session",
        );
}

async fn bad_input_answers_before_an_unknown_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (_, member) = app.chat_with_member(&user).await;
    let unknown = "a".repeat(32);
    app.get_messages(&user, &unknown, "0", None)
        .await
        .assert_error(400, "bad-parameters", "read an unknown chat with limit 0");
    app.get_messages(&user, "nope", "abc", None)
        .await
        .assert_error(
            400,
            "bad-parameters",
            "read an unparseable chat with a bad limit",
        );
    app.join(&user, &unknown, "").await.assert_error(
        400,
        "bad-parameters",
        "join an unknown chat with an empty name",
    );
    app.post_message(&user, &unknown, &member, "")
        .await
        .assert_error(
            400,
            "bad-parameters",
            "post an empty message to an unknown chat",
        );
    app.post_message_with(
        &user,
        &unknown,
        &member,
        "hi",
        &[("idempotency-key", "a b")],
    )
    .await
    .assert_error(400, "bad-parameters", "a bad key, an unknown chat");
    let body = json!({ "message": 1 });
    app.raw(
        Method::POST,
        &format!("/v1/chats/{unknown}/messages?user_id=nope"),
        &user,
        &[],
        Some(&body),
    )
    .await
    .assert_error(
        400,
        "bad-parameters",
        "a bad body, an unknown chat and user",
    );
}

async fn bad_input_answers_before_an_unknown_task(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.search_results(&user, &"b".repeat(32), "0", None)
        .await
        .assert_error(400, "bad-parameters", "limit 0 for an unknown task");
    app.search_results(&user, "nope", "101", None)
        .await
        .assert_error(400, "bad-parameters", "limit 101 for an unparseable task");
}

async fn an_unknown_chat_answers_before_an_unknown_user_or_a_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    app.post_message(&alice, &"c".repeat(32), "nope", "hi")
        .await
        .assert_error(404, "chat-not-found", "unknown chat, unparseable user_id");
    app.post_message(&mallory, &chat, "nope", "hi")
        .await
        .assert_error(
            404,
            "chat-not-found",
            "someone else's chat, unparseable user_id",
        );
    app.get_messages(&alice, &"c".repeat(32), "10", Some("bad"))
        .await
        .assert_error(404, "chat-not-found", "unknown chat, bad cursor");
    app.get_messages(&mallory, &chat, "10", Some("bad"))
        .await
        .assert_error(404, "chat-not-found", "someone else's chat, bad cursor");
}

async fn an_unknown_user_answers_before_a_reused_idempotency_key(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let key = [("idempotency-key", "k")];
    app.post_message_with(&user, &chat, &member, "first", &key)
        .await
        .assert_status(201, "first");
    app.post_message_with(&user, &chat, &"d".repeat(32), "second", &key)
        .await
        .assert_error(404, "user-not-found", "an unknown user with a reused key");
}

async fn an_unknown_task_answers_before_a_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.search_results(&user, &"e".repeat(32), "10", Some("bad"))
        .await
        .assert_error(404, "task-not-found", "unknown task, bad cursor");
}

backend_tests!(
    an_unknown_route_or_method_answers_before_authentication,
    authentication_answers_before_bad_input,
    bad_input_answers_before_an_unknown_chat,
    bad_input_answers_before_an_unknown_task,
    an_unknown_chat_answers_before_an_unknown_user_or_a_bad_cursor,
    an_unknown_user_answers_before_a_reused_idempotency_key,
    an_unknown_task_answers_before_a_bad_cursor,
);

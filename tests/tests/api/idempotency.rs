//! `Idempotency-Key` on posting: replays, conflicts, scope and key validation.

use crate::prelude::*;
use std::sync::Arc;

fn key(k: &str) -> [(&'static str, &str); 1] {
    [("idempotency-key", k)]
}

async fn a_retry_with_the_same_key_and_body_returns_the_first_id_and_stores_nothing(
    backend: Backend,
) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let first = app
        .post_message_with(&user, &chat, &member, "hello", &key("k-1"))
        .await;
    first.assert_status(201, "first post");
    let id = first.field("message_id");
    for attempt in 0..3 {
        let retry = app
            .post_message_with(&user, &chat, &member, "hello", &key("k-1"))
            .await;
        retry.assert_status(201, &format!("retry {attempt}"));
        assert_eq!(
            retry.field("message_id"),
            id,
            "retry {attempt} got another id"
        );
    }
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(page.messages.len(), 1, "a retry stored a message");
}

async fn the_same_key_with_another_body_is_422_idempotency_key_reused(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let alias = app.join_ok(&user, &chat, "alias").await;
    app.post_message_with(&user, &chat, &member, "hello", &key("k"))
        .await
        .assert_status(201, "first");
    app.post_message_with(&user, &chat, &member, "hello!", &key("k"))
        .await
        .assert_error(422, "idempotency-key-reused", "another text");
    app.post_message_with(&user, &chat, &member, "hello ", &key("k"))
        .await
        .assert_error(422, "idempotency-key-reused", "a trailing space");
    app.post_message_with(&user, &chat, &alias, "hello", &key("k"))
        .await
        .assert_error(
            422,
            "idempotency-key-reused",
            "another user_id of the same account",
        );
    assert_eq!(app.page_ok(&user, &chat, 10, None).await.messages.len(), 1);
}

async fn keys_are_scoped_by_account(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, alices) = app.chat_with_member(&alice).await;
    let bobs = app.join_ok(&bob, &chat, "bob").await;
    let a = app
        .post_message_with(&alice, &chat, &alices, "same", &key("shared"))
        .await
        .field("message_id");
    let b = app
        .post_message_with(&bob, &chat, &bobs, "same", &key("shared"))
        .await;
    b.assert_status(201, "bob with alice's key");
    assert_ne!(b.field("message_id"), a);
    let c = app
        .post_message_with(&bob, &chat, &bobs, "other", &key("shared"))
        .await;
    c.assert_error(
        422,
        "idempotency-key-reused",
        "bob's own key with another body",
    );
    assert_eq!(app.page_ok(&alice, &chat, 10, None).await.messages.len(), 2);
}

async fn keys_are_scoped_by_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (first, first_member) = app.chat_with_member(&user).await;
    let (second, second_member) = app.chat_with_member(&user).await;
    let a = app
        .post_message_with(&user, &first, &first_member, "hi", &key("k"))
        .await
        .field("message_id");
    let b = app
        .post_message_with(&user, &second, &second_member, "hi", &key("k"))
        .await;
    b.assert_status(201, "the same key in another chat");
    assert_ne!(b.field("message_id"), a);
    assert_eq!(
        app.page_ok(&user, &second, 10, None).await.messages.len(),
        1
    );
}

async fn keys_are_compared_exactly(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let a = app
        .post_message_with(&user, &chat, &member, "x", &key("Key"))
        .await
        .field("message_id");
    let b = app
        .post_message_with(&user, &chat, &member, "x", &key("key"))
        .await
        .field("message_id");
    assert_ne!(a, b, "keys differing in case were taken as one");
}

async fn without_a_key_every_post_stores_a_message(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let a = app.post_ok(&user, &chat, &member, "same").await;
    let b = app.post_ok(&user, &chat, &member, "same").await;
    assert_ne!(a, b);
    assert_eq!(app.page_ok(&user, &chat, 10, None).await.messages.len(), 2);
}

async fn concurrent_duplicates_all_answer_the_first_id(backend: Backend) {
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, user, chat, member) = (app.clone(), user.clone(), chat.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            app.post_message_with(&user, &chat, &member, "once", &key("race"))
                .await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let reply = t.await.expect("a task panicked");
        reply.assert_status(201, "a concurrent duplicate");
        ids.push(reply.field("message_id"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "duplicates got different ids: {ids:?}");
    assert_eq!(app.page_ok(&user, &chat, 10, None).await.messages.len(), 1);
}

async fn keys_are_kept_at_least_a_day(backend: Backend) {
    let app = spawn_app(
        TestOptions::new(backend).with(|c| c.auth.session_ttl = Duration::from_secs(48 * 3600)),
    )
    .await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let id = app
        .post_message_with(&user, &chat, &member, "hi", &key("day"))
        .await
        .field("message_id");
    app.advance(Duration::from_secs(24 * 3600 - 60));
    let retry = app
        .post_message_with(&user, &chat, &member, "hi", &key("day"))
        .await;
    retry.assert_status(201, "a retry 23 h 59 min later");
    assert_eq!(retry.field("message_id"), id);
}

async fn an_invalid_key_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let too_long = "k".repeat(256);
    for (case, k) in [
        ("an empty key", ""),
        ("256 characters", too_long.as_str()),
        ("a space inside", "a b"),
        ("a tab inside", "a\tb"),
    ] {
        app.post_message_with(&user, &chat, &member, "hi", &key(k))
            .await
            .assert_error(400, "bad-parameters", case);
    }
    let control = app
        .raw_bytes(
            Method::POST,
            &format!("/v1/chats/{chat}/messages?user_id={member}"),
            &user,
            &[("content-type", "application/json")],
            br#"{"message":"hi"}"#.to_vec(),
        )
        .await;
    control.assert_status(201, "control: the same request without a key");
    // A non-ASCII byte in the header value: only a raw request can send it.
    let head = format!(
        "POST /v1/chats/{chat}/messages?user_id={member} HTTP/1.1\r\n\
         Content-Type: application/json\r\nContent-Length: 16\r\n\
         Idempotency-Key: caf\u{e9}"
    );
    let reply = app
        .raw_http(&head, &user, br#"{"message":"hi"}"#.to_vec())
        .await;
    reply.assert_error(400, "bad-parameters", "a non-ASCII key");
    assert_eq!(
        app.page_ok(&user, &chat, 10, None).await.messages.len(),
        1,
        "a bad key stored a message"
    );
    let longest = "k".repeat(255);
    app.post_message_with(&user, &chat, &member, "hi", &key(&longest))
        .await
        .assert_status(201, "255 visible characters");
    app.post_message_with(&user, &chat, &member, "hi", &key("!~azAZ09-_.:/"))
        .await
        .assert_status(201, "punctuation");
}

async fn concurrent_posts_with_one_key_and_different_bodies_store_one(backend: Backend) {
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, user, chat, member) = (app.clone(), user.clone(), chat.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            let text = format!("body {i}");
            let reply = app
                .post_message_with(&user, &chat, &member, &text, &key("contested"))
                .await;
            (text, reply)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (text, reply) = task.await.expect("a task panicked");
        if reply.status == 201 {
            winners.push((text, reply.field("message_id")));
        } else {
            reply.assert_error(422, "idempotency-key-reused", "a losing body");
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "one key stored several bodies: {winners:?}"
    );
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].text, winners[0].0);
    assert_eq!(page.messages[0].message_id, winners[0].1);
}

backend_tests!(
    concurrent_posts_with_one_key_and_different_bodies_store_one,
    a_retry_with_the_same_key_and_body_returns_the_first_id_and_stores_nothing,
    the_same_key_with_another_body_is_422_idempotency_key_reused,
    keys_are_scoped_by_account,
    keys_are_scoped_by_chat,
    keys_are_compared_exactly,
    without_a_key_every_post_stores_a_message,
    concurrent_duplicates_all_answer_the_first_id,
    keys_are_kept_at_least_a_day,
    an_invalid_key_is_400_bad_parameters,
);

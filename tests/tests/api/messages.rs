//! Posting and reading messages: who may, and what a message looks like.

use crate::prelude::*;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// Parses an RFC 3339 `created_at` that must be in UTC with `Z`, as microseconds.
fn micros_of(created_at: &str) -> i64 {
    assert!(
        created_at.ends_with('Z'),
        "created_at {created_at:?} does not end with Z"
    );
    let t = OffsetDateTime::parse(created_at, &Rfc3339)
        .unwrap_or_else(|e| panic!("created_at {created_at:?} is not RFC 3339: {e}"));
    i64::try_from(t.unix_timestamp_nanos() / 1000).expect("in range")
}

async fn a_posted_message_is_read_back_with_all_its_fields(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let member = app.join_ok(&user, &chat, "Alice in chat").await;
    let posted_at = app.now();
    let reply = app
        .post_message(&user, &chat, &member, "hello, world")
        .await;
    reply.assert_status(201, "post");
    let message_id = reply.field("message_id");
    assert!(
        is_lower_hex_32(&message_id),
        "message_id {message_id:?} is not 32 lowercase hex"
    );

    let reply = app.get_messages(&user, &chat, "10", None).await;
    reply.assert_status(200, "read");
    let body = reply.json();
    let messages = body["messages"].as_array().expect("messages is an array");
    assert_eq!(messages.len(), 1, "{reply}");
    let m = &messages[0];
    assert_eq!(m["text"], "hello, world");
    assert_eq!(m["message_id"], message_id.as_str());
    assert_eq!(m["user_id"], member.as_str());
    assert_eq!(m["user_name"], "Alice in chat");
    let created_at = m["created_at"].as_str().expect("created_at is a string");
    assert_eq!(
        micros_of(created_at),
        posted_at.as_micros(),
        "created_at is the time of posting"
    );
    assert!(body["next"]["iterator"].is_string(), "{reply}");
}

async fn texts_and_names_are_stored_verbatim(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let name = "  Zoë 🦀 \t ";
    let member = app.join_ok(&user, &chat, name).await;
    let texts = [
        "  leading and trailing  ",
        "line one\nline two\r\n",
        "Привет, мир! 日本語 🦀 e\u{301}",
        "\"quoted\" \\ backslash </script>",
        &"x".repeat(10_000),
        &"é".repeat(10_000),
        " ",
    ];
    for text in texts {
        app.post_ok(&user, &chat, &member, text).await;
    }
    let page = app.page_ok(&user, &chat, 100, None).await;
    let read: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(read, texts);
    assert!(
        page.messages.iter().all(|m| m.user_name == name),
        "display name changed"
    );
}

async fn created_at_follows_the_clock_and_never_runs_backwards(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(app.now().as_micros());
        app.post_ok(&user, &chat, &member, &format!("m{i}")).await;
        app.advance(Duration::from_micros(1_500_250));
    }
    let page = app.page_ok(&user, &chat, 10, None).await;
    let got: Vec<i64> = page
        .messages
        .iter()
        .map(|m| micros_of(&m.created_at))
        .collect();
    assert_eq!(got, expected);
}

async fn a_non_member_reading_a_chat_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, member) = app.chat_with_member(&alice).await;
    app.post_ok(&alice, &chat, &member, "secret").await;
    app.get_messages(&mallory, &chat, "10", None)
        .await
        .assert_error(404, "chat-not-found", "a stranger reads");
    // The same answer as for a chat that does not exist: existence is not revealed.
    app.get_messages(&mallory, &"1".repeat(32), "10", None)
        .await
        .assert_error(404, "chat-not-found", "an unknown chat");
}

async fn posting_to_a_chat_you_did_not_join_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, member) = app.chat_with_member(&alice).await;
    app.post_message(&mallory, &chat, &member, "as alice")
        .await
        .assert_error(
            404,
            "chat-not-found",
            "a stranger posts with alice's user_id",
        );
    app.post_message(&mallory, &chat, &"2".repeat(32), "as nobody")
        .await
        .assert_error(
            404,
            "chat-not-found",
            "a stranger posts with an unknown user_id",
        );
    assert!(
        app.page_ok(&alice, &chat, 10, None)
            .await
            .messages
            .is_empty(),
        "something was stored"
    );
}

async fn the_creator_reads_without_joining_but_must_join_to_post(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let creator = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat_ok(&creator).await;
    let page = app.page_ok(&creator, &chat, 10, None).await;
    assert!(page.messages.is_empty());
    let bobs = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &bobs, "hello creator").await;
    assert_eq!(
        app.page_ok(&creator, &chat, 10, None).await.messages.len(),
        1
    );
    app.post_message(&creator, &chat, &bobs, "as bob")
        .await
        .assert_error(
            404,
            "user-not-found",
            "the creator posts with bob's user_id",
        );
    app.post_message(&creator, &chat, &"3".repeat(32), "as nobody")
        .await
        .assert_error(
            404,
            "user-not-found",
            "the creator posts without having joined",
        );
    let own = app.join_ok(&creator, &chat, "creator").await;
    app.post_ok(&creator, &chat, &own, "now I may").await;
}

async fn a_member_reads_messages_posted_before_it_joined(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, member) = app.chat_with_member(&alice).await;
    app.post_ok(&alice, &chat, &member, "before bob").await;
    app.join_ok(&bob, &chat, "bob").await;
    let page = app.page_ok(&bob, &chat, 10, None).await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].text, "before bob");
}

async fn nobody_posts_under_another_accounts_user_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, alices) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    app.post_message(&bob, &chat, &alices, "I am alice")
        .await
        .assert_error(404, "user-not-found", "bob posts with alice's user_id");
    // Even under the same display name.
    let bob_as_alice = app.join_ok(&bob, &chat, &alice.name).await;
    assert_ne!(bob_as_alice, alices);
    app.post_message(&bob, &chat, &alices, "still not alice")
        .await
        .assert_error(
            404,
            "user-not-found",
            "bob, joined under alice's name, with her user_id",
        );
    assert!(
        app.page_ok(&alice, &chat, 10, None)
            .await
            .messages
            .is_empty(),
        "something was stored"
    );
}

async fn a_user_id_of_another_chat_is_404_user_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (first, _) = app.chat_with_member(&user).await;
    let (_, second_member) = app.chat_with_member(&user).await;
    app.post_message(&user, &first, &second_member, "wrong chat")
        .await
        .assert_error(
            404,
            "user-not-found",
            "the user's own member of another chat",
        );
}

async fn unknown_or_unparseable_user_ids_are_404_user_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    for id in [
        "4".repeat(32),
        "nope".to_owned(),
        "123".to_owned(),
        format!("{member}0"),
        member[..31].to_owned(),
        format!("{}g", &member[..31]),
        " ".to_owned(),
        "\u{0}".to_owned(),
        format!("{member}\n"),
    ] {
        app.post_message(&user, &chat, &id, "hi")
            .await
            .assert_error(404, "user-not-found", &format!("user_id {id:?}"));
    }
}

async fn a_user_id_that_is_not_utf8_is_404_user_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, _) = app.chat_with_member(&user).await;
    let body = json!({ "message": "hi" });
    for raw in ["%FF", "%C3%28", "ab%FFcd"] {
        let path = format!("/v1/chats/{chat}/messages?user_id={raw}");
        app.raw(Method::POST, &path, &user, &[], Some(&body))
            .await
            .assert_error(404, "user-not-found", &format!("user_id={raw}"));
    }
}

async fn user_ids_are_accepted_dashed_and_in_any_case(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &chat, &dashed(&member), "dashed").await;
    app.post_ok(&user, &chat, &member.to_uppercase(), "upper")
        .await;
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert!(
        page.messages.iter().all(|m| m.user_id == member),
        "user_id not normalised"
    );
}

async fn posting_to_an_unknown_chat_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (_, member) = app.chat_with_member(&user).await;
    app.post_message(&user, &"5".repeat(32), &member, "hi")
        .await
        .assert_error(404, "chat-not-found", "unknown chat");
}

async fn reading_an_unknown_chat_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.get_messages(&user, &"6".repeat(32), "10", None)
        .await
        .assert_error(404, "chat-not-found", "unknown chat");
}

async fn a_missing_user_id_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let body = json!({ "message": "hi" });
    let reply = app
        .raw(
            Method::POST,
            &format!("/v1/chats/{chat}/messages"),
            &user,
            &[],
            Some(&body),
        )
        .await;
    reply.assert_error(400, "bad-parameters", "no user_id");
}

async fn unknown_query_parameters_and_fields_are_ignored(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let body = json!({ "message": "hi", "extra": 1, "nested": { "a": [1, 2] } });
    let path = format!("/v1/chats/{chat}/messages?user_id={member}&foo=bar");
    app.raw(Method::POST, &path, &user, &[], Some(&body))
        .await
        .assert_status(201, "post with extras");
    let path = format!("/v1/chats/{chat}/messages?limit=10&foo=bar");
    app.raw(Method::GET, &path, &user, &[], None)
        .await
        .assert_status(200, "read with extras");
    let body = json!({ "chat_name": "x", "colour": "blue" });
    app.raw(Method::POST, "/v1/chats", &user, &[], Some(&body))
        .await
        .assert_status(201, "chat with extras");
}

async fn created_at_never_runs_backwards_within_a_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.advance(Duration::from_secs(10));
    let first_at = app.now();
    app.post_ok(&user, &chat, &member, "first").await;
    // The clock jumps back (an NTP step, another instance's clock).
    app.set_time(first_at.minus(Duration::from_secs(5)));
    app.post_ok(&user, &chat, &member, "second").await;
    let page = app.page_ok(&user, &chat, 10, None).await;
    let times: Vec<i64> = page
        .messages
        .iter()
        .map(|m| micros_of(&m.created_at))
        .collect();
    assert_eq!(times, [first_at.as_micros(), first_at.as_micros()]);
    // Another chat is not held back by this one.
    let (other, other_member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &other, &other_member, "elsewhere").await;
    let elsewhere = app.page_ok(&user, &other, 10, None).await;
    assert_eq!(
        micros_of(&elsewhere.messages[0].created_at),
        first_at.minus(Duration::from_secs(5)).as_micros()
    );
}

backend_tests!(
    a_user_id_that_is_not_utf8_is_404_user_not_found,
    a_posted_message_is_read_back_with_all_its_fields,
    texts_and_names_are_stored_verbatim,
    created_at_follows_the_clock_and_never_runs_backwards,
    a_non_member_reading_a_chat_is_404_chat_not_found,
    posting_to_a_chat_you_did_not_join_is_404_chat_not_found,
    the_creator_reads_without_joining_but_must_join_to_post,
    a_member_reads_messages_posted_before_it_joined,
    nobody_posts_under_another_accounts_user_id,
    a_user_id_of_another_chat_is_404_user_not_found,
    unknown_or_unparseable_user_ids_are_404_user_not_found,
    user_ids_are_accepted_dashed_and_in_any_case,
    posting_to_an_unknown_chat_is_404_chat_not_found,
    reading_an_unknown_chat_is_404_chat_not_found,
    a_missing_user_id_is_400_bad_parameters,
    unknown_query_parameters_and_fields_are_ignored,
    created_at_never_runs_backwards_within_a_chat,
);

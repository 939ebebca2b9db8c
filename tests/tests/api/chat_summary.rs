//! One chat's summary (`GET /v1/chats/{chat_id}`) field by field, the last message's
//! preview, and renaming (`PATCH /v1/chats/{chat_id}`, creator only).

use crate::prelude::*;

/// A chat id that differs from `chat` in its first digit (unknown to the service).
fn unknown_like(chat: &str) -> String {
    match chat.strip_prefix('f') {
        Some(rest) => format!("e{rest}"),
        None => format!("f{}", &chat[1..]),
    }
}

fn names(users: &[MyUser]) -> Vec<String> {
    let mut names: Vec<String> = users.iter().map(|u| u.user_name.clone()).collect();
    names.sort();
    names
}

async fn a_summary_shows_every_field(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let created_at = app.now();
    let chat = app
        .create_chat(&alice, "Summer plans")
        .await
        .field("chat_id");
    let a1 = app.join_ok(&alice, &chat, "alice-1").await;
    let a2 = app.join_ok(&alice, &chat, "alice-2").await;
    let b = app.join_ok(&bob, &chat, "bob").await;

    let s = app.chat_summary_ok(&alice, &chat).await;
    assert_eq!(s.chat_id, chat, "chat_id");
    assert_eq!(s.chat_name, "Summer plans", "chat_name");
    assert_eq!(
        rfc3339_micros(&s.created_at),
        created_at.as_micros(),
        "created_at"
    );
    assert!(s.is_creator, "alice created it");
    assert_eq!(
        names(&s.my_users),
        ["alice-1", "alice-2"],
        "alice's identities"
    );
    let mut mine: Vec<String> = s.my_users.iter().map(|u| u.user_id.clone()).collect();
    mine.sort();
    let mut expected = vec![a1.clone(), a2];
    expected.sort();
    assert_eq!(mine, expected, "alice's user ids");
    assert_eq!(s.member_count, 3, "every account's identities count");
    assert_eq!(s.last_message, None, "an empty chat has no last message");
    assert_eq!(s.unread_count, 0, "nothing to read");
    assert_eq!(
        cursor_position(&s.end.iterator),
        0,
        "an empty chat's end marks 0"
    );
    assert_eq!(
        cursor_position(&s.read.iterator),
        0,
        "alice's marker in an empty chat"
    );

    let theirs = app.chat_summary_ok(&bob, &chat).await;
    assert!(!theirs.is_creator, "bob did not create it");
    assert_eq!(
        theirs.my_users,
        [MyUser {
            user_id: b.clone(),
            user_name: "bob".into()
        }]
    );
    assert_eq!(theirs.member_count, 3);

    app.advance(Duration::from_secs(1));
    app.post_ok(&bob, &chat, &b, "hello").await;
    let posted = app
        .page_ok(&alice, &chat, 10, None)
        .await
        .messages
        .remove(0);
    let s = app.chat_summary_ok(&alice, &chat).await;
    let last = s.last_message.clone().expect("a last message after a post");
    assert_eq!(
        (
            &last.text,
            &last.message_id,
            &last.user_id,
            &last.user_name,
            &last.created_at
        ),
        (
            &posted.text,
            &posted.message_id,
            &posted.user_id,
            &posted.user_name,
            &posted.created_at
        ),
        "the last message is the message as a page shows it"
    );
    assert!(!last.is_truncated(), "a short text is not cut");
    assert_eq!(s.unread_count, 1, "bob's message is unread for alice");
    assert_eq!(
        cursor_position(&s.end.iterator),
        1,
        "the end after one message"
    );
    assert_eq!(
        cursor_position(&s.read.iterator),
        0,
        "alice has read nothing"
    );
    assert_eq!(
        s.end.iterator,
        app.page_ok(&alice, &chat, 10, None).await.next.iterator
    );
    let theirs = app.chat_summary_ok(&bob, &chat).await;
    assert_eq!(
        theirs.unread_count, 0,
        "the poster has read its own message"
    );
    assert_eq!(
        theirs.read.iterator, theirs.end.iterator,
        "the poster's marker is at the end"
    );

    // The list shows the same summaries.
    let listed = app.list_chats_ok(&alice, 10, None).await.chats;
    assert_eq!(
        listed,
        std::slice::from_ref(&s),
        "alice's list entry and her summary"
    );
    let listed = app.list_chats_ok(&bob, 10, None).await.chats;
    assert_eq!(listed, [theirs], "bob's list entry and his summary");
    // Any accepted form of the id names the chat; the answer gives the canonical one.
    let upper = app
        .chat_summary_ok(&alice, &dashed(&chat).to_uppercase())
        .await;
    assert_eq!(upper, s, "the summary via the dashed upper-case id");
}

async fn a_creator_who_did_not_join_has_no_identities_but_sees_the_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat_ok(&alice).await;
    let s = app.chat_summary_ok(&alice, &chat).await;
    assert!(s.is_creator);
    assert!(s.my_users.is_empty(), "alice has no identity in it");
    assert_eq!(s.member_count, 0, "nobody joined");
    let member = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &member, "hi").await;
    let s = app.chat_summary_ok(&alice, &chat).await;
    assert_eq!(s.member_count, 1);
    assert_eq!(s.last_message.map(|m| m.text), Some("hi".into()));
    assert_eq!(app.list_chats_ok(&alice, 10, None).await.ids(), [chat]);
}

async fn a_long_last_message_is_cut_at_280_characters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    // Characters of one, two and four bytes: the cut counts characters, not bytes.
    let text = |n: usize| -> String { (0..n).map(|i| ['a', 'é', '🦀'][i % 3]).collect() };
    for (n, cut) in [
        (279, false),
        (280, false),
        (281, true),
        (300, true),
        (10_000, true),
    ] {
        let posted = text(n);
        app.post_ok(&user, &chat, &member, &posted).await;
        let last = app
            .chat_summary_ok(&user, &chat)
            .await
            .last_message
            .expect("a last message");
        let expected: String = posted.chars().take(280).collect();
        assert_eq!(last.text, expected, "the preview of a {n}-character text");
        assert_eq!(
            last.is_truncated(),
            cut,
            "truncated for a {n}-character text: {last:?}"
        );
        if !cut {
            assert_ne!(
                last.truncated,
                Some(true),
                "an uncut text is not marked truncated"
            );
        }
        let listed = app.list_chats_ok(&user, 10, None).await.chats.remove(0);
        assert_eq!(
            listed.last_message,
            Some(last),
            "the list's preview of {n} characters"
        );
    }
    // The message itself is kept whole.
    let page = app.before_page_ok(&user, &chat, 1, "").await;
    assert_eq!(
        page.messages[0].text.chars().count(),
        10_000,
        "the stored text"
    );
}

async fn the_summary_of_a_chat_you_cannot_read_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    for (case, auth, id) in [
        ("an unknown chat", &alice, unknown_like(&chat)),
        ("all zeros", &alice, "0".repeat(32)),
        ("an unparseable id", &alice, "nope".to_owned()),
        ("31 hex digits", &alice, chat[..31].to_owned()),
        ("33 hex digits", &alice, format!("{chat}0")),
        ("someone else's chat", &mallory, chat.clone()),
    ] {
        app.chat_summary(auth, &id)
            .await
            .assert_error(404, "chat-not-found", case);
    }
}

async fn the_creator_renames_a_chat(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, member) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&alice, &chat, &member, "before the rename")
        .await;
    for name in [
        "Autumn plans",
        "  spaced out  ",
        "Zoë 🦀",
        &"ü".repeat(255),
        "x",
    ] {
        let renamed = app.rename_chat_ok(&alice, &chat, name).await;
        assert_eq!(renamed.chat_name, name, "the answer's name");
        assert_eq!(
            renamed,
            app.chat_summary_ok(&alice, &chat).await,
            "the answer is the summary"
        );
        assert_eq!(
            app.list_chats_ok(&alice, 10, None).await.chats[0].chat_name,
            name,
            "alice's list"
        );
        assert_eq!(
            app.chat_summary_ok(&bob, &chat).await.chat_name,
            name,
            "bob sees the new name"
        );
    }
    // A creator who never joined may rename too.
    let lonely = app.create_chat_ok(&alice).await;
    assert_eq!(
        app.rename_chat_ok(&alice, &lonely, "renamed")
            .await
            .chat_name,
        "renamed"
    );
}

async fn only_the_creator_may_rename(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let mallory = app.new_user().await;
    let chat = app.create_chat(&alice, "original").await.field("chat_id");
    app.join_ok(&bob, &chat, "bob").await;
    app.rename_chat(&bob, &chat, "bob's").await.assert_error(
        403,
        "forbidden",
        "a member who is not the creator",
    );
    app.rename_chat(&mallory, &chat, "mallory's")
        .await
        .assert_error(404, "chat-not-found", "an account that is not in the chat");
    app.rename_chat(&alice, &unknown_like(&chat), "x")
        .await
        .assert_error(404, "chat-not-found", "an unknown chat");
    app.rename_chat(&alice, "nope", "x").await.assert_error(
        404,
        "chat-not-found",
        "an unparseable chat id",
    );
    assert_eq!(
        app.chat_summary_ok(&alice, &chat).await.chat_name,
        "original",
        "the name stayed"
    );
}

async fn a_bad_rename_body_is_400_before_the_chat_is_looked_up(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat(&alice, "original").await.field("chat_id");
    let bobs = app.create_chat_ok(&bob).await;
    app.join_ok(&bob, &chat, "bob").await;
    let targets = [
        ("alice's own chat", &alice, chat.clone()),
        ("a chat alice is not in", &alice, bobs),
        ("an unknown chat", &alice, unknown_like(&chat)),
        ("an unparseable chat id", &alice, "nope".to_owned()),
        ("a chat bob may not rename", &bob, chat.clone()),
    ];
    let bodies = [
        ("no chat_name", json!({})),
        ("an empty name", json!({ "chat_name": "" })),
        ("256 characters", json!({ "chat_name": "a".repeat(256) })),
        ("a number", json!({ "chat_name": 5 })),
        ("null", json!({ "chat_name": null })),
        ("an array", json!({ "chat_name": ["x"] })),
        ("U+0000", json!({ "chat_name": "a\u{0}b" })),
        ("another field only", json!({ "name": "x" })),
        ("not an object", json!("x")),
    ];
    for (target, auth, id) in &targets {
        for (case, body) in &bodies {
            app.patch_chat(*auth, id, Some(body)).await.assert_error(
                400,
                "bad-parameters",
                &format!("{case}, {target}"),
            );
        }
        app.patch_chat(*auth, id, None).await.assert_error(
            400,
            "bad-parameters",
            &format!("no body, {target}"),
        );
        let path = format!("/v1/chats/{id}");
        let json_type = [("content-type", "application/json")];
        app.raw_bytes(
            Method::PATCH,
            &path,
            *auth,
            &json_type,
            b"{not json".to_vec(),
        )
        .await
        .assert_error(400, "bad-parameters", &format!("malformed JSON, {target}"));
        let text_type = [("content-type", "text/plain")];
        let body = br#"{"chat_name":"x"}"#.to_vec();
        app.raw_bytes(Method::PATCH, &path, *auth, &text_type, body)
            .await
            .assert_error(
                400,
                "bad-parameters",
                &format!("a text/plain body, {target}"),
            );
    }
    assert_eq!(
        app.chat_summary_ok(&alice, &chat).await.chat_name,
        "original",
        "the name stayed"
    );
}

backend_tests!(
    a_summary_shows_every_field,
    a_creator_who_did_not_join_has_no_identities_but_sees_the_chat,
    a_long_last_message_is_cut_at_280_characters,
    the_summary_of_a_chat_you_cannot_read_is_404_chat_not_found,
    the_creator_renames_a_chat,
    only_the_creator_may_rename,
    a_bad_rename_body_is_400_before_the_chat_is_looked_up,
);

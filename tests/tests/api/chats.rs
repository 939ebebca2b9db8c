//! Creating and joining chats; how chat ids are read.

use crate::prelude::*;

/// Ids that do not parse as chat ids: each must answer `chat-not-found` like an unknown
/// one, never 400.
const UNPARSEABLE_IDS: [&str; 13] = [
    "nope",
    "123",
    "0123456789abcdef0123456789abcde",
    "0123456789abcdef0123456789abcdef0",
    "0123456789abcdef0123456789abcdeg",
    "0123456789-abcdef-0123-456789abcdef",
    "%20",
    "%00",
    "%FF",
    "%C3%28",
    "a%2Fb",
    "%E2%80%8B0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef%0A",
];

async fn creating_a_chat_answers_201_with_a_32_hex_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let reply = app.create_chat(&user, "friends").await;
    reply.assert_status(201, "create chat");
    let chat = reply.field("chat_id");
    assert!(
        is_lower_hex_32(&chat),
        "chat_id {chat:?} is not 32 lowercase hex"
    );
}

async fn chats_with_the_same_name_are_different_chats(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let a = app.create_chat(&user, "same").await.field("chat_id");
    let b = app.create_chat(&user, "same").await.field("chat_id");
    assert_ne!(a, b);
}

async fn joining_answers_201_with_a_32_hex_user_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let reply = app.join(&user, &chat, "me").await;
    reply.assert_status(201, "join");
    let member = reply.field("user_id");
    assert!(
        is_lower_hex_32(&member),
        "user_id {member:?} is not 32 lowercase hex"
    );
}

async fn joining_again_under_the_same_name_gives_the_same_user_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let first = app.join_ok(&user, &chat, "me").await;
    let second = app.join_ok(&user, &chat, "me").await;
    assert_eq!(first, second, "a retried join made another member");
    // From another session of the same account too.
    let other = Auth::Token(app.login_ok(&user.name, &user.password).await);
    assert_eq!(app.join_ok(&other, &chat, "me").await, first);
}

async fn joining_under_another_name_gives_another_user_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let me = app.join_ok(&user, &chat, "me").await;
    let alias = app.join_ok(&user, &chat, "alias").await;
    let case = app.join_ok(&user, &chat, "Me").await;
    assert_ne!(me, alias);
    assert_ne!(me, case, "display names are compared exactly");
    // Both identities belong to the account: it may post as either.
    app.post_ok(&user, &chat, &me, "as me").await;
    app.post_ok(&user, &chat, &alias, "as alias").await;
    let names: Vec<String> = app
        .page_ok(&user, &chat, 10, None)
        .await
        .messages
        .into_iter()
        .map(|m| m.user_name)
        .collect();
    assert_eq!(names, ["me", "alias"]);
}

async fn two_accounts_joining_under_the_same_name_are_different_members(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat_ok(&alice).await;
    let a = app.join_ok(&alice, &chat, "sam").await;
    let b = app.join_ok(&bob, &chat, "sam").await;
    assert_ne!(a, b);
}

async fn anyone_who_knows_the_chat_id_can_join(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat_ok(&alice).await;
    let member = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &member, "hi").await;
    assert_eq!(app.page_ok(&bob, &chat, 10, None).await.messages.len(), 1);
}

async fn joining_an_unknown_chat_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let unknown = match chat.strip_prefix('f') {
        Some(rest) => format!("e{rest}"),
        None => format!("f{}", &chat[1..]),
    };
    app.join(&user, &unknown, "me")
        .await
        .assert_error(404, "chat-not-found", "unknown chat");
    app.join(&user, &"0".repeat(32), "me")
        .await
        .assert_error(404, "chat-not-found", "all zeros");
}

async fn unparseable_chat_ids_are_404_chat_not_found_on_every_chat_route(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (_chat, member) = app.chat_with_member(&user).await;
    for id in UNPARSEABLE_IDS {
        app.join(&user, id, "me").await.assert_error(
            404,
            "chat-not-found",
            &format!("join {id:?}"),
        );
        app.post_message(&user, id, &member, "hi")
            .await
            .assert_error(404, "chat-not-found", &format!("post to {id:?}"));
        app.get_messages(&user, id, "10", None).await.assert_error(
            404,
            "chat-not-found",
            &format!("read {id:?}"),
        );
    }
}

async fn chat_ids_are_accepted_dashed_and_in_any_case(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let forms = [
        dashed(&chat),
        chat.to_uppercase(),
        dashed(&chat).to_uppercase(),
    ];
    let member = app.join_ok(&user, &forms[0], "me").await;
    assert_eq!(
        app.join_ok(&user, &forms[1], "me").await,
        member,
        "same member via upper case"
    );
    for (i, form) in forms.iter().enumerate() {
        app.post_ok(&user, form, &member, &format!("via form {i}"))
            .await;
        let page = app.page_ok(&user, form, 10, None).await;
        assert_eq!(page.messages.len(), i + 1, "reading via {form}");
    }
    // Every form names the same chat.
    assert_eq!(
        app.page_ok(&user, &chat, 10, None).await.messages.len(),
        forms.len()
    );
}

async fn concurrent_joins_under_one_name_make_one_member(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(TestOptions::new(backend)).await);
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, user, chat) = (app.clone(), user.clone(), chat.clone());
        tasks.push(tokio::spawn(async move {
            app.join_ok(&user, &chat, "same").await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("a task panicked"));
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "concurrent joins made several members: {ids:?}"
    );
}

async fn successful_answers_are_json(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat(&user, "x").await;
    let chat_id = chat.field("chat_id");
    let join = app.join(&user, &chat_id, "me").await;
    let member = join.field("user_id");
    let post = app.post_message(&user, &chat_id, &member, "hello").await;
    let page = app.get_messages(&user, &chat_id, "10", None).await;
    let search = app.start_search(&user, "hello").await;
    let task = search.field("task_id");
    app.wait_for_search(&user, &task).await;
    let status = app.search_status(&user, &task).await;
    let hits = app.search_results(&user, &task, "10", None).await;
    for (case, reply) in [
        ("create chat", chat),
        ("join", join),
        ("post", post),
        ("read", page),
        ("start search", search),
        ("search status", status),
        ("search results", hits),
    ] {
        let content_type = reply.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{case}: content type {content_type:?}"
        );
        assert!(reply.json().is_object(), "{case}: not a JSON object");
    }
}

backend_tests!(
    creating_a_chat_answers_201_with_a_32_hex_id,
    chats_with_the_same_name_are_different_chats,
    joining_answers_201_with_a_32_hex_user_id,
    joining_again_under_the_same_name_gives_the_same_user_id,
    joining_under_another_name_gives_another_user_id,
    two_accounts_joining_under_the_same_name_are_different_members,
    anyone_who_knows_the_chat_id_can_join,
    joining_an_unknown_chat_is_404_chat_not_found,
    unparseable_chat_ids_are_404_chat_not_found_on_every_chat_route,
    chat_ids_are_accepted_dashed_and_in_any_case,
    concurrent_joins_under_one_name_make_one_member,
    successful_answers_are_json,
);

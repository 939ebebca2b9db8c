//! The member list (`GET /v1/chats/{chat_id}/users`): joining order, fields, paging,
//! limits, cursors and who may see it.

use super::members::names;
use crate::prelude::*;

async fn members_are_listed_in_joining_order_with_every_field(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let chat = app.create_chat_ok(&alice).await;
    let mut times = Vec::new();
    let mut ids = Vec::new();
    for (who, name) in [(&alice, "alice"), (&bob, "bob"), (&alice, "alias")] {
        times.push(app.now().as_micros());
        ids.push(app.join_ok(who, &chat, name).await);
        app.advance(Duration::from_secs(1));
    }
    let reply = app.list_members(&alice, &chat, "10", None).await;
    reply.assert_status(200, "list members");
    for user in reply.json()["users"].as_array().expect("a users array") {
        for key in ["user_id", "user_name", "joined_at", "is_mine"] {
            assert!(user.get(key).is_some(), "a member without {key:?}: {user}");
        }
    }
    let seen = app.members_ok(&alice, &chat, 10, None).await.users;
    assert_eq!(names(&seen), ["alice", "bob", "alias"], "joining order");
    let got: Vec<&str> = seen.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(got, ids, "user ids");
    let joined: Vec<i64> = seen.iter().map(|m| rfc3339_micros(&m.joined_at)).collect();
    assert_eq!(joined, times, "joined_at is the time of joining");
    let mine: Vec<bool> = seen.iter().map(|m| m.is_mine).collect();
    assert_eq!(mine, [true, false, true], "is_mine for alice");
    let theirs: Vec<bool> = app
        .members_ok(&bob, &chat, 10, None)
        .await
        .users
        .iter()
        .map(|m| m.is_mine)
        .collect();
    assert_eq!(theirs, [false, true, false], "is_mine for bob");
    // A creator who did not join is not a member.
    let lonely = app.create_chat_ok(&bob).await;
    assert!(
        app.members_ok(&bob, &lonely, 10, None)
            .await
            .users
            .is_empty(),
        "nobody joined"
    );
}

async fn paging_members_visits_each_once(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let mut expected = Vec::new();
    for i in 0..12 {
        let name = format!("member {i:02}");
        app.join_ok(&user, &chat, &name).await;
        expected.push(name);
    }
    for limit in [1, 2, 5, 11, 12, 13, 1000] {
        let all = app.all_members(&user, &chat, limit).await;
        assert_eq!(names(&all), expected, "paging members with limit {limit}");
    }
}

async fn a_bad_member_limit_or_cursor_is_400(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, _) = app.chat_with_member(&user).await;
    app.join_ok(&user, &chat, "second").await;
    for limit in ["0", "1001", "-1", "abc", "1.5", ""] {
        app.list_members(&user, &chat, limit, None)
            .await
            .assert_error(400, "bad-parameters", &format!("limit={limit:?}"));
    }
    app.raw(
        Method::GET,
        &format!("/v1/chats/{chat}/users"),
        &user,
        &[],
        None,
    )
    .await
    .assert_error(400, "bad-parameters", "no limit");
    for limit in [1, 1000] {
        app.members_ok(&user, &chat, limit, None).await;
    }
    let next = app.members_ok(&user, &chat, 1, None).await.next.iterator;
    for (case, cursor) in [
        ("garbage", "xyz".to_owned()),
        ("32 non-hex characters", "z".repeat(32)),
        (
            "a valid cursor cut short",
            next[..next.len() - 1].to_owned(),
        ),
    ] {
        app.list_members(&user, &chat, "10", Some(&cursor))
            .await
            .assert_error(400, "bad-cursor", case);
        app.list_members(&user, &"e".repeat(32), "10", Some(&cursor))
            .await
            .assert_error(404, "chat-not-found", &format!("{case}, an unknown chat"));
    }
}

async fn members_of_a_chat_you_cannot_read_are_404(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    for (case, id) in [
        ("someone else's chat", chat),
        ("an unknown chat", "f".repeat(32)),
        ("an unparseable id", "nope".into()),
    ] {
        app.list_members(&mallory, &id, "10", None)
            .await
            .assert_error(404, "chat-not-found", case);
    }
}

backend_tests!(
    members_are_listed_in_joining_order_with_every_field,
    paging_members_visits_each_once,
    a_bad_member_limit_or_cursor_is_400,
    members_of_a_chat_you_cannot_read_are_404,
);

//! Leaving and removal by the creator (`DELETE /v1/chats/{chat_id}/users/{user_id}`) and
//! what each does to access. (The member list itself: `members_list`.)

use crate::prelude::*;

pub(super) fn names(members: &[Member]) -> Vec<String> {
    members.iter().map(|m| m.user_name.clone()).collect()
}

/// Asserts that `user` can no longer read, post to, mark or list `chat`.
async fn assert_locked_out(app: &TestApp, user: &User, chat: &str, member: &str, case: &str) {
    app.get_messages(user, chat, "10", None).await.assert_error(
        404,
        "chat-not-found",
        &format!("{case}: read"),
    );
    app.post_message(user, chat, member, "still here?")
        .await
        .assert_error(404, "chat-not-found", &format!("{case}: post"));
    app.chat_summary(user, chat).await.assert_error(
        404,
        "chat-not-found",
        &format!("{case}: summary"),
    );
    app.list_members(user, chat, "10", None).await.assert_error(
        404,
        "chat-not-found",
        &format!("{case}: members"),
    );
    assert!(
        app.all_chats(user, 100)
            .await
            .iter()
            .all(|c| c.chat_id != chat),
        "{case}: the chat is still in the list"
    );
}

async fn leaving_under_your_last_identity_ends_access_but_keeps_your_messages(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &b, "bye").await;
    assert_eq!(app.chat_summary_ok(&alice, &chat).await.member_count, 2);
    app.remove_member_ok(&bob, &chat, &b).await;
    assert_locked_out(&app, &bob, &chat, &b, "bob left").await;
    let members = app.all_members(&alice, &chat, 10).await;
    assert_eq!(
        names(&members),
        std::slice::from_ref(&alice.name),
        "bob is no longer a member"
    );
    assert_eq!(
        app.chat_summary_ok(&alice, &chat).await.member_count,
        1,
        "member_count after leaving"
    );
    let page = app.page_ok(&alice, &chat, 10, None).await;
    assert_eq!(page.messages.len(), 1, "bob's message stays");
    assert_eq!(
        (
            page.messages[0].user_id.as_str(),
            page.messages[0].user_name.as_str()
        ),
        (b.as_str(), "bob")
    );
    app.post_ok(&alice, &chat, &a, "alice goes on").await;
    app.remove_member(&bob, &chat, &b).await.assert_error(
        404,
        "chat-not-found",
        "bob leaving again, without access",
    );
    // Leaving is not a bar: bob may join again.
    let back = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &back, "back again").await;
}

async fn leaving_one_of_two_identities_keeps_access(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    let alias = app.join_ok(&bob, &chat, "alias").await;
    app.post_ok(&bob, &chat, &alias, "as the alias").await;
    app.remove_member_ok(&bob, &chat, &alias).await;
    app.post_message(&bob, &chat, &alias, "again")
        .await
        .assert_error(404, "user-not-found", "posting as the identity that left");
    app.post_ok(&bob, &chat, &b, "as bob").await;
    let s = app.chat_summary_ok(&bob, &chat).await;
    assert_eq!(
        s.my_users,
        [MyUser {
            user_id: b,
            user_name: "bob".into()
        }],
        "bob's identities"
    );
    assert_eq!(s.member_count, 2, "alice and bob");
    let page = app.page_ok(&bob, &chat, 10, None).await;
    assert_eq!(
        page.messages[0].user_name, "alias",
        "the alias's message keeps its name"
    );
    app.remove_member(&bob, &chat, &alias).await.assert_error(
        404,
        "user-not-found",
        "leaving again under the same identity",
    );
}

async fn the_creator_keeps_access_after_leaving(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    app.remove_member_ok(&alice, &chat, &a).await;
    app.post_message(&alice, &chat, &a, "hi")
        .await
        .assert_error(
            404,
            "user-not-found",
            "the creator posting as the identity she left",
        );
    app.post_ok(&bob, &chat, &b, "bob is still here").await;
    assert_eq!(
        app.page_ok(&alice, &chat, 10, None).await.messages.len(),
        1,
        "the creator reads"
    );
    let s = app.chat_summary_ok(&alice, &chat).await;
    assert!(
        s.is_creator && s.my_users.is_empty(),
        "the creator without identities: {s:?}"
    );
    assert!(
        app.all_chats(&alice, 100)
            .await
            .iter()
            .any(|c| c.chat_id == chat),
        "still listed"
    );
    app.rename_chat_ok(&alice, &chat, "still mine").await;
    app.remove_member_ok(&alice, &chat, &b).await;
}

async fn the_creator_removes_a_member_for_good(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &b, "spam").await;
    app.remove_member_ok(&alice, &chat, &b).await;
    assert_locked_out(&app, &bob, &chat, &b, "bob removed").await;
    let end = app.page_ok(&alice, &chat, 10, None).await.next.iterator;
    app.mark_read(&bob, &chat, &end).await.assert_error(
        404,
        "chat-not-found",
        "bob removed: mark read",
    );
    for name in ["bob", "someone new"] {
        app.join(&bob, &chat, name).await.assert_error(
            404,
            "chat-not-found",
            &format!("bob re-joining as {name:?}"),
        );
    }
    let other_session = Auth::Token(app.login_ok(&bob.name, &bob.password).await);
    app.join(&other_session, &chat, "bob").await.assert_error(
        404,
        "chat-not-found",
        "bob re-joining from another session",
    );
    app.post_ok(&alice, &chat, &a, "later").await;
    app.join(&bob, &chat, "bob")
        .await
        .assert_error(404, "chat-not-found", "bob re-joining later");
    let page = app.page_ok(&alice, &chat, 10, None).await;
    assert_eq!(
        page.messages[0].user_name, "bob",
        "the removed member's message stays"
    );
    assert_eq!(
        names(&app.all_members(&alice, &chat, 10).await),
        std::slice::from_ref(&alice.name)
    );
}

async fn only_the_creator_removes_anothers_member(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let carol = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    let c = app.join_ok(&carol, &chat, "carol").await;
    app.remove_member(&bob, &chat, &c)
        .await
        .assert_error(403, "forbidden", "bob removing carol");
    app.remove_member(&bob, &chat, &a).await.assert_error(
        403,
        "forbidden",
        "bob removing the creator's identity",
    );
    assert_eq!(
        app.all_members(&alice, &chat, 10).await.len(),
        3,
        "nobody was removed"
    );
    app.post_ok(&carol, &chat, &c, "still here").await;
}

async fn removing_someone_who_is_not_a_member_is_404_user_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    let gone = app.join_ok(&bob, &chat, "gone").await;
    app.remove_member_ok(&bob, &chat, &gone).await;
    let (_, elsewhere) = app.chat_with_member(&alice).await;
    for (case, user_id) in [
        ("an unknown user", "a".repeat(32)),
        ("all zeros", "0".repeat(32)),
        ("an unparseable user_id", "nope".to_owned()),
        ("a member of another chat", elsewhere),
        ("a member who left", gone),
    ] {
        app.remove_member(&alice, &chat, &user_id)
            .await
            .assert_error(
                404,
                "user-not-found",
                &format!("the creator removing {case}"),
            );
        app.remove_member(&bob, &chat, &user_id).await.assert_error(
            404,
            "user-not-found",
            &format!("a member removing {case} (before forbidden)"),
        );
    }
}

async fn removing_from_a_chat_you_cannot_read_is_404_chat_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let (chat, a) = app.chat_with_member(&alice).await;
    for (case, id, user_id) in [
        ("someone else's chat", chat.clone(), a.clone()),
        (
            "someone else's chat, an unparseable user",
            chat.clone(),
            "nope".to_owned(),
        ),
        ("an unknown chat", "b".repeat(32), a.clone()),
        ("an unparseable chat", "nope".to_owned(), a.clone()),
    ] {
        app.remove_member(&mallory, &id, &user_id)
            .await
            .assert_error(404, "chat-not-found", case);
    }
    app.post_ok(&alice, &chat, &a, "alice is still a member")
        .await;
}

async fn the_join_stays_idempotent_for_current_members(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let carol = app.new_user().await;
    let (chat, _) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    let c = app.join_ok(&carol, &chat, "carol").await;
    let alias = app.join_ok(&bob, &chat, "alias").await;
    app.remove_member_ok(&bob, &chat, &alias).await;
    assert_eq!(
        app.join_ok(&bob, &chat, "bob").await,
        b,
        "after bob's other identity left"
    );
    app.remove_member_ok(&alice, &chat, &c).await;
    assert_eq!(
        app.join_ok(&bob, &chat, "bob").await,
        b,
        "after carol was removed"
    );
    assert_eq!(
        app.all_members(&alice, &chat, 10).await.len(),
        2,
        "alice and bob"
    );
}

backend_tests!(
    leaving_under_your_last_identity_ends_access_but_keeps_your_messages,
    leaving_one_of_two_identities_keeps_access,
    the_creator_keeps_access_after_leaving,
    the_creator_removes_a_member_for_good,
    only_the_creator_removes_anothers_member,
    removing_someone_who_is_not_a_member_is_404_user_not_found,
    removing_from_a_chat_you_cannot_read_is_404_chat_not_found,
    the_join_stays_idempotent_for_current_members,
);

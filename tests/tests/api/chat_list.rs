//! The caller's chat list (`GET /v1/chats`): whose chats, their order by activity (also
//! while others post), paging without repeats, limits, cursors and the event position.

use crate::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

/// Asserts that `got` lists exactly `tied` ordered by chat id, ascending or descending
/// (`API.md` says ties go by `chat_id`, not which way).
#[track_caller]
fn assert_tie_order(got: &[String], tied: &[String], case: &str) {
    let mut ascending = tied.to_vec();
    ascending.sort();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    assert!(
        got == ascending.as_slice() || got == descending.as_slice(),
        "{case}: chats with the same activity are not ordered by chat_id: {got:?}"
    );
}

async fn a_new_account_has_an_empty_list(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let list = app.list_chats_ok(&user, 10, None).await;
    assert!(list.chats.is_empty(), "a new account's list: {list:?}");
    let again = app
        .list_chats_ok(&user, 10, Some(&list.next.iterator))
        .await;
    assert!(again.chats.is_empty(), "the page after an empty list");
}

async fn the_list_holds_only_the_callers_chats(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let carol = app.new_user().await;
    let created = app.create_chat_ok(&alice).await;
    let joined = app.create_chat_ok(&bob).await;
    app.join_ok(&alice, &joined, "alice").await;
    let bobs = app.create_chat_ok(&bob).await;
    let (both, _) = app.chat_with_member(&alice).await;
    app.join_ok(&alice, &both, "alias").await;
    let mine: HashSet<String> = app
        .all_chats(&alice, 100)
        .await
        .into_iter()
        .map(|c| c.chat_id)
        .collect();
    let expected: HashSet<String> = [created.clone(), joined.clone(), both.clone()].into();
    assert_eq!(
        mine, expected,
        "alice: created, joined, created and joined twice"
    );
    let listed = app.all_chats(&alice, 100).await;
    assert_eq!(
        listed.len(),
        3,
        "a chat with two of alice's identities is listed once"
    );
    for summary in &listed {
        assert_eq!(
            summary.is_creator,
            summary.chat_id != joined,
            "is_creator of {}",
            summary.chat_id
        );
    }
    let bobs_list: HashSet<String> = app
        .all_chats(&bob, 100)
        .await
        .into_iter()
        .map(|c| c.chat_id)
        .collect();
    assert_eq!(
        bobs_list,
        [joined, bobs].into(),
        "bob: created both, alice joined one"
    );
    assert!(
        app.all_chats(&carol, 100).await.is_empty(),
        "carol is in no chat"
    );
}

async fn the_list_is_ordered_by_last_activity_then_chat_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (a, member_a) = app.chat_with_member(&user).await;
    app.advance(Duration::from_secs(1));
    let b = app.create_chat_ok(&user).await;
    app.advance(Duration::from_secs(1));
    let c = app.create_chat_ok(&user).await;
    assert_eq!(
        app.list_chats_ok(&user, 100, None).await.ids(),
        [c.clone(), b.clone(), a.clone()],
        "by creation"
    );
    app.advance(Duration::from_secs(1));
    app.post_ok(&user, &a, &member_a, "wake up").await;
    assert_eq!(
        app.list_chats_ok(&user, 100, None).await.ids(),
        [a.clone(), c.clone(), b.clone()],
        "a message moves a chat up"
    );
    // Joining is not activity.
    app.advance(Duration::from_secs(1));
    app.join_ok(&user, &b, "late").await;
    assert_eq!(
        app.list_chats_ok(&user, 100, None).await.ids(),
        [a.clone(), c.clone(), b.clone()],
        "after a join"
    );
    // Three chats created at the same instant, later than everything else: a tie.
    app.advance(Duration::from_secs(1));
    let tied = vec![
        app.create_chat_ok(&user).await,
        app.create_chat_ok(&user).await,
        app.create_chat_ok(&user).await,
    ];
    let ids = app.list_chats_ok(&user, 100, None).await.ids();
    assert_tie_order(&ids[..3], &tied, "three chats created at once");
    assert_eq!(ids[3..], [a, c, b], "the older chats after the tie");
}

async fn the_order_follows_others_posts(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let mut chats = Vec::new();
    for i in 0..3 {
        let (chat, member) = app.chat_with_member(&bob).await;
        app.join_ok(&alice, &chat, &format!("alice {i}")).await;
        chats.push((chat, member));
        app.advance(Duration::from_secs(1));
    }
    let hidden = app.chat_with_member(&bob).await;
    let mut recent: Vec<String> = chats.iter().rev().map(|(c, _)| c.clone()).collect();
    for (step, pick) in [1, 0, 2, 0, 0, 1].into_iter().enumerate() {
        app.advance(Duration::from_secs(1));
        let (chat, member) = &chats[pick];
        app.post_ok(&bob, chat, member, &format!("step {step}"))
            .await;
        app.post_ok(&bob, &hidden.0, &hidden.1, "not alice's").await;
        recent.retain(|c| c != chat);
        recent.insert(0, chat.clone());
        let ids = app.list_chats_ok(&alice, 100, None).await.ids();
        assert_eq!(
            ids, recent,
            "alice's list after bob's post {step} into chat {pick}"
        );
    }
}

async fn paging_the_list_with_any_limit_shows_each_chat_once(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for i in 0..20 {
        app.create_chat_ok(&user).await;
        if i % 4 != 0 {
            // Some chats share an instant: the keyset must also page through ties.
            app.advance(Duration::from_secs(1));
        }
    }
    let whole = app.list_chats_ok(&user, 100, None).await.ids();
    assert_eq!(whole.len(), 20);
    for limit in [1, 2, 3, 7, 19, 20, 21, 100] {
        let paged: Vec<String> = app
            .all_chats(&user, limit)
            .await
            .into_iter()
            .map(|c| c.chat_id)
            .collect();
        assert_eq!(paged, whole, "paging with limit {limit}");
    }
    let empty_from = app.list_chats_ok(&user, 5, Some("")).await.ids();
    assert_eq!(empty_from, whole[..5], "from= empty is the first page");
}

async fn paging_while_others_post_never_shows_a_chat_twice(backend: Backend) {
    let app = Arc::new(spawn_app(TestOptions::new(backend)).await);
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let mut chats = Vec::new();
    for i in 0..15 {
        let (chat, member) = app.chat_with_member(&bob).await;
        app.join_ok(&alice, &chat, &format!("alice {i}")).await;
        chats.push((chat, member));
        app.advance(Duration::from_secs(1));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut changed: HashSet<String> = HashSet::new();
    let mut from: Option<String> = None;
    for round in 0..100 {
        let page = app.list_chats_ok(&alice, 3, from.as_deref()).await;
        if page.chats.is_empty() {
            break;
        }
        seen.extend(page.ids());
        from = Some(page.next.iterator);
        // Bob posts into a chat alice has seen and into one she has not: both move up.
        app.advance(Duration::from_secs(1));
        let shown = seen[0].clone();
        let unseen = chats
            .iter()
            .find(|(c, _)| !seen.contains(c) && !changed.contains(c));
        for (chat, member) in chats.iter().filter(|(c, _)| *c == shown).chain(unseen) {
            app.post_ok(&bob, chat, member, &format!("round {round}"))
                .await;
            changed.insert(chat.clone());
        }
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        distinct.len(),
        seen.len(),
        "a chat was shown twice: {seen:?}"
    );
    for (chat, _) in &chats {
        assert!(
            changed.contains(chat) || distinct.contains(chat),
            "chat {chat}, untouched while alice paged, was skipped"
        );
    }
}

async fn a_limit_out_of_range_or_not_an_integer_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.create_chat_ok(&user).await;
    for limit in [
        "0",
        "101",
        "-1",
        "abc",
        "1.5",
        "",
        " 5",
        "1e2",
        "99999999999999999999",
    ] {
        app.list_chats(&user, limit, None).await.assert_error(
            400,
            "bad-parameters",
            &format!("limit={limit:?}"),
        );
    }
    app.raw(Method::GET, "/v1/chats", &user, &[], None)
        .await
        .assert_error(400, "bad-parameters", "no limit");
    app.raw(Method::GET, "/v1/chats?from=", &user, &[], None)
        .await
        .assert_error(400, "bad-parameters", "no limit, empty from");
    for limit in [1, 100] {
        assert_eq!(
            app.list_chats_ok(&user, limit, None).await.chats.len(),
            1,
            "limit {limit}"
        );
    }
}

async fn a_bad_list_cursor_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.create_chat_ok(&user).await;
    let next = app.list_chats_ok(&user, 1, None).await.next.iterator;
    for (case, cursor) in [
        ("garbage", "xyz".to_owned()),
        ("32 non-hex characters", "z".repeat(32)),
        ("words", "not a cursor".to_owned()),
        (
            "a valid cursor cut short",
            next[..next.len() - 1].to_owned(),
        ),
        ("a valid cursor with a character more", format!("{next}!")),
    ] {
        app.list_chats(&user, "10", Some(&cursor))
            .await
            .assert_error(400, "bad-cursor", case);
    }
}

/// The chat list's event position never goes back, is never past an event the caller has
/// not seen, and moves on after activity. Over PostgreSQL the position is the commit
/// horizon, which any transaction still open on the cluster (another test's migration, say)
/// holds back for a moment, so "moves on" is awaited, not expected at once.
async fn the_event_position_is_valid_and_moves_on_with_activity(backend: Backend) {
    const WITHIN: Duration = Duration::from_secs(15);
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, member) = app.chat_with_member(&bob).await;
    app.join_ok(&alice, &chat, "alice").await;
    let mut last = app.list_chats_ok(&alice, 10, None).await.events.iterator;
    for i in 0..3 {
        let text = format!("news {i}");
        let posted = app.post_ok(&bob, &chat, &member, &text).await;
        // Nothing missed: the post is after the position alice held before it.
        let (events, _) = app
            .events_until(&alice, &last, WITHIN, |e| {
                e.iter()
                    .any(|e| e.data["message"]["message_id"] == posted.as_str())
            })
            .await;
        assert!(
            events
                .iter()
                .any(|e| e.kind == "message.created" && e.data["message"]["text"] == text),
            "post {i} is not after the position held before it: {events:?}"
        );
        let began = std::time::Instant::now();
        let now = loop {
            let now = app.list_chats_ok(&alice, 10, None).await.events.iterator;
            // Same width, lowercase hex: comparing the strings compares the numbers.
            assert!(
                now >= last,
                "the event position went back after post {i}: {last} → {now}"
            );
            if now > last || began.elapsed() > WITHIN {
                break now;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_ne!(
            now, last,
            "the event position did not move within {WITHIN:?} of post {i}"
        );
        last = now;
    }
    let later = app.list_chats_ok(&alice, 10, None).await.events.iterator;
    assert!(
        later >= last,
        "the event position went back without activity: {last} → {later}"
    );
}

backend_tests!(
    a_new_account_has_an_empty_list,
    the_list_holds_only_the_callers_chats,
    the_list_is_ordered_by_last_activity_then_chat_id,
    the_order_follows_others_posts,
    paging_the_list_with_any_limit_shows_each_chat_once,
    paging_while_others_post_never_shows_a_chat_twice,
    a_limit_out_of_range_or_not_an_integer_is_400_bad_parameters,
    a_bad_list_cursor_is_400_bad_cursor,
    the_event_position_is_valid_and_moves_on_with_activity,
);

//! Live updates (`GET /v1/events`, `GET /v1/events/stream`): replay of every event type
//! from a chat list's position, resuming without a gap or a repeat, who sees what, bad
//! positions, the stream's framing and resume with `Last-Event-ID`, the per-account
//! stream limit, and logout ending a stream.

use crate::prelude::*;

/// Long enough for an event to reach a reader on any backend (PostgreSQL readers see an
/// event once every transaction begun before its commit has ended).
const WITHIN: Duration = Duration::from_secs(10);

fn kinds(events: &[WireEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// The position a client starts from: its chat list's `events.iterator`.
async fn start(app: &TestApp, user: &User) -> String {
    app.list_chats_ok(user, 10, None).await.events.iterator
}

async fn every_event_type_replays_from_the_chat_list_position(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let from = start(&app, &alice).await;
    let chat = app.create_chat_ok(&alice).await;
    let a = app.join_ok(&alice, &chat, "alice").await;
    let first = app.post_ok(&alice, &chat, &a, "hello").await;
    app.rename_chat_ok(&alice, &chat, "renamed").await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&bob, &chat, &b, "hi alice").await;
    let end = app.end_of(&alice, &chat).await;
    app.mark_read_ok(&alice, &chat, &end).await;
    app.remove_member_ok(&bob, &chat, &b).await;
    let want = [
        "chat.created",
        "member.joined",
        "message.created",
        "chat.renamed",
        "member.joined",
        "message.created",
        "read.updated",
        "member.left",
    ];
    let (events, _) = app
        .events_until(&alice, &from, WITHIN, |e| e.len() >= want.len())
        .await;
    assert_eq!(kinds(&events), want, "alice's events in order");
    let created = &events[0].data;
    assert_eq!(created["chat"]["chat_id"], chat.as_str());
    assert_eq!(events[1].data["chat_id"], chat.as_str());
    assert_eq!(events[1].data["user"]["user_id"], a.as_str());
    assert_eq!(events[1].data["user"]["user_name"], "alice");
    let message = &events[2].data["message"];
    assert_eq!(events[2].data["chat_id"], chat.as_str());
    assert_eq!(message["message_id"], first.as_str());
    assert_eq!(message["text"], "hello");
    assert_eq!(message["user_id"], a.as_str());
    assert_eq!(message["user_name"], "alice");
    rfc3339_micros(message["created_at"].as_str().expect("created_at"));
    assert_eq!(events[3].data["chat"]["chat_name"], "renamed");
    assert_eq!(events[6].data["read"]["iterator"], end.as_str());
    assert_eq!(events[6].data["unread_count"], 0);
    assert_eq!(
        events[7].data,
        json!({ "chat_id": chat, "user_id": b, "removed": false })
    );
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "event ids are distinct");
}

async fn resuming_after_an_event_gives_exactly_the_later_ones(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let from = start(&app, &alice).await;
    let (chat, a) = app.chat_with_member(&alice).await;
    for i in 0..6 {
        app.post_ok(&alice, &chat, &a, &format!("m{i}")).await;
    }
    let (all, next) = app
        .events_until(&alice, &from, WITHIN, |e| e.len() >= 8)
        .await;
    assert_eq!(
        all.len(),
        8,
        "created, joined, six messages: {:?}",
        kinds(&all)
    );
    for k in 0..all.len() {
        let (rest, _) = app
            .events_until(&alice, &all[k].id, WITHIN, |e| e.len() >= all.len() - k - 1)
            .await;
        assert_eq!(rest, all[k + 1..].to_vec(), "after event {k}");
    }
    let page = app.poll_events_ok(&alice, &next, 100, 0).await;
    assert!(page.events.is_empty(), "nothing after the end: {page:?}");
    // Positions are fixed-width hex: their order is the text's. An empty answer may move
    // past events the caller does not see, never back.
    assert!(
        page.next.iterator >= next,
        "an empty answer never moves back"
    );
    // Small pages visit the same events.
    let mut paged = Vec::new();
    let mut after = from.clone();
    while paged.len() < all.len() {
        let page = app.poll_events_ok(&alice, &after, 3, 1).await;
        assert!(page.events.len() <= 3, "limit 3: {page:?}");
        paged.extend(page.events);
        after = page.next.iterator;
    }
    assert_eq!(paged, all, "paging by 3");
}

async fn chats_you_cannot_read_send_you_nothing_and_removal_stops_them(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let carol = app.new_user().await;
    let bob_from = start(&app, &bob).await;
    let carol_from = start(&app, &carol).await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let b = app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&alice, &chat, &a, "before").await;
    let end = app.end_of(&alice, &chat).await;
    app.mark_read_ok(&alice, &chat, &end).await;
    app.remove_member_ok(&alice, &chat, &b).await;
    app.post_ok(&alice, &chat, &a, "after the removal").await;
    app.rename_chat_ok(&alice, &chat, "secret").await;
    // A marker of carol's own, after everything above: when it arrives, so has the rest.
    let (own, _) = app.chat_with_member(&carol).await;
    let (events, _) = app
        .events_until(&carol, &carol_from, WITHIN, |e| {
            e.iter().any(|x| x.kind == "member.joined")
        })
        .await;
    assert!(
        events
            .iter()
            .all(|e| e.data["chat_id"] != chat.as_str()
                && e.data["chat"]["chat_id"] != chat.as_str()),
        "carol never joined alice's chat: {events:?}"
    );
    assert_eq!(events[0].data["chat"]["chat_id"], own.as_str());

    // Bob: his join, the message before, his removal; nothing after it, no read marker of
    // alice's.
    let (bobs, _) = app
        .events_until(&bob, &bob_from, WITHIN, |e| {
            e.iter().any(|x| x.kind == "member.left")
        })
        .await;
    let after_more = app
        .events_until(
            &bob,
            &bobs.last().expect("events").id,
            Duration::from_secs(2),
            |_| false,
        )
        .await
        .0;
    assert_eq!(
        kinds(&bobs),
        ["member.joined", "message.created", "member.left"],
        "bob: {bobs:?}"
    );
    assert_eq!(bobs[2].data["removed"], true);
    assert!(
        after_more.is_empty(),
        "nothing after bob's removal: {after_more:?}"
    );
}

async fn read_markers_go_to_their_own_account_only(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    // Both positions before anything happens: a position taken after a change may be
    // below it on PostgreSQL while another transaction of the database is still open
    // (the log's horizon), and the change would then be replayed.
    let bob_from = start(&app, &bob).await;
    let alice_from = start(&app, &alice).await;
    let (chat, a) = app.chat_with_member(&alice).await;
    app.join_ok(&bob, &chat, "bob").await;
    app.post_ok(&alice, &chat, &a, "one").await;
    let end = app.end_of(&bob, &chat).await;
    app.mark_read_ok(&bob, &chat, &end).await;
    app.post_ok(&alice, &chat, &a, "two").await;
    let (bobs, _) = app
        .events_until(&bob, &bob_from, WITHIN, |e| e.len() >= 4)
        .await;
    assert_eq!(
        kinds(&bobs),
        [
            "member.joined",
            "message.created",
            "read.updated",
            "message.created"
        ],
        "bob"
    );
    let (alices, _) = app
        .events_until(&alice, &alice_from, WITHIN, |e| {
            e.iter().filter(|x| x.kind == "message.created").count() >= 2
        })
        .await;
    assert!(
        alices.iter().all(|e| e.kind != "read.updated"),
        "alice sees no marker of bob's: {alices:?}"
    );
}

async fn bad_positions_and_limits_are_400(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let good = start(&app, &user).await;
    let (chat, _) = app.chat_with_member(&user).await;
    let chat_cursor = app.end_of(&user, &chat).await;
    for (case, after) in [
        ("garbage", "xyz".to_owned()),
        ("empty", String::new()),
        ("all zeros", "0".repeat(32)),
        ("a message cursor", chat_cursor.clone()),
    ] {
        app.poll_events_query(
            &user,
            &format!("after={}&limit=10", encode_query_value(&after)),
        )
        .await
        .assert_error(400, "bad-cursor", case);
        let resp = app.open_stream(&user, None, Some(&after)).await;
        if !after.is_empty() {
            let reply = Reply::from_response(resp).await;
            reply.assert_error(400, "bad-cursor", &format!("stream, {case}"));
        }
    }
    for (case, query) in [
        ("no after", "limit=10".to_owned()),
        ("no limit", format!("after={good}")),
        ("limit 0", format!("after={good}&limit=0")),
        ("limit 1001", format!("after={good}&limit=1001")),
        ("timeout 31", format!("after={good}&limit=1&timeout=31")),
        ("timeout -1", format!("after={good}&limit=1&timeout=-1")),
    ] {
        app.poll_events_query(&user, &query)
            .await
            .assert_error(400, "bad-parameters", case);
    }
    app.poll_events_query(&Auth::None, &format!("after={good}&limit=1"))
        .await
        .assert_error(401, "auth-failed", "no session");
    let reply = Reply::from_response(app.open_stream(Auth::None, None, None).await).await;
    reply.assert_error(401, "auth-failed", "stream without a session");
}

async fn the_stream_replays_then_goes_live_and_resumes_with_last_event_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let from = start(&app, &alice).await;
    let (chat, a) = app.chat_with_member(&alice).await;
    let mut stream = app.stream_ok(&alice, Some(&from), None).await;
    match stream.next(WITHIN).await {
        Read::Frame(Frame::Retry(ms)) => assert!((1000..=5000).contains(&ms), "retry {ms}"),
        other => panic!("the stream starts with retry:, got {other:?}"),
    }
    let replayed = stream.events(2, WITHIN).await;
    assert_eq!(kinds(&replayed), ["chat.created", "member.joined"]);
    let live = app.post_ok(&alice, &chat, &a, "live").await;
    let e = stream.event(WITHIN).await;
    assert_eq!(e.kind, "message.created");
    assert_eq!(e.data["message"]["message_id"], live.as_str());
    drop(stream);

    // Away: two more posts, then back with the last id seen.
    app.post_ok(&alice, &chat, &a, "missed 1").await;
    app.post_ok(&alice, &chat, &a, "missed 2").await;
    let mut again = app.stream_ok(&alice, Some(&from), Some(&e.id)).await;
    let missed = again.events(2, WITHIN).await;
    let texts: Vec<&str> = missed
        .iter()
        .map(|m| m.data["message"]["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        texts,
        ["missed 1", "missed 2"],
        "Last-Event-ID wins over after"
    );
    assert_eq!(
        again.quiet_for(Duration::from_millis(500)).await,
        None,
        "no repeat"
    );
    // Without a position: live from now.
    let mut live_only = app.stream_ok(&alice, None, None).await;
    assert_eq!(live_only.quiet_for(Duration::from_millis(300)).await, None);
    app.post_ok(&alice, &chat, &a, "now").await;
    let e = live_only.event(WITHIN).await;
    assert_eq!(e.data["message"]["text"], "now");
}

async fn an_account_has_at_most_ten_streams(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let second = Auth::Token(app.login_ok(&user.name, &user.password).await);
    let mut open = Vec::new();
    for _ in 0..10 {
        open.push(app.stream_ok(&user, None, None).await);
    }
    let reply = Reply::from_response(app.open_stream(&second, None, None).await).await;
    reply.assert_throttled("the eleventh stream, from another session of the account");
    let other = app.new_user().await;
    let _theirs = app.stream_ok(&other, None, None).await;
    // Ending the first session ends its ten streams and frees their slots.
    app.logout(&user).await.assert_status(200, "logout");
    let began = std::time::Instant::now();
    loop {
        let resp = app.open_stream(&second, None, None).await;
        if resp.status().as_u16() == 200 {
            break;
        }
        assert!(
            began.elapsed() < WITHIN,
            "ended streams' slots were never freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn logging_out_ends_the_stream(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let mut stream = app.stream_ok(&user, None, None).await;
    app.logout(&user).await.assert_status(200, "logout");
    let began = std::time::Instant::now();
    loop {
        match stream.next(WITHIN).await {
            Read::Ended => break,
            Read::Idle => panic!("the stream outlived its session by {WITHIN:?}"),
            Read::Frame(_) => {}
        }
    }
    assert!(began.elapsed() < Duration::from_secs(5), "ended within 5 s");
}

async fn a_position_older_than_the_retention_gets_a_reset_then_goes_on(backend: Backend) {
    // Purging ages the whole store; on a shared database that would reset the other
    // tests' readers, so this runs where the store is the test's own.
    if !backend.is_memory() {
        println!(
            "skipped on {}: purging would touch other tests' events",
            backend.name
        );
        return;
    }
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let old = start(&app, &user).await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.advance(Duration::from_secs(8 * 24 * 3600));
    let purged = app.messenger().purge_old_events().await.expect("purge");
    assert!(
        purged >= 2,
        "the chat's events are past the 7-day retention: {purged}"
    );
    let user = Auth::Token(app.login_ok(&user.name, &user.password).await);

    let page = app.poll_events_ok(&user, &old, 100, 0).await;
    assert_eq!(kinds(&page.events), ["reset"], "the long poll: {page:?}");
    assert_eq!(page.events[0].data["reason"], "position-expired");
    app.post_ok(&user, &chat, &member, "after the reset").await;
    let (later, _) = app
        .events_until(&user, &page.next.iterator, WITHIN, |e| !e.is_empty())
        .await;
    assert_eq!(
        kinds(&later),
        ["message.created"],
        "live again from the reset's position"
    );

    let mut stream = app.stream_ok(&user, None, Some(&old)).await;
    let reset = stream.event(WITHIN).await;
    assert_eq!(reset.kind, "reset", "the stream: {reset:?}");
    app.post_ok(&user, &chat, &member, "live after the reset")
        .await;
    let e = stream.event(WITHIN).await;
    assert_eq!(e.data["message"]["text"], "live after the reset");
}

backend_tests!(
    a_position_older_than_the_retention_gets_a_reset_then_goes_on,
    every_event_type_replays_from_the_chat_list_position,
    resuming_after_an_event_gives_exactly_the_later_ones,
    chats_you_cannot_read_send_you_nothing_and_removal_stops_them,
    read_markers_go_to_their_own_account_only,
    bad_positions_and_limits_are_400,
    the_stream_replays_then_goes_live_and_resumes_with_last_event_id,
    an_account_has_at_most_ten_streams,
    logging_out_ends_the_stream,
);

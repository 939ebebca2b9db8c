//! Search: what matches, where it looks, paging of results, task states and bad input.

use crate::prelude::*;
use messenger_domain::{SearchQuery, SearchTask, TaskId, TaskStatus};
use std::collections::HashSet;

/// Posts each text as `member` in `chat`, one second apart (so "newest first" is plain).
async fn post_all(app: &TestApp, user: &User, chat: &str, member: &str, texts: &[&str]) {
    for text in texts {
        app.advance(Duration::from_secs(1));
        app.post_ok(user, chat, member, text).await;
    }
}

fn hit_texts(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.text.clone()).collect()
}

/// Stores a task for `user` directly in the task store, never queued, so it stays in
/// `status` for as long as the test needs: the only deterministic way to observe a task
/// that has not finished (the in-process worker would otherwise run it at once).
async fn parked_task(app: &TestApp, user: &User, status: TaskStatus) -> String {
    let messenger = app.messenger();
    let caller = messenger
        .authenticate(&user.token)
        .await
        .expect("the user's session is valid");
    let id = TaskId::from_u128(uuid::Uuid::new_v4().as_u128());
    let task = SearchTask {
        id,
        account_id: caller.account_id,
        query: SearchQuery::parse("parked query").expect("a valid query"),
        all_chats: false,
        status,
        created_at: app.now(),
    };
    messenger
        .ports()
        .task_store
        .insert_task(&task, Duration::from_secs(3600))
        .await
        .expect("stored");
    id.to_string()
}

async fn finds_messages_with_every_word_in_any_order_and_case(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    post_all(
        &app,
        &user,
        &chat,
        &member,
        &[
            "The quick brown fox",
            "quick fox",
            "brown dog",
            "FOX, quick! jumps",
            "quickly foxes",
            "fox",
        ],
    )
    .await;
    let expected = ["FOX, quick! jumps", "quick fox", "The quick brown fox"];
    for query in ["quick fox", "fox quick", "QUICK Fox", "  quick   fox  "] {
        assert_eq!(
            hit_texts(&app.search_all(&user, query, 10).await),
            expected,
            "query {query:?}"
        );
    }
    assert_eq!(
        hit_texts(&app.search_all(&user, "brown fox quick", 10).await),
        ["The quick brown fox"]
    );
    assert!(
        app.search_all(&user, "quick cat", 10).await.is_empty(),
        "a word missing"
    );
}

async fn only_whole_words_match(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    post_all(
        &app,
        &user,
        &chat,
        &member,
        &["testing", "a contest", "test-driven", "tests", "a test."],
    )
    .await;
    assert_eq!(
        hit_texts(&app.search_all(&user, "test", 10).await),
        ["a test.", "test-driven"]
    );
}

async fn a_quoted_phrase_must_appear_as_words_in_a_row(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    post_all(
        &app,
        &user,
        &chat,
        &member,
        &[
            "new york city",
            "york new",
            "New, York!",
            "newyork",
            "new and york",
        ],
    )
    .await;
    for query in ["\"new york\"", "\u{201c}new york\u{201d}", "\"NEW YORK\""] {
        assert_eq!(
            hit_texts(&app.search_all(&user, query, 10).await),
            ["New, York!", "new york city"],
            "query {query:?}"
        );
    }
    assert_eq!(
        hit_texts(&app.search_all(&user, "\"new york\" city", 10).await),
        ["new york city"]
    );
    assert_eq!(
        hit_texts(&app.search_all(&user, "city \"new york", 10).await),
        ["new york city"],
        "an unclosed quote"
    );
    assert_eq!(
        hit_texts(&app.search_all(&user, "\"york new\"", 10).await),
        ["york new"]
    );
    assert_eq!(
        hit_texts(&app.search_all(&user, "york new", 10).await).len(),
        4,
        "unquoted words match in any order"
    );
}

async fn words_of_any_language_match_case_insensitively(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    post_all(
        &app,
        &user,
        &chat,
        &member,
        &[
            "Привет, мир",
            "привет всем",
            "Καλημέρα κόσμε",
            "こんにちは 世界",
            "Straße gesperrt",
            "café crème",
        ],
    )
    .await;
    for (query, expected) in [
        ("ПРИВЕТ", vec!["привет всем", "Привет, мир"]),
        ("привет мир", vec!["Привет, мир"]),
        ("καλημέρα", vec!["Καλημέρα κόσμε"]),
        ("こんにちは", vec!["こんにちは 世界"]),
        ("STRAßE", vec!["Straße gesperrt"]),
        ("CAFÉ", vec!["café crème"]),
    ] {
        assert_eq!(
            hit_texts(&app.search_all(&user, query, 10).await),
            expected,
            "query {query:?}"
        );
    }
}

async fn hits_carry_their_message_fields(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let chat = app.create_chat_ok(&user).await;
    let member = app.join_ok(&user, &chat, "Display Name").await;
    let at = app.now();
    let message_id = app
        .post_ok(&user, &chat, &member, "findable words here")
        .await;
    let hits = app.search_all(&user, "findable", 10).await;
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.text, "findable words here");
    assert_eq!(hit.chat_id, chat);
    assert_eq!(hit.message_id, message_id);
    assert_eq!(hit.user_name, "Display Name");
    let page = app.page_ok(&user, &chat, 1, None).await;
    assert_eq!(
        hit.created_at, page.messages[0].created_at,
        "created_at differs from the chat's"
    );
    assert!(
        hit.created_at.ends_with('Z'),
        "created_at {:?} is not UTC with Z",
        hit.created_at
    );
    let parsed = time::OffsetDateTime::parse(
        &hit.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    assert_eq!(
        i64::try_from(parsed.unix_timestamp_nanos() / 1000).expect("fits"),
        at.as_micros()
    );
}

async fn searches_only_chats_the_account_created_or_joined(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (own, alices) = app.chat_with_member(&alice).await;
    let created_only = app.create_chat_ok(&alice).await;
    let bob_in_created = app.join_ok(&bob, &created_only, "bob").await;
    let (joined, bobs_joined) = app.chat_with_member(&bob).await;
    app.join_ok(&alice, &joined, "alice").await;
    let (foreign, bobs_foreign) = app.chat_with_member(&bob).await;
    app.post_ok(&alice, &own, &alices, "needle in own").await;
    app.post_ok(&bob, &created_only, &bob_in_created, "needle in created")
        .await;
    app.post_ok(&bob, &joined, &bobs_joined, "needle in joined")
        .await;
    app.post_ok(&bob, &foreign, &bobs_foreign, "needle in foreign")
        .await;
    let hits = app.search_all(&alice, "needle", 10).await;
    let found: HashSet<String> = hits.iter().map(|h| h.text.clone()).collect();
    let expected: HashSet<String> = ["needle in own", "needle in created", "needle in joined"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
    assert!(
        hits.iter().all(|h| h.chat_id != foreign),
        "a hit from a chat alice cannot read"
    );
    let bobs: HashSet<String> = app
        .search_all(&bob, "needle", 10)
        .await
        .into_iter()
        .map(|h| h.text)
        .collect();
    let expected: HashSet<String> = ["needle in created", "needle in joined", "needle in foreign"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(bobs, expected, "bob's search");
}

async fn a_chat_joined_later_is_searched_from_then_on(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (chat, bobs) = app.chat_with_member(&bob).await;
    app.post_ok(&bob, &chat, &bobs, "posted before alice joined")
        .await;
    assert!(
        app.search_all(&alice, "posted before", 10).await.is_empty(),
        "found before joining"
    );
    app.join_ok(&alice, &chat, "alice").await;
    let hits = app.search_all(&alice, "posted before", 10).await;
    assert_eq!(hit_texts(&hits), ["posted before alice joined"]);
}

async fn results_page_newest_first_exactly_once_then_an_empty_page(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let texts: Vec<String> = (0..12).map(|i| format!("match number {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    post_all(&app, &user, &chat, &member, &refs).await;
    post_all(&app, &user, &chat, &member, &["no hit here"]).await;
    let task = app.start_search_ok(&user, "match number").await;
    assert_eq!(app.wait_for_search(&user, &task).await, "SUCCESS");
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    for expected_len in [5, 5, 2, 0] {
        let page = app.hits_ok(&user, &task, 5, from.as_deref()).await;
        assert_eq!(
            page.messages.len(),
            expected_len,
            "after {} hits",
            seen.len()
        );
        seen.extend(page.messages);
        from = Some(page.next.iterator);
    }
    let newest_first: Vec<String> = texts.iter().rev().cloned().collect();
    assert_eq!(hit_texts(&seen), newest_first);
    // The end stays the end.
    let end = from.expect("a cursor");
    let again = app.hits_ok(&user, &task, 5, Some(&end)).await;
    assert!(again.messages.is_empty());
    assert_eq!(again.next.iterator, end);
    // The results are fixed when the task runs: a later post does not appear.
    app.post_ok(&user, &chat, &member, "match number 99").await;
    assert!(app
        .hits_ok(&user, &task, 5, Some(&end))
        .await
        .messages
        .is_empty());
    let first = app.hits_ok(&user, &task, 100, None).await;
    assert_eq!(first.messages.len(), 12);
}

async fn a_task_keeps_at_most_a_thousand_hits_newest_first(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    for i in 0..1005 {
        app.advance(Duration::from_millis(10));
        app.post_ok(&user, &chat, &member, &format!("bulk {i}"))
            .await;
    }
    let hits = app.search_all(&user, "bulk", 100).await;
    assert_eq!(hits.len(), 1000);
    assert_eq!(hits[0].text, "bulk 1004");
    assert_eq!(hits[999].text, "bulk 5");
}

async fn a_finished_task_reports_success(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let task = app.start_search_ok(&user, "anything").await;
    assert!(
        is_lower_hex_32(&task),
        "task_id {task:?} is not 32 lowercase hex"
    );
    assert_eq!(app.wait_for_search(&user, &task).await, "SUCCESS");
    let reply = app.search_status(&user, &task).await;
    assert_eq!(reply.json(), json!({ "status": "SUCCESS" }));
    assert!(
        app.hits_ok(&user, &task, 10, None)
            .await
            .messages
            .is_empty(),
        "hits with no messages"
    );
}

async fn a_task_that_has_not_finished_is_400_task_not_complete(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for (status, wire) in [
        (TaskStatus::Waiting, "WAITING"),
        (TaskStatus::InProcess, "IN_PROCESS"),
    ] {
        let task = parked_task(&app, &user, status).await;
        let reply = app.search_status(&user, &task).await;
        reply.assert_status(200, wire);
        assert_eq!(reply.json(), json!({ "status": wire }));
        app.search_results(&user, &task, "10", None)
            .await
            .assert_error(400, "task-not-complete", wire);
    }
}

async fn a_failed_task_is_400_task_failed(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let task = parked_task(&app, &user, TaskStatus::Failed).await;
    assert_eq!(
        app.search_status(&user, &task).await.json(),
        json!({ "status": "FAILED" })
    );
    app.search_results(&user, &task, "10", None)
        .await
        .assert_error(400, "task-failed", "FAILED");
}

async fn an_unknown_task_is_404_task_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for id in [
        "7".repeat(32),
        "nope".into(),
        "123".into(),
        "7".repeat(33),
        "%20".into(),
        "%FF".into(),
        "a%2Fb".into(),
    ] {
        app.search_status(&user, &id).await.assert_error(
            404,
            "task-not-found",
            &format!("status of {id:?}"),
        );
        app.search_results(&user, &id, "10", None)
            .await
            .assert_error(404, "task-not-found", &format!("results of {id:?}"));
    }
}

async fn another_accounts_task_is_404_task_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let task = app.start_search_ok(&alice, "secret stuff").await;
    app.wait_for_search(&alice, &task).await;
    app.search_status(&bob, &task).await.assert_error(
        404,
        "task-not-found",
        "bob reads alice's status",
    );
    app.search_results(&bob, &task, "10", None)
        .await
        .assert_error(404, "task-not-found", "bob reads alice's results");
    let parked = parked_task(&app, &alice, TaskStatus::Waiting).await;
    app.search_results(&bob, &parked, "10", None)
        .await
        .assert_error(404, "task-not-found", "bob reads alice's unfinished task");
}

async fn task_ids_are_accepted_dashed_and_in_any_case(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let task = app.start_search_ok(&user, "anything").await;
    app.wait_for_search(&user, &task).await;
    for form in [dashed(&task), task.to_uppercase()] {
        app.search_status(&user, &form)
            .await
            .assert_status(200, &form);
        app.hits_ok(&user, &form, 10, None).await;
    }
}

async fn results_are_gone_after_their_retention(backend: Backend) {
    let app = spawn_app(
        TestOptions::new(backend).with(|c| c.auth.session_ttl = Duration::from_secs(4 * 3600)),
    )
    .await;
    let user = app.new_user().await;
    let task = app.start_search_ok(&user, "anything").await;
    app.wait_for_search(&user, &task).await;
    app.advance(Duration::from_secs(3600 + 1));
    app.search_status(&user, &task)
        .await
        .assert_error(404, "task-not-found", "an hour later");
    app.search_results(&user, &task, "10", None)
        .await
        .assert_error(404, "task-not-found", "results an hour later");
}

async fn a_bad_query_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let too_long = "a".repeat(1001);
    for (case, query) in [
        ("empty", ""),
        ("only spaces", "      "),
        ("three characters", "abc"),
        ("three characters once trimmed", "   abc   "),
        ("1001 characters", too_long.as_str()),
        ("no words", "!!!! ????"),
        ("only quotes", "\"\"\"\""),
        ("a NUL", "hello\u{0}world"),
    ] {
        app.start_search(&user, query)
            .await
            .assert_error(400, "bad-parameters", case);
    }
    for (case, body) in [
        ("a number", json!({ "message": 12345 })),
        ("null", json!({ "message": null })),
        ("an array", json!({ "message": ["hello world"] })),
        ("no field", json!({})),
    ] {
        let reply = app
            .raw(Method::POST, "/v1/chats/search", &user, &[], Some(&body))
            .await;
        reply.assert_error(400, "bad-parameters", case);
    }
    let longest = format!("  {}  ", "a".repeat(1000));
    app.start_search(&user, &longest)
        .await
        .assert_status(201, "1000 characters after trimming");
    app.start_search(&user, "abcd")
        .await
        .assert_status(201, "four characters");
    app.start_search(&user, " ab c ")
        .await
        .assert_status(201, "four characters after trimming");
}

async fn a_results_limit_out_of_range_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let task = app.start_search_ok(&user, "anything").await;
    app.wait_for_search(&user, &task).await;
    for limit in ["0", "101", "-1", "abc", "", "1.0"] {
        app.search_results(&user, &task, limit, None)
            .await
            .assert_error(400, "bad-parameters", &format!("limit={limit:?}"));
    }
    let reply = app
        .raw(
            Method::GET,
            &format!("/v1/chats/search/{task}/messages"),
            &user,
            &[],
            None,
        )
        .await;
    reply.assert_error(400, "bad-parameters", "no limit");
    app.hits_ok(&user, &task, 100, None).await;
    app.hits_ok(&user, &task, 1, None).await;
}

async fn a_bad_results_cursor_is_400_bad_cursor(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    post_all(
        &app,
        &user,
        &chat,
        &member,
        &["word one", "word two", "word three"],
    )
    .await;
    let task = app.start_search_ok(&user, "word").await;
    app.wait_for_search(&user, &task).await;
    let other = app.start_search_ok(&user, "two words").await;
    app.wait_for_search(&user, &other).await;
    let other_cursor = app.hits_ok(&user, &other, 1, None).await.next.iterator;
    let end = app.hits_ok(&user, &task, 100, None).await.next.iterator;
    assert_eq!(cursor_position(&end), 3);
    let chat_cursor = app.page_ok(&user, &chat, 1, None).await.next.iterator;
    for (case, cursor) in [
        ("garbage", "xyz".to_owned()),
        ("31 hex digits", end[..31].to_owned()),
        ("all zeros", "0".repeat(32)),
        ("a cursor of another task", other_cursor),
        ("a chat's cursor", chat_cursor),
        ("beyond the last hit", cursor_at(&end, 4)),
    ] {
        app.search_results(&user, &task, "10", Some(&cursor))
            .await
            .assert_error(400, "bad-cursor", case);
    }
    let page = app.hits_ok(&user, &task, 10, Some("")).await;
    assert_eq!(page.messages.len(), 3, "from= empty is the start");
}

async fn with_search_switched_off_starting_is_503_and_reading_is_404(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).with(|c| c.search.enabled = false)).await;
    let user = app.new_user().await;
    app.start_search(&user, "hello world").await.assert_error(
        503,
        "service-unavailable",
        "start a search",
    );
    let task = "8".repeat(32);
    app.search_status(&user, &task)
        .await
        .assert_error(404, "task-not-found", "status");
    app.search_results(&user, &task, "10", None)
        .await
        .assert_error(404, "task-not-found", "results");
}

async fn a_task_belongs_to_the_account_not_the_session(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    app.post_ok(&user, &chat, &member, "session independent")
        .await;
    let task = app.start_search_ok(&user, "independent").await;
    app.wait_for_search(&user, &task).await;
    app.logout(&user).await.assert_status(200, "logout");
    let other = Auth::Token(app.login_ok(&user.name, &user.password).await);
    app.search_status(&other, &task)
        .await
        .assert_status(200, "status from a new session");
    assert_eq!(app.hits_ok(&other, &task, 10, None).await.messages.len(), 1);
}

backend_tests!(
    a_task_belongs_to_the_account_not_the_session,
    finds_messages_with_every_word_in_any_order_and_case,
    only_whole_words_match,
    a_quoted_phrase_must_appear_as_words_in_a_row,
    words_of_any_language_match_case_insensitively,
    hits_carry_their_message_fields,
    searches_only_chats_the_account_created_or_joined,
    a_chat_joined_later_is_searched_from_then_on,
    results_page_newest_first_exactly_once_then_an_empty_page,
    a_task_keeps_at_most_a_thousand_hits_newest_first,
    a_finished_task_reports_success,
    a_task_that_has_not_finished_is_400_task_not_complete,
    a_failed_task_is_400_task_failed,
    an_unknown_task_is_404_task_not_found,
    another_accounts_task_is_404_task_not_found,
    task_ids_are_accepted_dashed_and_in_any_case,
    results_are_gone_after_their_retention,
    a_bad_query_is_400_bad_parameters,
    a_results_limit_out_of_range_is_400_bad_parameters,
    a_bad_results_cursor_is_400_bad_cursor,
    with_search_switched_off_starting_is_503_and_reading_is_404,
);

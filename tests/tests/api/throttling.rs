//! Request throttling: per account with a valid session, per address without one,
//! `Retry-After`, refill by time, and the routes that are never throttled.

use crate::prelude::*;

/// Spends an account's whole budget (`burst` requests) on cheap reads, asserting each
/// succeeds, then asserts the next one is throttled and returns its `Retry-After`.
async fn exhaust(app: &TestApp, auth: impl Into<Auth>, chat: &str, burst: u32) -> u64 {
    let auth = auth.into();
    for i in 1..=burst {
        app.get_messages(&auth, chat, "10", None)
            .await
            .assert_status(200, &format!("request {i} of the burst"));
    }
    app.get_messages(&auth, chat, "10", None)
        .await
        .assert_throttled("the request after the burst")
}

/// A user with a chat, set up with throttling on; afterwards the clock is advanced so every
/// budget is full again (the set-up requests count too).
async fn user_and_chat(app: &TestApp) -> (User, String, String) {
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    refill(app);
    (user, chat, member)
}

/// Advances the clock far enough for any budget of these tests to be full again.
/// (A minute: far below the session lifetime.)
fn refill(app: &TestApp) {
    app.advance(Duration::from_secs(60));
}

async fn an_account_over_its_burst_gets_429_with_retry_after(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 5)).await;
    let (user, chat, member) = user_and_chat(&app).await;
    let retry = exhaust(&app, &user, &chat, 5).await;
    assert!(retry <= 2, "Retry-After {retry} s at 1 request/s");
    // Every throttled route refuses, writes included.
    app.post_message(&user, &chat, &member, "hi")
        .await
        .assert_throttled("post");
    app.create_chat(&user, "x")
        .await
        .assert_throttled("create chat");
    app.join(&user, &chat, "x").await.assert_throttled("join");
    app.start_search(&user, "hello")
        .await
        .assert_throttled("search");
    let task = "0".repeat(32);
    app.search_status(&user, &task)
        .await
        .assert_throttled("search status");
    app.search_results(&user, &task, "10", None)
        .await
        .assert_throttled("search results");
    app.logout(&user).await.assert_throttled("logout");
}

async fn another_account_is_not_affected(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 5)).await;
    let (alice, chat, _) = user_and_chat(&app).await;
    let bob = app.new_user().await;
    app.join_ok(&bob, &chat, "bob").await;
    refill(&app);
    exhaust(&app, &alice, &chat, 5).await;
    for i in 0..5 {
        app.get_messages(&bob, &chat, "10", None)
            .await
            .assert_status(200, &format!("bob's request {i}"));
    }
}

async fn all_sessions_of_an_account_share_its_budget(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 5)).await;
    let (user, chat, _) = user_and_chat(&app).await;
    let second = Auth::Token(app.login_ok(&user.name, &user.password).await);
    refill(&app);
    exhaust(&app, &user, &chat, 5).await;
    app.get_messages(&second, &chat, "10", None)
        .await
        .assert_throttled("another session");
}

async fn advancing_the_clock_by_retry_after_refills_the_budget(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(2, 4)).await;
    let (user, chat, _) = user_and_chat(&app).await;
    let retry = exhaust(&app, &user, &chat, 4).await;
    app.advance(Duration::from_secs(retry));
    app.get_messages(&user, &chat, "10", None)
        .await
        .assert_status(200, "after Retry-After");
    refill(&app);
    exhaust(&app, &user, &chat, 4).await;
}

async fn refused_requests_do_not_consume_budget(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 3)).await;
    let (user, chat, _) = user_and_chat(&app).await;
    exhaust(&app, &user, &chat, 3).await;
    for i in 0..20 {
        app.get_messages(&user, &chat, "10", None)
            .await
            .assert_throttled(&format!("refused {i}"));
    }
    app.advance(Duration::from_secs(1));
    app.get_messages(&user, &chat, "10", None)
        .await
        .assert_status(200, "one second later");
    app.get_messages(&user, &chat, "10", None)
        .await
        .assert_throttled("only one second's worth");
}

async fn requests_without_a_session_are_limited_per_address(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 5)).await;
    let (user, chat, _) = user_and_chat(&app).await;
    for i in 1..=5 {
        app.login(&unique("nobody"), "x").await.assert_error(
            400,
            "user-not-found",
            &format!("anonymous request {i}"),
        );
    }
    app.login(&unique("nobody"), "x")
        .await
        .assert_throttled("login over the address's budget");
    app.register(&unique("new"), "x")
        .await
        .assert_throttled("register over the address's budget");
    app.login(&user.name, &user.password)
        .await
        .assert_throttled("even a right login");
    // A valid session is limited by its account, not by the address.
    app.get_messages(&user, &chat, "10", None)
        .await
        .assert_status(200, "a logged-in account");
}

async fn each_address_has_its_own_budget(backend: Backend) {
    let options = TestOptions::new(backend).throttled(1, 3).with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a CIDR")];
    });
    let app = spawn_app(options).await;
    let login_from = |client: &'static str| {
        let app = &app;
        async move { app.login_from(client, &unique("nobody"), "x").await }
    };
    for i in 1..=3 {
        login_from("203.0.113.7").await.assert_error(
            400,
            "user-not-found",
            &format!("first address {i}"),
        );
    }
    login_from("203.0.113.7")
        .await
        .assert_throttled("the first address over its budget");
    login_from("198.51.100.9")
        .await
        .assert_error(400, "user-not-found", "another address");
    // IPv6 clients are grouped by /64.
    for i in 1..=3 {
        login_from("2001:db8:1:2::1")
            .await
            .assert_error(400, "user-not-found", &format!("v6 {i}"));
    }
    login_from("2001:db8:1:2::ffff")
        .await
        .assert_throttled("the same /64");
    login_from("2001:db8:1:3::1")
        .await
        .assert_error(400, "user-not-found", "another /64");
}

async fn forwarded_for_is_ignored_from_an_untrusted_peer(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 3)).await;
    for i in 1..=3 {
        app.login_from(&format!("203.0.113.{i}"), &unique("nobody"), "x")
            .await
            .assert_error(400, "user-not-found", &format!("request {i}"));
    }
    app.login_from("198.51.100.9", &unique("nobody"), "x")
        .await
        .assert_throttled("a forged X-Forwarded-For does not buy a new budget");
}

async fn health_and_documentation_routes_are_never_throttled(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 1)).await;
    for i in 0..30 {
        for path in ["/ping", "/ping_db", "/openapi.json", "/metrics"] {
            app.get(path)
                .await
                .assert_status(200, &format!("GET {path} #{i}"));
        }
    }
    app.get("/docs").await.assert_status(200, "GET /docs");
    // The address's budget is still whole.
    app.login(&unique("nobody"), "x")
        .await
        .assert_error(400, "user-not-found", "a first login");
}

async fn without_in_app_throttling_nothing_is_refused(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).with(|c| {
        c.limits.throttling = false;
        c.limits.rate_limit_per_sec = 1;
        c.limits.rate_limit_burst = 1;
    }))
    .await;
    let (user, chat, _) = user_and_chat(&app).await;
    for i in 0..50 {
        app.get_messages(&user, &chat, "10", None)
            .await
            .assert_status(200, &format!("request {i}"));
    }
}

async fn authentication_is_checked_before_throttling(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 3)).await;
    let (user, chat, _) = user_and_chat(&app).await;
    exhaust(&app, &user, &chat, 3).await;
    // The address's budget is spent too.
    for _ in 0..4 {
        let _ = app.login(&unique("nobody"), "x").await;
    }
    app.get_messages(Auth::None, &chat, "10", None)
        .await
        .assert_error(401, "auth-failed", "no header");
    app.get_messages(Auth::Token("0".repeat(32)), &chat, "10", None)
        .await
        .assert_error(401, "invalid-session-id", "an unknown token");
}

async fn throttling_is_checked_before_bad_input(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).throttled(1, 3)).await;
    let (user, chat, member) = user_and_chat(&app).await;
    exhaust(&app, &user, &chat, 3).await;
    app.get_messages(&user, &chat, "0", None)
        .await
        .assert_throttled("a bad limit");
    app.get_messages(&user, &"9".repeat(32), "10", None)
        .await
        .assert_throttled("an unknown chat");
    let reply = app
        .raw_bytes(
            Method::POST,
            &format!("/v1/chats/{chat}/messages?user_id={member}"),
            &user,
            &[("content-type", "application/json")],
            b"{not json".to_vec(),
        )
        .await;
    reply.assert_throttled("a malformed body");
}

async fn the_rightmost_untrusted_forwarded_address_is_the_client(backend: Backend) {
    let options = TestOptions::new(backend).throttled(1, 3).with(|c| {
        c.server.trusted_proxies = vec![
            "127.0.0.1/32".parse().expect("a CIDR"),
            "10.0.0.0/8".parse().expect("a CIDR"),
        ];
    });
    let app = spawn_app(options).await;
    let login_via = |forwarded: String| {
        let app = &app;
        async move {
            let body = json!({ "user_name": unique("nobody"), "password": "x" });
            let headers = [("x-forwarded-for", forwarded.as_str())];
            app.raw(
                Method::POST,
                "/v1/auth/login",
                Auth::None,
                &headers,
                Some(&body),
            )
            .await
        }
    };
    for i in 1..=3 {
        // Forged left-most entries change nothing; the trusted 10.x hop is skipped.
        login_via(format!("192.0.2.{i}, 203.0.113.7, 10.1.2.3"))
            .await
            .assert_error(400, "user-not-found", &format!("request {i}"));
    }
    login_via("203.0.113.7".into())
        .await
        .assert_throttled("the same client without the proxy chain");
    login_via("203.0.113.8, 10.9.9.9".into())
        .await
        .assert_error(
            400,
            "user-not-found",
            "another client behind the same proxy",
        );
}

async fn a_burst_sent_at_once_is_cut_at_the_burst(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(TestOptions::new(backend).throttled(1, 5)).await);
    let (user, chat, _) = user_and_chat(&app).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, user, chat) = (app.clone(), user.clone(), chat.clone());
        tasks.push(tokio::spawn(async move {
            app.get_messages(&user, &chat, "10", None).await
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        let reply = task.await.expect("a task panicked");
        if reply.status == 200 {
            allowed += 1;
        } else {
            reply.assert_throttled("a request over the burst");
        }
    }
    assert_eq!(
        allowed, 5,
        "{allowed} of 20 simultaneous requests passed a burst of 5"
    );
}

backend_tests!(
    a_burst_sent_at_once_is_cut_at_the_burst,
    an_account_over_its_burst_gets_429_with_retry_after,
    another_account_is_not_affected,
    all_sessions_of_an_account_share_its_budget,
    advancing_the_clock_by_retry_after_refills_the_budget,
    refused_requests_do_not_consume_budget,
    requests_without_a_session_are_limited_per_address,
    each_address_has_its_own_budget,
    forwarded_for_is_ignored_from_an_untrusted_peer,
    health_and_documentation_routes_are_never_throttled,
    without_in_app_throttling_nothing_is_refused,
    authentication_is_checked_before_throttling,
    throttling_is_checked_before_bad_input,
    the_rightmost_untrusted_forwarded_address_is_the_client,
);

//! Registration, login, logout, and how every authenticated route treats credentials.

use crate::prelude::*;

/// One hour: the default session lifetime.
const SESSION_TTL: Duration = Duration::from_secs(3600);

async fn registering_answers_201_with_an_empty_body(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    app.register(&unique("alice"), "secret")
        .await
        .assert_empty(201, "register");
}

async fn registering_a_taken_name_is_400_user_already_exists(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let name = unique("alice");
    app.register(&name, "secret")
        .await
        .assert_status(201, "first register");
    app.register(&name, "other secret").await.assert_error(
        400,
        "user-already-exists",
        "second register, other password",
    );
    app.register(&name, "secret").await.assert_error(
        400,
        "user-already-exists",
        "second register, same password",
    );
}

async fn account_names_are_case_sensitive_and_kept_verbatim(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let name = unique("Alice");
    let lower = name.to_lowercase();
    let padded = format!(" {name} ");
    app.register(&name, "one")
        .await
        .assert_status(201, "register Alice");
    app.register(&lower, "two")
        .await
        .assert_status(201, "register alice");
    app.register(&padded, "three")
        .await
        .assert_status(201, "register ' Alice '");
    app.login_ok(&name, "one").await;
    app.login_ok(&lower, "two").await;
    app.login_ok(&padded, "three").await;
    app.login(&lower, "one")
        .await
        .assert_error(400, "bad-password", "alice with Alice's password");
}

async fn logging_in_answers_201_with_a_32_lowercase_hex_token(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let name = unique("alice");
    app.register(&name, "secret")
        .await
        .assert_status(201, "register");
    let reply = app.login(&name, "secret").await;
    reply.assert_status(201, "login");
    let token = reply.field("session_id");
    assert!(
        is_lower_hex_32(&token),
        "token {token:?} is not 32 lowercase hex"
    );
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "login content type {content_type:?}"
    );
}

async fn logging_in_with_an_unknown_name_is_400_user_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    app.login(&unique("nobody"), "secret").await.assert_error(
        400,
        "user-not-found",
        "login of an unknown name",
    );
}

async fn logging_in_with_a_wrong_password_is_400_bad_password(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let name = unique("alice");
    app.register(&name, "secret")
        .await
        .assert_status(201, "register");
    for (case, password) in [
        ("another password", "Secret"),
        ("a prefix", "secre"),
        ("a longer one", "secret "),
    ] {
        app.login(&name, password)
            .await
            .assert_error(400, "bad-password", case);
    }
}

async fn each_login_gives_a_new_token_and_earlier_ones_stay_valid(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let mut tokens = vec![user.token.clone()];
    for _ in 0..3 {
        tokens.push(app.login_ok(&user.name, &user.password).await);
    }
    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        tokens.len(),
        "a login repeated a token: {tokens:?}"
    );
    for (i, token) in tokens.iter().enumerate() {
        let reply = app.create_chat(Auth::Token(token.clone()), "mine").await;
        reply.assert_status(201, &format!("token of login {i}"));
    }
}

async fn tokens_of_one_account_see_the_same_chats(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let second = Auth::Token(app.login_ok(&user.name, &user.password).await);
    app.post_ok(&second, &chat, &member, "from the second session")
        .await;
    let page = app.page_ok(&user, &chat, 10, None).await;
    assert_eq!(
        page.messages.len(),
        1,
        "the first session does not see the post"
    );
}

async fn logout_answers_200_with_an_empty_body(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.logout(&user).await.assert_empty(200, "logout");
}

async fn after_logout_the_token_is_invalid_on_every_route(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_everything().await;
    app.logout(&user).await.assert_status(200, "logout");
    for route in &routes {
        app.call(route, &user)
            .await
            .assert_error(401, "invalid-session-id", route.name);
    }
}

async fn logout_ends_only_that_session(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let other = Auth::Token(app.login_ok(&user.name, &user.password).await);
    app.logout(&user).await.assert_status(200, "logout");
    app.create_chat(&other, "still here")
        .await
        .assert_status(201, "the other session");
    app.create_chat(&user, "gone").await.assert_error(
        401,
        "invalid-session-id",
        "the ended session",
    );
    app.login_ok(&user.name, &user.password).await;
}

async fn every_authenticated_route_without_a_header_is_401_auth_failed(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_user, routes) = app.user_with_everything().await;
    for route in &routes {
        app.call(route, Auth::None)
            .await
            .assert_error(401, "auth-failed", route.name);
    }
}

async fn another_scheme_is_401_auth_failed(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_everything().await;
    for value in [
        format!("Bearer {}", user.token),
        format!("Basic {}", user.token),
        format!("session_idx {}", user.token),
        format!("session-id {}", user.token),
        user.token.clone(),
    ] {
        for route in &routes {
            let reply = app.call(route, Auth::Raw(value.clone())).await;
            reply.assert_error(
                401,
                "auth-failed",
                &format!("{} with {value:?}", route.name),
            );
        }
    }
}

async fn malformed_or_unknown_tokens_are_401_invalid_session_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_everything().await;
    let unknown = match user.token.strip_prefix('0') {
        Some(rest) => format!("1{rest}"),
        None => format!("0{}", &user.token[1..]),
    };
    for (case, token) in [
        ("an unknown well-formed token", unknown),
        ("too short", user.token[..31].to_owned()),
        ("too long", format!("{}0", user.token)),
        ("not hex", "g".repeat(32)),
        ("dashed", dashed(&user.token)),
        ("garbage", "not-a-token".to_owned()),
    ] {
        for route in &routes {
            let reply = app.call(route, Auth::Token(token.clone())).await;
            reply.assert_error(
                401,
                "invalid-session-id",
                &format!("{} with {case}", route.name),
            );
        }
    }
}

async fn the_scheme_word_without_a_token_is_401_invalid_session_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (_user, routes) = app.user_with_everything().await;
    for route in &routes {
        let reply = app.call(route, Auth::Raw("session_id".into())).await;
        reply.assert_error(401, "invalid-session-id", route.name);
    }
}

async fn the_scheme_word_is_matched_case_insensitively(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for scheme in ["session_id", "SESSION_ID", "Session_Id", "sEsSiOn_Id"] {
        let auth = Auth::Raw(format!("{scheme} {}", user.token));
        app.create_chat(auth, "x")
            .await
            .assert_status(201, &format!("scheme {scheme:?}"));
    }
}

async fn a_session_is_valid_until_its_lifetime_ends(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.advance(SESSION_TTL - Duration::from_secs(1));
    app.create_chat(&user, "x")
        .await
        .assert_status(201, "one second before expiry");
}

async fn an_expired_session_is_401_session_id_expired_on_every_route(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_everything().await;
    app.advance(SESSION_TTL + Duration::from_secs(1));
    for route in &routes {
        app.call(route, &user)
            .await
            .assert_error(401, "session-id-expired", route.name);
    }
}

async fn a_new_login_after_expiry_works(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.advance(SESSION_TTL + Duration::from_secs(1));
    let fresh = Auth::Token(app.login_ok(&user.name, &user.password).await);
    app.create_chat(&fresh, "x")
        .await
        .assert_status(201, "a fresh session");
    app.create_chat(&user, "x")
        .await
        .assert_error(401, "session-id-expired", "the old one");
}

async fn a_revoked_and_expired_session_is_401_invalid_session_id(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let (user, routes) = app.user_with_everything().await;
    app.logout(&user).await.assert_status(200, "logout");
    app.advance(SESSION_TTL + Duration::from_secs(1));
    for route in &routes {
        app.call(route, &user)
            .await
            .assert_error(401, "invalid-session-id", route.name);
    }
}

async fn logout_with_an_expired_token_is_401_session_id_expired(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.advance(SESSION_TTL + Duration::from_secs(1));
    app.logout(&user)
        .await
        .assert_error(401, "session-id-expired", "logout after expiry");
}

async fn the_session_lifetime_is_configurable(backend: Backend) {
    let ttl = Duration::from_secs(600);
    let app = spawn_app(TestOptions::new(backend).with(|c| c.auth.session_ttl = ttl)).await;
    let user = app.new_user().await;
    app.advance(ttl - Duration::from_secs(1));
    app.create_chat(&user, "x")
        .await
        .assert_status(201, "before the configured lifetime");
    app.advance(Duration::from_secs(2));
    app.create_chat(&user, "x")
        .await
        .assert_error(401, "session-id-expired", "after it");
}

async fn register_and_login_ignore_a_bad_auth_header(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let old = app.new_user().await;
    app.logout(&old).await.assert_status(200, "logout");
    let expired = app.new_user().await;
    app.advance(SESSION_TTL + Duration::from_secs(1));
    for (case, auth) in [
        ("a logged-out token", Auth::from(&old)),
        ("an expired token", Auth::from(&expired)),
        ("a malformed token", Auth::Token("zzz".into())),
        ("another scheme", Auth::Raw("Bearer abc".into())),
    ] {
        let name = unique("fresh");
        let body = json!({ "user_name": name, "password": "secret" });
        let reply = app
            .raw(
                Method::POST,
                "/v1/auth/register",
                auth.clone(),
                &[],
                Some(&body),
            )
            .await;
        reply.assert_empty(201, &format!("register with {case}"));
        let reply = app
            .raw(Method::POST, "/v1/auth/login", auth, &[], Some(&body))
            .await;
        reply.assert_status(201, &format!("login with {case}"));
    }
}

async fn a_configured_header_name_and_scheme_word_are_used(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).with(|c| {
        c.auth.header = "X-Session".into();
        c.auth.scheme = "Token".into();
    }))
    .await;
    let user = app.new_user().await;
    let reply = app
        .raw(
            Method::POST,
            "/v1/chats",
            Auth::None,
            &[("x-session", &format!("Token {}", user.token))],
            Some(&json!({ "chat_name": "x" })),
        )
        .await;
    reply.assert_status(201, "X-Session: Token <token>");
    let reply = app
        .raw(
            Method::POST,
            "/v1/chats",
            Auth::None,
            &[("x-session", &format!("TOKEN {}", user.token))],
            Some(&json!({ "chat_name": "x" })),
        )
        .await;
    reply.assert_status(201, "X-Session: TOKEN <token>");
    let reply = app
        .raw(
            Method::POST,
            "/v1/chats",
            Auth::None,
            &[("x-session", &format!("session_id {}", user.token))],
            Some(&json!({ "chat_name": "x" })),
        )
        .await;
    reply.assert_error(401, "auth-failed", "X-Session with the default scheme word");
    app.create_chat(Auth::None, "x")
        .await
        .assert_error(401, "auth-failed", "no header");
}

async fn registering_one_name_concurrently_succeeds_once(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(TestOptions::new(backend)).await);
    let name = unique("racer");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, name) = (app.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            app.register(&name, &format!("password {i}")).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let reply = task.await.expect("a task panicked");
        if reply.status == 201 {
            created += 1;
        } else {
            reply.assert_error(400, "user-already-exists", "a concurrent duplicate");
        }
    }
    assert_eq!(created, 1, "one name registered {created} times");
}

async fn expired_sessions_are_purged_after_seven_days_and_then_invalid(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.advance(SESSION_TTL + Duration::from_secs(6 * 24 * 3600));
    app.messenger().purge_expired().await.expect("purge");
    app.create_chat(&user, "x").await.assert_error(
        401,
        "session-id-expired",
        "six days after expiry",
    );
    app.advance(Duration::from_secs(24 * 3600 + 1));
    // The periodic job's one step, run directly instead of waiting for it.
    app.messenger().purge_expired().await.expect("purge");
    app.create_chat(&user, "x").await.assert_error(
        401,
        "invalid-session-id",
        "seven days after expiry, purged",
    );
}

backend_tests!(
    registering_answers_201_with_an_empty_body,
    registering_a_taken_name_is_400_user_already_exists,
    account_names_are_case_sensitive_and_kept_verbatim,
    logging_in_answers_201_with_a_32_lowercase_hex_token,
    logging_in_with_an_unknown_name_is_400_user_not_found,
    logging_in_with_a_wrong_password_is_400_bad_password,
    each_login_gives_a_new_token_and_earlier_ones_stay_valid,
    tokens_of_one_account_see_the_same_chats,
    logout_answers_200_with_an_empty_body,
    after_logout_the_token_is_invalid_on_every_route,
    logout_ends_only_that_session,
    every_authenticated_route_without_a_header_is_401_auth_failed,
    another_scheme_is_401_auth_failed,
    malformed_or_unknown_tokens_are_401_invalid_session_id,
    the_scheme_word_without_a_token_is_401_invalid_session_id,
    the_scheme_word_is_matched_case_insensitively,
    a_session_is_valid_until_its_lifetime_ends,
    an_expired_session_is_401_session_id_expired_on_every_route,
    a_new_login_after_expiry_works,
    a_revoked_and_expired_session_is_401_invalid_session_id,
    logout_with_an_expired_token_is_401_session_id_expired,
    the_session_lifetime_is_configurable,
    register_and_login_ignore_a_bad_auth_header,
    a_configured_header_name_and_scheme_word_are_used,
    registering_one_name_concurrently_succeeds_once,
    expired_sessions_are_purged_after_seven_days_and_then_invalid,
);

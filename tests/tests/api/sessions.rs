//! Account safety: changing the password, signing out everywhere, the list of one's own
//! sessions and ending one of them (`API.md` "Account safety").

use crate::prelude::*;

/// Every session answers 401 `invalid-session-id` once ended; the list is a cheap
/// authenticated call to show it.
async fn assert_ended(app: &TestApp, token: &str, case: &str) {
    list(app, token)
        .await
        .assert_error(401, "invalid-session-id", case);
}

async fn assert_live(app: &TestApp, token: &str, case: &str) {
    list(app, token).await.assert_status(200, case);
}

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Reply {
    let body = json!({ "password": current, "new_password": new });
    app.raw(
        Method::POST,
        "/v1/auth/password",
        Auth::Token(token.to_owned()),
        &[],
        Some(&body),
    )
    .await
}

async fn logout_all(app: &TestApp, token: &str) -> Reply {
    app.raw(
        Method::POST,
        "/v1/auth/logout-all",
        Auth::Token(token.to_owned()),
        &[],
        None,
    )
    .await
}

async fn list(app: &TestApp, token: &str) -> Reply {
    app.raw(
        Method::GET,
        "/v1/auth/sessions",
        Auth::Token(token.to_owned()),
        &[],
        None,
    )
    .await
}

async fn list_ok(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = list(app, token).await;
    reply.assert_status(200, "GET /v1/auth/sessions");
    let body = reply.json();
    let object = body.as_object().expect("an object");
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["sessions"],
        "the list's only field: {body}"
    );
    body["sessions"].as_array().expect("an array").clone()
}

async fn end_session(app: &TestApp, token: &str, session_id: &str) -> Reply {
    app.raw(
        Method::DELETE,
        &format!("/v1/auth/sessions/{session_id}"),
        Auth::Token(token.to_owned()),
        &[],
        None,
    )
    .await
}

/// Logs in with a `User-Agent` and returns the token.
async fn login_as_agent(app: &TestApp, user: &User, agent: &str) -> String {
    let body = json!({ "user_name": user.name, "password": user.password });
    let reply = app
        .raw(
            Method::POST,
            "/v1/auth/login",
            Auth::None,
            &[("user-agent", agent)],
            Some(&body),
        )
        .await;
    reply.assert_status(201, "login");
    reply.field("session_id")
}

/// The public id of the session marked `current` in `token`'s list.
async fn current_id(app: &TestApp, token: &str) -> String {
    let sessions = list_ok(app, token).await;
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly one current session: {sessions:?}"
    );
    current[0]["session_id"]
        .as_str()
        .expect("a string")
        .to_owned()
}

async fn a_password_change_ends_every_other_session_and_keeps_this_one(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let second = app.login_ok(&user.name, &user.password).await;
    let third = app.login_ok(&user.name, &user.password).await;
    let stranger = app.new_user().await;

    let new_password = "a much better passphrase";
    change_password(&app, &user.token, &user.password, new_password)
        .await
        .assert_empty(200, "a password change");

    assert_live(&app, &user.token, "the session that changed the password").await;
    assert_ended(&app, &second, "another session after a password change").await;
    assert_ended(&app, &third, "a third session after a password change").await;
    assert_live(&app, &stranger.token, "another account's session").await;
    assert_eq!(
        list_ok(&app, &user.token).await.len(),
        1,
        "only the calling session is left"
    );

    app.login(&user.name, &user.password).await.assert_error(
        400,
        "bad-password",
        "login with the old password",
    );
    app.login_ok(&user.name, new_password).await;
    // The new password is the current one now.
    change_password(&app, &user.token, &user.password, "whatever")
        .await
        .assert_error(400, "bad-password", "the old password as the current one");
    change_password(&app, &user.token, new_password, &user.password)
        .await
        .assert_empty(200, "changing it back");
}

async fn a_wrong_current_password_counts_as_a_failed_login(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let other = app.login_ok(&user.name, &user.password).await;
    for i in 1..=10 {
        change_password(&app, &user.token, "wrong", "new password")
            .await
            .assert_error(400, "bad-password", &format!("wrong current password {i}"));
    }
    change_password(&app, &user.token, &user.password, "new password")
        .await
        .assert_throttled("the right password after 10 wrong ones");
    app.login(&user.name, &user.password)
        .await
        .assert_throttled("a login after 10 wrong current passwords");
    assert_live(&app, &other, "a refused change ends no session").await;
    assert_live(&app, &user.token, "nor the calling one").await;
}

async fn a_password_change_with_bad_input_is_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let too_long = "x".repeat(1025);
    for (case, body) in [
        ("no new_password", json!({ "password": user.password })),
        ("no password", json!({ "new_password": "x" })),
        (
            "empty new_password",
            json!({ "password": user.password, "new_password": "" }),
        ),
        (
            "new_password over 1024 characters",
            json!({ "password": user.password, "new_password": too_long }),
        ),
        (
            "a number",
            json!({ "password": user.password, "new_password": 12345 }),
        ),
        (
            "U+0000",
            json!({ "password": user.password, "new_password": "a\u{0}b" }),
        ),
        ("not an object", json!(["x"])),
    ] {
        app.raw(Method::POST, "/v1/auth/password", &user, &[], Some(&body))
            .await
            .assert_error(400, "bad-parameters", case);
    }
    app.login_ok(&user.name, &user.password).await;
}

async fn logout_all_ends_every_session_of_the_account(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let second = app.login_ok(&user.name, &user.password).await;
    let stranger = app.new_user().await;
    logout_all(&app, &user.token)
        .await
        .assert_empty(200, "logout-all");
    assert_ended(&app, &user.token, "the calling session after logout-all").await;
    assert_ended(&app, &second, "another session after logout-all").await;
    logout_all(&app, &second).await.assert_error(
        401,
        "invalid-session-id",
        "logout-all with an ended session",
    );
    assert_live(&app, &stranger.token, "another account's session").await;
    let fresh = app.login_ok(&user.name, &user.password).await;
    assert_eq!(
        list_ok(&app, &fresh).await.len(),
        1,
        "a new login after logout-all is the only live session"
    );
}

async fn the_list_shows_only_the_callers_live_sessions_newest_first(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    // The registration login (no User-Agent) will have expired by the time of the list.
    app.advance(Duration::from_secs(3000));
    let logged_out = app.login_ok(&user.name, &user.password).await;
    app.logout(Auth::Token(logged_out.clone()))
        .await
        .assert_status(200, "logout");
    app.advance(Duration::from_secs(10));
    let first = login_as_agent(&app, &user, "first-agent/1.0").await;
    app.advance(Duration::from_secs(10));
    let long_agent = format!("agent/{}", "a".repeat(400));
    let second = login_as_agent(&app, &user, &long_agent).await;
    app.advance(Duration::from_secs(10));
    let stranger = app.new_user().await;
    // 3000 + 30 + 600 s: the registration login is past its hour, the rest are not.
    app.advance(Duration::from_secs(600));

    let reply = list(&app, &first).await;
    reply.assert_status(200, "the list");
    for token in [&user.token, &logged_out, &first, &second, &stranger.token] {
        assert!(
            !reply.text().contains(token.as_str()),
            "the list never shows a token: {}",
            reply.text()
        );
    }
    let sessions = list_ok(&app, &first).await;
    assert_eq!(
        sessions.len(),
        2,
        "only the live sessions of this account (not the logged-out, expired or \
         another account's): {sessions:?}"
    );
    let keys = |s: &Value| {
        let mut k: Vec<String> = s.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    for s in &sessions {
        assert_eq!(
            keys(s),
            [
                "client_address",
                "created_at",
                "current",
                "expires_at",
                "session_id",
                "user_agent"
            ],
            "a session's fields: {s}"
        );
        let id = s["session_id"].as_str().expect("a string");
        assert!(is_lower_hex_32(id), "a public id is 32 lowercase hex: {id}");
        assert_eq!(s["client_address"], "127.0.0.1", "{s}");
    }
    let (newest, older) = (&sessions[0], &sessions[1]);
    let expected_agent = format!("agent/{}", "a".repeat(250));
    assert_eq!(
        newest["user_agent"], expected_agent,
        "newest first; a long User-Agent is cut to 256 characters"
    );
    assert_eq!(older["user_agent"], "first-agent/1.0");
    assert_eq!(
        (newest["current"].clone(), older["current"].clone()),
        (json!(false), json!(true)),
        "the calling session is marked current"
    );
    let time_of = |s: &Value, field: &str| rfc3339_micros(s[field].as_str().expect("a time"));
    assert_eq!(
        time_of(older, "expires_at") - time_of(older, "created_at"),
        3_600_000_000,
        "a session lasts an hour from its login"
    );
    assert_eq!(
        time_of(newest, "created_at") - time_of(older, "created_at"),
        10_000_000,
        "the second login came 10 s after the first"
    );

    // The other session sees the same list, with itself as the current one.
    let from_second = list_ok(&app, &second).await;
    assert_eq!(
        from_second
            .iter()
            .map(|s| (s["session_id"].clone(), s["current"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (newest["session_id"].clone(), json!(true)),
            (older["session_id"].clone(), json!(false)),
        ]
    );
    // A login without a User-Agent shows null.
    let plain = app.login_ok(&user.name, &user.password).await;
    let sessions = list_ok(&app, &plain).await;
    assert_eq!(sessions[0]["current"], true, "the newest is this one");
    assert_eq!(sessions[0]["user_agent"], Value::Null, "no User-Agent sent");
    let theirs = list_ok(&app, &stranger.token).await;
    assert_eq!(theirs.len(), 1, "another account sees only its own session");
}

async fn ending_another_session_of_ones_own_refuses_its_token_at_once(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let other = app.login_ok(&user.name, &user.password).await;
    let other_id = current_id(&app, &other).await;
    end_session(&app, &user.token, &other_id)
        .await
        .assert_empty(200, "ending another session of one's own");
    assert_ended(&app, &other, "the ended session's token").await;
    assert_live(&app, &user.token, "the calling session").await;
    let ids: Vec<Value> = list_ok(&app, &user.token)
        .await
        .iter()
        .map(|s| s["session_id"].clone())
        .collect();
    assert!(
        !ids.contains(&json!(other_id)),
        "an ended session leaves the list"
    );
    end_session(&app, &user.token, &other_id)
        .await
        .assert_error(404, "session-not-found", "ending it again");
    // The upper-case form names the same session.
    let third = app.login_ok(&user.name, &user.password).await;
    let third_id = current_id(&app, &third).await;
    end_session(&app, &user.token, &third_id.to_uppercase())
        .await
        .assert_empty(200, "an upper-case public id");
    assert_ended(&app, &third, "the session ended by its upper-case id").await;
    // Ending the calling session is a logout.
    let mine = current_id(&app, &user.token).await;
    end_session(&app, &user.token, &mine)
        .await
        .assert_empty(200, "ending the calling session");
    assert_ended(&app, &user.token, "the calling session, ended").await;
}

async fn another_accounts_session_and_malformed_ids_are_session_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let stranger = app.new_user().await;
    let theirs = current_id(&app, &stranger.token).await;
    end_session(&app, &user.token, &theirs).await.assert_error(
        404,
        "session-not-found",
        "another account's session",
    );
    assert_live(&app, &stranger.token, "the other account's session stays").await;
    let mine = current_id(&app, &user.token).await;
    let dashed_mine = dashed(&mine);
    let too_long = format!("{mine}0");
    for (case, id) in [
        ("not hex", "xyz"),
        ("31 digits", &mine[..31]),
        ("33 digits", too_long.as_str()),
        ("the dashed form", dashed_mine.as_str()),
        ("the token itself", user.token.as_str()),
        ("all zeros", "00000000000000000000000000000000"),
        ("percent-encoded garbage", "%FF"),
        ("empty", ""),
    ] {
        end_session(&app, &user.token, id)
            .await
            .assert_error(404, "session-not-found", case);
    }
    assert_live(
        &app,
        &user.token,
        "nothing above ended the caller's session",
    )
    .await;
}

async fn every_account_safety_route_requires_a_session(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let id = current_id(&app, &user.token).await;
    let body = json!({ "password": user.password, "new_password": "new password" });
    let routes: [(Method, String, Option<&Value>); 4] = [
        (Method::POST, "/v1/auth/password".into(), Some(&body)),
        (Method::POST, "/v1/auth/logout-all".into(), None),
        (Method::GET, "/v1/auth/sessions".into(), None),
        (Method::DELETE, format!("/v1/auth/sessions/{id}"), None),
    ];
    for (method, path, body) in &routes {
        let case = format!("{method} {path}");
        app.raw(method.clone(), path, Auth::None, &[], *body)
            .await
            .assert_error(401, "auth-failed", &format!("{case} without a header"));
        app.raw(
            method.clone(),
            path,
            Auth::Raw(format!("Bearer {}", user.token)),
            &[],
            *body,
        )
        .await
        .assert_error(401, "auth-failed", &format!("{case} with another scheme"));
        app.raw(
            method.clone(),
            path,
            Auth::Token("0123456789abcdef0123456789abcdef".into()),
            &[],
            *body,
        )
        .await
        .assert_error(
            401,
            "invalid-session-id",
            &format!("{case} with an unknown token"),
        );
    }
    app.advance(Duration::from_secs(3601));
    for (method, path, body) in &routes {
        app.raw(method.clone(), path, &user, &[], *body)
            .await
            .assert_error(
                401,
                "session-id-expired",
                &format!("{method} {path} expired"),
            );
    }
    let fresh = app.login_ok(&user.name, &user.password).await;
    assert_eq!(
        list_ok(&app, &fresh).await.len(),
        1,
        "none of the refused calls changed anything"
    );
}

async fn legacy_mode_acts_for_the_anonymous_account_without_sessions(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend).legacy()).await;
    // Login still works in legacy mode; its session is not the anonymous account's.
    let user = app.new_user().await;
    for auth in [Auth::None, Auth::Token(user.token.clone())] {
        let reply = app
            .raw(Method::GET, "/v1/auth/sessions", auth.clone(), &[], None)
            .await;
        reply.assert_status(200, "the list in legacy mode");
        assert_eq!(reply.json(), json!({ "sessions": [] }), "nothing to list");
        app.raw(Method::POST, "/v1/auth/logout-all", auth.clone(), &[], None)
            .await
            .assert_empty(200, "logout-all in legacy mode");
        let body = json!({ "password": user.password, "new_password": "new password" });
        app.raw(
            Method::POST,
            "/v1/auth/password",
            auth.clone(),
            &[],
            Some(&body),
        )
        .await
        .assert_error(400, "bad-password", "the anonymous account has no password");
        app.raw(
            Method::POST,
            "/v1/auth/password",
            auth.clone(),
            &[],
            Some(&json!({ "password": "x" })),
        )
        .await
        .assert_error(400, "bad-parameters", "bad input comes first");
        app.raw(
            Method::DELETE,
            "/v1/auth/sessions/0123456789abcdef0123456789abcdef",
            auth,
            &[],
            None,
        )
        .await
        .assert_error(
            404,
            "session-not-found",
            "the anonymous account owns no session",
        );
    }
    // Nothing above touched the account's password.
    app.login_ok(&user.name, &user.password).await;
}

/// Over PostgreSQL with the real argon2id hasher: the stored password (at registration and
/// after a change) is an argon2id PHC string with the OWASP parameters, and the sessions
/// table holds the SHA-256 of each token and a public id, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_credentials_are_argon2id_hashes_and_token_hashes_only() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    if !backend.is_wired().await {
        return;
    }
    let url = backend.database_url.clone().expect("PostgreSQL");
    let hasher = messenger_memory::Argon2Hasher::new(2, Duration::from_secs(10));
    let app = spawn_app(TestOptions::new(backend).with_hasher(std::sync::Arc::new(hasher))).await;
    let user = app.new_user().await;
    let second = login_as_agent(&app, &user, "stored-credentials/1.0").await;

    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(connection);
    let schema = messenger_tests::helpers::backend::run_schema();
    let query = format!("SELECT password_hash FROM \"{schema}\".accounts WHERE name = $1");
    let name = user.name.clone();
    let phc: String = db
        .query_one(&query, &[&name])
        .await
        .expect("the account")
        .get(0);
    const OWASP: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
    assert!(phc.starts_with(OWASP), "the stored password is {phc:?}");
    assert!(!phc.contains(&user.password), "never the password itself");
    // Salt and hash follow, in unpadded base64.
    let rest: Vec<&str> = phc[OWASP.len()..].split('$').collect();
    assert_eq!(rest.len(), 2, "salt and hash: {phc}");
    assert!(rest[0].len() >= 22 && rest[1].len() >= 43, "{phc}");

    let rows = db
        .query(
            &format!(
                "SELECT s::text, token_hash, public_id FROM \"{schema}\".sessions s \
                 JOIN \"{schema}\".accounts a ON a.id = s.account_id WHERE a.name = $1"
            ),
            &[&user.name],
        )
        .await
        .expect("the sessions");
    assert_eq!(rows.len(), 2, "two logins, two sessions");
    let mut hashes = Vec::new();
    for row in &rows {
        let whole: String = row.get(0);
        let token_hash: Vec<u8> = row.get(1);
        let public_id: Vec<u8> = row.get(2);
        for token in [&user.token, &second] {
            assert!(
                !whole.contains(token.as_str()),
                "a session row holds no token: {whole}"
            );
            let as_text_bytes: String = token.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(
                !whole.contains(&as_text_bytes),
                "a session row holds no token, even as bytes: {whole}"
            );
        }
        assert_eq!(token_hash.len(), 32, "SHA-256");
        assert_eq!(public_id.len(), 16);
        hashes.push((token_hash, public_id));
    }
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = [&user.token, &second]
        .iter()
        .map(|t| {
            let hash = messenger_domain::SessionToken::parse(t)
                .expect("a token")
                .hash();
            (hash.0.to_vec(), hash.public_id().0.to_vec())
        })
        .collect();
    expected.sort();
    hashes.sort();
    assert_eq!(
        hashes, expected,
        "each row is keyed by the SHA-256 of its token, with the public id derived from it"
    );

    // A changed password is stored the same way.
    change_password(&app, &user.token, &user.password, "a new passphrase")
        .await
        .assert_empty(200, "a password change");
    let changed: String = db
        .query_one(&query, &[&name])
        .await
        .expect("the account")
        .get(0);
    assert!(
        changed.starts_with(OWASP),
        "the new password is {changed:?}"
    );
    assert_ne!(changed, phc, "a new hash with a new salt");
    app.login_ok(&user.name, "a new passphrase").await;
}

backend_tests!(
    a_password_change_ends_every_other_session_and_keeps_this_one,
    a_wrong_current_password_counts_as_a_failed_login,
    a_password_change_with_bad_input_is_bad_parameters,
    logout_all_ends_every_session_of_the_account,
    the_list_shows_only_the_callers_live_sessions_newest_first,
    ending_another_session_of_ones_own_refuses_its_token_at_once,
    another_accounts_session_and_malformed_ids_are_session_not_found,
    every_account_safety_route_requires_a_session,
    legacy_mode_acts_for_the_anonymous_account_without_sessions,
);

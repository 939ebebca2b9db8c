//! Failed-login limits (per account and address, per account) and the registration limit.

use crate::prelude::*;

/// The default failed-login window per (account, address).
const CLIENT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Trusts the local peer as a proxy, so `X-Forwarded-For` names the client address.
fn behind_a_local_proxy(backend: Backend) -> TestOptions {
    TestOptions::new(backend).with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a CIDR")];
    })
}

async fn ten_failed_logins_lock_the_account_from_that_address_even_with_the_right_password(
    backend: Backend,
) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for i in 1..=10 {
        app.login(&user.name, "wrong").await.assert_error(
            400,
            "bad-password",
            &format!("failed login {i}"),
        );
    }
    let reply = app.login(&user.name, &user.password).await;
    let retry = reply.assert_throttled("the right password after 10 failures");
    assert!(
        retry <= CLIENT_WINDOW.as_secs(),
        "Retry-After {retry} exceeds the 15-minute window"
    );
    app.login(&user.name, "wrong")
        .await
        .assert_throttled("a wrong password after 10 failures");
    // Sessions already issued are not affected.
    app.create_chat(&user, "x")
        .await
        .assert_status(201, "an existing session");
}

async fn the_failed_login_lock_ends_when_its_window_passes(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for _ in 0..10 {
        app.login(&user.name, "wrong")
            .await
            .assert_status(400, "failed login");
    }
    let retry = app
        .login(&user.name, &user.password)
        .await
        .assert_throttled("locked");
    app.advance(Duration::from_secs(retry));
    app.login_ok(&user.name, &user.password).await;
}

async fn the_failed_login_lock_lasts_the_whole_window(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for _ in 0..10 {
        app.login(&user.name, "wrong")
            .await
            .assert_status(400, "failed login");
    }
    app.advance(CLIENT_WINDOW - Duration::from_secs(60));
    app.login(&user.name, &user.password)
        .await
        .assert_throttled("a minute before the end");
    app.advance(Duration::from_secs(61));
    app.login_ok(&user.name, &user.password).await;
}

async fn nine_failures_do_not_lock_and_a_success_resets_the_count(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for round in 0..3 {
        for i in 1..=9 {
            app.login(&user.name, "wrong").await.assert_error(
                400,
                "bad-password",
                &format!("round {round}, failure {i}"),
            );
        }
        app.login_ok(&user.name, &user.password).await;
    }
}

async fn one_locked_account_does_not_lock_another(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let victim = app.new_user().await;
    let other = app.new_user().await;
    for _ in 0..10 {
        app.login(&victim.name, "wrong")
            .await
            .assert_status(400, "failed login");
    }
    app.login(&victim.name, &victim.password)
        .await
        .assert_throttled("the locked account");
    app.login_ok(&other.name, &other.password).await;
}

async fn failures_from_one_address_do_not_lock_the_owner_out_from_another(backend: Backend) {
    let app = spawn_app(behind_a_local_proxy(backend)).await;
    let user = app.new_user().await;
    for _ in 0..10 {
        app.login_from("203.0.113.7", &user.name, "wrong")
            .await
            .assert_error(400, "bad-password", "a stranger's failure");
    }
    app.login_from("203.0.113.7", &user.name, &user.password)
        .await
        .assert_throttled("the stranger's address");
    let reply = app
        .login_from("198.51.100.9", &user.name, &user.password)
        .await;
    reply.assert_status(201, "the owner's address");
}

async fn a_hundred_failures_within_an_hour_lock_the_account_from_everywhere(backend: Backend) {
    let app = spawn_app(behind_a_local_proxy(backend)).await;
    let user = app.new_user().await;
    for i in 0..100u32 {
        // Ten addresses, ten failures each: no (account, address) pair passes its limit
        // before the per-account one.
        let address = format!("203.0.113.{}", i / 10 + 1);
        app.login_from(&address, &user.name, "wrong")
            .await
            .assert_error(400, "bad-password", &format!("failure {i} from {address}"));
    }
    let reply = app
        .login_from("198.51.100.9", &user.name, &user.password)
        .await;
    let retry = reply.assert_throttled("an untouched address after 100 failures");
    assert!(retry <= 3600, "Retry-After {retry} exceeds the hour");
    app.advance(Duration::from_secs(3601));
    let reply = app
        .login_from("198.51.100.9", &user.name, &user.password)
        .await;
    reply.assert_status(201, "an hour later");
}

async fn registrations_are_limited_to_ten_a_minute_per_address(backend: Backend) {
    let app =
        spawn_app(TestOptions::new(backend).with(|c| c.limits.register_limit_per_min = 10)).await;
    for i in 1..=10 {
        app.register(&unique("user"), "secret")
            .await
            .assert_status(201, &format!("registration {i}"));
    }
    let retry = app
        .register(&unique("user"), "secret")
        .await
        .assert_throttled("registration 11");
    assert!(retry <= 60, "Retry-After {retry} exceeds a minute");
    app.advance(Duration::from_secs(60));
    app.register(&unique("user"), "secret")
        .await
        .assert_status(201, "a minute later");
}

async fn the_registration_limit_is_per_address(backend: Backend) {
    let app =
        spawn_app(behind_a_local_proxy(backend).with(|c| c.limits.register_limit_per_min = 10))
            .await;
    let register_from = |client: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "user_name": unique("user"), "password": "secret" });
            app.raw(
                Method::POST,
                "/v1/auth/register",
                Auth::None,
                &[("x-forwarded-for", client)],
                Some(&body),
            )
            .await
        }
    };
    for i in 1..=10 {
        register_from("203.0.113.7")
            .await
            .assert_status(201, &format!("registration {i}"));
    }
    register_from("203.0.113.7")
        .await
        .assert_throttled("registration 11 from the same address");
    register_from("198.51.100.9")
        .await
        .assert_status(201, "from another address");
}

async fn concurrent_failed_logins_cannot_exceed_the_limit(backend: Backend) {
    // Hashing takes 50 ms, as argon2 does: forty wrong passwords sent at once all overlap.
    let slow = std::sync::Arc::new(SlowHasher {
        delay: Duration::from_millis(50),
    });
    let app = std::sync::Arc::new(spawn_app(TestOptions::new(backend).with_hasher(slow)).await);
    let user = app.new_user().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (app, name) = (app.clone(), user.name.clone());
        tasks.push(tokio::spawn(async move {
            app.login(&name, &format!("guess {i}")).await
        }));
    }
    let mut checked = 0;
    for task in tasks {
        let reply = task.await.expect("a task panicked");
        if reply.status == 429 {
            reply.assert_throttled("a refused guess");
        } else {
            reply.assert_error(400, "bad-password", "a checked guess");
            checked += 1;
        }
    }
    assert!(
        checked <= 10,
        "{checked} concurrent wrong passwords were checked; the limit is 10 per 15 minutes"
    );
    app.login(&user.name, &user.password)
        .await
        .assert_throttled("the right password afterwards");
}

async fn bad_input_does_not_count_as_a_failed_login(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for i in 0..15 {
        let body = json!({ "user_name": user.name, "password": i });
        app.raw(Method::POST, "/v1/auth/login", Auth::None, &[], Some(&body))
            .await
            .assert_error(400, "bad-parameters", &format!("bad login body {i}"));
    }
    app.login_ok(&user.name, &user.password).await;
}

async fn concurrent_registrations_cannot_exceed_the_limit(backend: Backend) {
    let app = std::sync::Arc::new(
        spawn_app(TestOptions::new(backend).with(|c| c.limits.register_limit_per_min = 10)).await,
    );
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.register(&unique("user"), "secret").await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let reply = task.await.expect("a task panicked");
        if reply.status == 201 {
            created += 1;
        } else {
            reply.assert_throttled("a registration over the limit");
        }
    }
    assert_eq!(
        created, 10,
        "{created} of 25 simultaneous registrations passed a limit of 10"
    );
}

backend_tests!(
    concurrent_registrations_cannot_exceed_the_limit,
    bad_input_does_not_count_as_a_failed_login,
    concurrent_failed_logins_cannot_exceed_the_limit,
    ten_failed_logins_lock_the_account_from_that_address_even_with_the_right_password,
    the_failed_login_lock_ends_when_its_window_passes,
    the_failed_login_lock_lasts_the_whole_window,
    nine_failures_do_not_lock_and_a_success_resets_the_count,
    one_locked_account_does_not_lock_another,
    failures_from_one_address_do_not_lock_the_owner_out_from_another,
    a_hundred_failures_within_an_hour_lock_the_account_from_everywhere,
    registrations_are_limited_to_ten_a_minute_per_address,
    the_registration_limit_is_per_address,
);

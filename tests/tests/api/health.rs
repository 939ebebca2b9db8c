//! Health routes, unknown routes and other methods.

use crate::prelude::*;
use messenger_domain::Password;
use messenger_memory::PlainHasher;
use messenger_ports::{PasswordHasher, PortResult};
use std::sync::Arc;
use tokio::sync::Notify;

async fn ping_answers_200_with_an_empty_body(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    app.get("/ping").await.assert_empty(200, "GET /ping");
}

async fn ping_db_answers_200_when_the_database_answers(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    app.get("/ping_db").await.assert_empty(200, "GET /ping_db");
}

async fn health_routes_ignore_any_auth_header(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.logout(&user).await.assert_status(200, "logout");
    for (case, auth) in [
        ("a logged-out token", Auth::from(&user)),
        ("a malformed token", Auth::Token("not-a-token".into())),
        ("another scheme", Auth::Raw("Bearer abc".into())),
        ("an empty header", Auth::Raw(String::new())),
    ] {
        for path in ["/ping", "/ping_db"] {
            let reply = app.raw(Method::GET, path, auth.clone(), &[], None).await;
            reply.assert_empty(200, &format!("GET {path} with {case}"));
        }
    }
}

async fn health_routes_ignore_an_expired_token(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.advance(Duration::from_secs(2 * 3600));
    for path in ["/ping", "/ping_db"] {
        let reply = app.raw(Method::GET, path, &user, &[], None).await;
        reply.assert_empty(200, &format!("GET {path} with an expired token"));
    }
}

async fn an_unknown_route_is_404_not_found(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for (method, path) in [
        (Method::GET, "/nope"),
        // The web client's files are only those it has (`/` redirects to it).
        (Method::GET, "/app/nope.js"),
        (Method::GET, "/app/x/y"),
        (Method::GET, "/v1"),
        (Method::POST, "/v1/nope"),
        (
            Method::GET,
            "/v1/chats/0123456789abcdef0123456789abcdef/nope",
        ),
        (
            Method::GET,
            "/v1/chats/0123456789abcdef0123456789abcdef/messages/extra",
        ),
        (
            Method::DELETE,
            "/v1/chats/0123456789abcdef0123456789abcdef/users/a/b",
        ),
        (Method::POST, "/v1/auth/register/extra"),
        (Method::GET, "/v2/chats"),
    ] {
        let case = format!("{method} {path}");
        for auth in [Auth::None, Auth::from(&user)] {
            let reply = app.raw(method.clone(), path, auth, &[], None).await;
            reply.assert_error(404, "not-found", &case);
        }
    }
}

async fn a_known_route_with_another_method_is_405_with_allow(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let chat = "/v1/chats/0123456789abcdef0123456789abcdef";
    for (method, path, allowed) in [
        (Method::POST, "/ping".to_owned(), vec!["GET"]),
        (Method::DELETE, "/ping_db".to_owned(), vec!["GET"]),
        (Method::GET, "/v1/auth/register".to_owned(), vec!["POST"]),
        (Method::PUT, "/v1/auth/login".to_owned(), vec!["POST"]),
        (Method::GET, "/v1/auth/logout".to_owned(), vec!["POST"]),
        (Method::DELETE, "/v1/chats".to_owned(), vec!["GET", "POST"]),
        (Method::POST, chat.to_owned(), vec!["GET", "PATCH"]),
        (Method::DELETE, format!("{chat}/users"), vec!["GET", "POST"]),
        (Method::GET, format!("{chat}/users/x"), vec!["DELETE"]),
        (Method::GET, format!("{chat}/read"), vec!["PUT"]),
        (Method::PUT, format!("{chat}/messages"), vec!["GET", "POST"]),
        (Method::GET, "/v1/chats/search".to_owned(), vec!["POST"]),
        (
            Method::POST,
            "/v1/chats/search/status/0123456789abcdef0123456789abcdef".to_owned(),
            vec!["GET"],
        ),
        (
            Method::DELETE,
            "/v1/chats/search/0123456789abcdef0123456789abcdef/messages".to_owned(),
            vec!["GET"],
        ),
    ] {
        let case = format!("{method} {path}");
        let reply = app.raw(method, &path, Auth::None, &[], None).await;
        reply.assert_error(405, "method-not-allowed", &case);
        let allow = reply
            .header("allow")
            .unwrap_or_else(|| panic!("{case}: 405 without Allow"));
        let listed: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        for m in allowed {
            assert!(
                listed.iter().any(|l| l == m),
                "{case}: Allow {allow:?} lacks {m}"
            );
        }
    }
}

async fn the_spec_and_its_documentation_are_served(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let spec = app.get("/openapi.json").await;
    spec.assert_status(200, "GET /openapi.json");
    let paths = spec.json();
    for path in [
        "/ping",
        "/ping_db",
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/logout",
        "/v1/chats",
        "/v1/chats/{chat_id}/users",
        "/v1/chats/{chat_id}/messages",
        "/v1/chats/search",
        "/v1/chats/search/status/{task_id}",
        "/v1/chats/search/{task_id}/messages",
    ] {
        assert!(paths["paths"].get(path).is_some(), "the spec lacks {path}");
    }
    app.get("/docs").await.assert_status(200, "GET /docs");
    let docs = app.get("/docs/").await;
    docs.assert_status(200, "GET /docs/");
    assert!(
        docs.text().contains("swagger"),
        "GET /docs/ serves the documentation page: {}",
        docs.text()
    );
}

/// A hasher that says when a check has started and then takes its time, so a test knows
/// a login is in flight.
struct SignallingHasher {
    started: Arc<Notify>,
    delay: Duration,
}

#[async_trait::async_trait]
impl PasswordHasher for SignallingHasher {
    async fn hash(&self, password: &Password) -> PortResult<String> {
        PlainHasher.hash(password).await
    }

    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool> {
        self.started.notify_one();
        tokio::time::sleep(self.delay).await;
        PlainHasher.verify(password, hash).await
    }
}

async fn shutdown_lets_a_request_in_flight_finish(backend: Backend) {
    let started = Arc::new(Notify::new());
    let hasher = Arc::new(SignallingHasher {
        started: started.clone(),
        delay: Duration::from_millis(300),
    });
    let mut app = spawn_app(TestOptions::new(backend).with_hasher(hasher)).await;
    let name = unique("late");
    app.register(&name, "secret")
        .await
        .assert_status(201, "register");
    let client = app.client.clone();
    let url = format!("{}/v1/auth/login", app.base_url);
    let login = tokio::spawn(async move {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(json!({ "user_name": name, "password": "secret" }).to_string())
            .send()
            .await
    });
    started.notified().await;
    app.shutdown().await.expect("a clean shutdown");
    let response = login
        .await
        .expect("the login task panicked")
        .expect("the in-flight login got an answer");
    assert_eq!(response.status().as_u16(), 201, "the in-flight login");
    let after = app
        .client
        .get(format!("{}/ping", app.base_url))
        .send()
        .await;
    assert!(after.is_err(), "the server still answers after shutdown");
}

backend_tests!(
    shutdown_lets_a_request_in_flight_finish,
    ping_answers_200_with_an_empty_body,
    ping_db_answers_200_when_the_database_answers,
    health_routes_ignore_any_auth_header,
    health_routes_ignore_an_expired_token,
    an_unknown_route_is_404_not_found,
    a_known_route_with_another_method_is_405_with_allow,
    the_spec_and_its_documentation_are_served,
);

//! Every kind of bad input on every route with a body answers 400 `bad-parameters` —
//! never 411, 413, 415 or 500, never another body shape.

use crate::prelude::*;

/// The body limit.
const MAX_BODY: usize = 256 * 1024;

/// A route with a JSON body, a valid body for it, and its string fields with their
/// largest allowed length in characters.
struct BodyRoute {
    name: &'static str,
    path: String,
    auth: Auth,
    valid: Value,
    fields: Vec<(&'static str, usize)>,
}

/// Every route with a body, set up so that the valid body would succeed.
async fn body_routes(app: &TestApp) -> Vec<BodyRoute> {
    let user = app.new_user().await;
    let (chat, member) = app.chat_with_member(&user).await;
    let auth = Auth::from(&user);
    vec![
        BodyRoute {
            name: "register",
            path: "/v1/auth/register".into(),
            auth: Auth::None,
            valid: json!({ "user_name": unique("someone"), "password": "secret" }),
            fields: vec![("user_name", 255), ("password", 1024)],
        },
        BodyRoute {
            name: "login",
            path: "/v1/auth/login".into(),
            auth: Auth::None,
            valid: json!({ "user_name": user.name, "password": user.password }),
            fields: vec![("user_name", 255), ("password", 1024)],
        },
        BodyRoute {
            name: "create chat",
            path: "/v1/chats".into(),
            auth: auth.clone(),
            valid: json!({ "chat_name": "a chat" }),
            fields: vec![("chat_name", 255)],
        },
        BodyRoute {
            name: "join",
            path: format!("/v1/chats/{chat}/users"),
            auth: auth.clone(),
            valid: json!({ "user_name": "a name" }),
            fields: vec![("user_name", 255)],
        },
        BodyRoute {
            name: "post message",
            path: format!("/v1/chats/{chat}/messages?user_id={member}"),
            auth: auth.clone(),
            valid: json!({ "message": "a message" }),
            fields: vec![("message", 10_000)],
        },
        BodyRoute {
            name: "search",
            path: "/v1/chats/search".into(),
            auth,
            valid: json!({ "message": "a query" }),
            fields: vec![("message", 1000)],
        },
    ]
}

/// `valid` with `field` set to `value` (or removed when `None`).
fn with_field(valid: &Value, field: &str, value: Option<Value>) -> Value {
    let mut body = valid.clone();
    let object = body.as_object_mut().expect("an object");
    match value {
        Some(v) => {
            object.insert(field.to_owned(), v);
        }
        None => {
            object.remove(field);
        }
    }
    body
}

/// `valid` padded with an unknown field so that its JSON is exactly `size` bytes.
fn padded_to(valid: &Value, size: usize) -> Vec<u8> {
    let mut body = with_field(valid, "padding", Some(json!("")));
    let base = serde_json::to_vec(&body).expect("JSON").len();
    assert!(size >= base, "size {size} below the body's own {base}");
    body["padding"] = json!("p".repeat(size - base));
    let bytes = serde_json::to_vec(&body).expect("JSON");
    assert_eq!(bytes.len(), size);
    bytes
}

async fn malformed_bodies_are_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for route in body_routes(&app).await {
        let valid = serde_json::to_vec(&route.valid).expect("JSON");
        let (first_field, _) = route.fields[0];
        let mut non_utf8 = format!("{{\"{first_field}\":\"ab").into_bytes();
        non_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
        non_utf8.extend_from_slice(b"cd\"}");
        let lone_surrogate = format!("{{\"{first_field}\":\"ab\\ud800cd\"}}").into_bytes();
        let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
            (
                "malformed JSON",
                Some("application/json"),
                b"{\"a\":".to_vec(),
            ),
            (
                "truncated JSON",
                Some("application/json"),
                valid[..valid.len() - 1].to_vec(),
            ),
            (
                "trailing garbage",
                Some("application/json"),
                [valid.as_slice(), b"x"].concat(),
            ),
            ("a JSON array", Some("application/json"), b"[]".to_vec()),
            (
                "an array of the body",
                Some("application/json"),
                [b"[", valid.as_slice(), b"]"].concat(),
            ),
            (
                "a JSON string",
                Some("application/json"),
                b"\"text\"".to_vec(),
            ),
            ("a JSON number", Some("application/json"), b"42".to_vec()),
            ("JSON null", Some("application/json"), b"null".to_vec()),
            ("JSON true", Some("application/json"), b"true".to_vec()),
            ("an empty object", Some("application/json"), b"{}".to_vec()),
            ("an empty body", Some("application/json"), Vec::new()),
            ("only whitespace", Some("application/json"), b"   ".to_vec()),
            ("no content type", None, valid.clone()),
            ("text/plain", Some("text/plain"), valid.clone()),
            (
                "a form",
                Some("application/x-www-form-urlencoded"),
                b"a=b".to_vec(),
            ),
            ("XML", Some("application/xml"), b"<a/>".to_vec()),
            ("a bogus content type", Some("nonsense"), valid.clone()),
            ("no content type and no body", None, Vec::new()),
            ("non-UTF-8 bytes", Some("application/json"), non_utf8),
            (
                "a lone surrogate escape",
                Some("application/json"),
                lone_surrogate,
            ),
        ];
        for (case, content_type, body) in cases {
            let headers: Vec<(&str, &str)> = content_type
                .map(|c| ("content-type", c))
                .into_iter()
                .collect();
            let reply = app
                .raw_bytes(
                    Method::POST,
                    &route.path,
                    route.auth.clone(),
                    &headers,
                    body,
                )
                .await;
            reply.assert_error(400, "bad-parameters", &format!("{}: {case}", route.name));
        }
    }
}

async fn fields_of_the_wrong_type_missing_or_out_of_range_are_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for route in body_routes(&app).await {
        for &(field, max) in &route.fields {
            let cases: Vec<(String, Option<Value>)> = vec![
                ("a number".into(), Some(json!(12345))),
                ("a float".into(), Some(json!(1.5))),
                ("null".into(), Some(Value::Null)),
                ("true".into(), Some(json!(true))),
                ("an array".into(), Some(json!(["a string"]))),
                ("an object".into(), Some(json!({ "a": "b" }))),
                ("missing".into(), None),
                ("empty".into(), Some(json!(""))),
                (
                    format!("{} characters", max + 1),
                    Some(json!("x".repeat(max + 1))),
                ),
                (
                    format!("{} two-byte characters", max + 1),
                    Some(json!("é".repeat(max + 1))),
                ),
                ("a NUL inside".into(), Some(json!("ab\u{0}cd"))),
                ("only a NUL".into(), Some(json!("\u{0}"))),
            ];
            for (case, value) in cases {
                let body = with_field(&route.valid, field, value);
                let reply = app
                    .raw(
                        Method::POST,
                        &route.path,
                        route.auth.clone(),
                        &[],
                        Some(&body),
                    )
                    .await;
                reply.assert_error(
                    400,
                    "bad-parameters",
                    &format!("{}: {field} {case}", route.name),
                );
            }
        }
    }
}

async fn a_user_name_of_only_whitespace_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for name in [" ", "   ", "\t", "\n \r"] {
        app.register(name, "secret").await.assert_error(
            400,
            "bad-parameters",
            &format!("register {name:?}"),
        );
        app.login(name, "secret").await.assert_error(
            400,
            "bad-parameters",
            &format!("login {name:?}"),
        );
    }
}

async fn values_at_the_limits_are_accepted(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let long_name = {
        let prefix = unique("n");
        let pad = 255 - prefix.chars().count();
        format!("{prefix}{}", "é".repeat(pad))
    };
    let long_password = "ü".repeat(1024);
    app.register(&long_name, &long_password)
        .await
        .assert_status(201, "255-character name, 1024-character password");
    let token = app.login_ok(&long_name, &long_password).await;
    let user = Auth::Token(token);
    let short = unique("s");
    app.register(&short, "p")
        .await
        .assert_status(201, "a 1-character password");
    app.login_ok(&short, "p").await;
    app.create_chat(&user, &"ч".repeat(255))
        .await
        .assert_status(201, "255-character chat name");
    let chat = app.create_chat(&user, "c").await;
    chat.assert_status(201, "1-character chat name");
    let chat = chat.field("chat_id");
    app.join(&user, &chat, &"名".repeat(255))
        .await
        .assert_status(201, "255-character display name");
    let member = app.join_ok(&user, &chat, "m").await;
    app.post_message(&user, &chat, &member, "x")
        .await
        .assert_status(201, "1-character message");
    app.post_message(&user, &chat, &member, &"🦀".repeat(10_000))
        .await
        .assert_status(201, "10,000 four-byte characters");
    app.start_search(&user, &"ж".repeat(1000))
        .await
        .assert_status(201, "1000-character query");
}

async fn a_json_content_type_with_parameters_is_accepted(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    for content_type in [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
    ] {
        let reply = app
            .raw_bytes(
                Method::POST,
                "/v1/chats",
                &user,
                &[("content-type", content_type)],
                br#"{"chat_name":"x"}"#.to_vec(),
            )
            .await;
        reply.assert_status(201, content_type);
    }
}

async fn a_body_over_256_kib_is_400_bad_parameters_with_content_length(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for route in body_routes(&app).await {
        for size in [MAX_BODY + 1, MAX_BODY + 64 * 1024, 4 * MAX_BODY] {
            let body = padded_to(&route.valid, size);
            let head = format!(
                "POST {} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
                route.path,
                body.len()
            );
            let reply = app.raw_http(&head, route.auth.clone(), body).await;
            reply.assert_error(
                400,
                "bad-parameters",
                &format!("{}: {size} bytes with Content-Length", route.name),
            );
        }
    }
}

async fn a_body_over_256_kib_is_400_bad_parameters_when_chunked(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for route in body_routes(&app).await {
        for size in [MAX_BODY + 1, 4 * MAX_BODY] {
            let body =
                messenger_tests::helpers::reply::chunked(&padded_to(&route.valid, size), 8 * 1024);
            let head = format!(
                "POST {} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
                route.path
            );
            let reply = app.raw_http(&head, route.auth.clone(), body).await;
            reply.assert_error(
                400,
                "bad-parameters",
                &format!("{}: {size} bytes chunked", route.name),
            );
        }
    }
}

async fn a_body_of_exactly_256_kib_is_accepted(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    let body = padded_to(&json!({ "chat_name": "big" }), MAX_BODY);
    let head = format!(
        "POST /v1/chats HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    app.raw_http(&head, &user, body.clone())
        .await
        .assert_status(201, "256 KiB with Content-Length");
    let head =
        "POST /v1/chats HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked";
    let chunked = messenger_tests::helpers::reply::chunked(&body, 8 * 1024);
    app.raw_http(head, &user, chunked)
        .await
        .assert_status(201, "256 KiB chunked");
}

async fn a_request_without_a_body_on_a_body_route_is_400_bad_parameters(backend: Backend) {
    let app = spawn_app(TestOptions::new(backend)).await;
    for route in body_routes(&app).await {
        let head = format!(
            "POST {} HTTP/1.1\r\nContent-Type: application/json",
            route.path
        );
        let reply = app.raw_http(&head, route.auth.clone(), Vec::new()).await;
        reply.assert_error(
            400,
            "bad-parameters",
            &format!("{}: no body, no Content-Length", route.name),
        );
        let head = format!("POST {} HTTP/1.1", route.path);
        let reply = app.raw_http(&head, route.auth.clone(), Vec::new()).await;
        reply.assert_error(
            400,
            "bad-parameters",
            &format!("{}: no body, no content type", route.name),
        );
    }
}

backend_tests!(
    malformed_bodies_are_400_bad_parameters,
    fields_of_the_wrong_type_missing_or_out_of_range_are_400_bad_parameters,
    a_user_name_of_only_whitespace_is_400_bad_parameters,
    values_at_the_limits_are_accepted,
    a_json_content_type_with_parameters_is_accepted,
    a_body_over_256_kib_is_400_bad_parameters_with_content_length,
    a_body_over_256_kib_is_400_bad_parameters_when_chunked,
    a_body_of_exactly_256_kib_is_accepted,
    a_request_without_a_body_on_a_body_route_is_400_bad_parameters,
);

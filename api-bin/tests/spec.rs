//! The spec is an artifact: the generated OpenAPI document must equal the committed
//! `openapi.json` (run with `UPDATE_OPENAPI=1` to rewrite it after a reviewed change), must
//! contain every route, method, parameter, status and error code of
//! `contract/endpoints.json`, and must agree with the gate's route table and with the one
//! error-to-status mapping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use messenger_api::http::errors::status_of;
use messenger_api::http::routes::ROUTES;
use messenger_api::App;
use messenger_domain::Error;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

fn spec() -> Value {
    serde_json::from_str(&App::openapi_json()).expect("the generated spec is JSON")
}

fn contract() -> Value {
    let text = std::fs::read_to_string(repo_file("contract/endpoints.json"))
        .expect("contract/endpoints.json is in the repository");
    serde_json::from_str(&text).expect("the contract is JSON")
}

/// Follows `$ref`s into `components` (also a reference wrapped in `allOf` to carry a
/// description).
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    if let Some(first) = v.get("allOf").and_then(|a| a.get(0)) {
        return resolve(spec, first);
    }
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let path = r.trim_start_matches("#/");
            let mut node = spec;
            for part in path.split('/') {
                node = &node[part];
            }
            resolve(spec, node)
        }
        None => v,
    }
}

/// The codes an error answer's schema allows (`{"message": <enum>}`).
fn codes(spec: &Value, response: &Value) -> BTreeSet<String> {
    let content = response["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .expect("an error answer has a body");
    let schema = resolve(spec, &content["schema"]);
    let message = resolve(spec, &schema["properties"]["message"]);
    message["enum"]
        .as_array()
        .expect("error codes are a string enum")
        .iter()
        .map(|c| c.as_str().expect("codes are strings").to_owned())
        .collect()
}

fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &spec["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is missing from the spec");
    op
}

#[test]
fn generated_spec_matches_the_committed_file() {
    let generated = App::openapi_json() + "\n";
    let path = repo_file("openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("openapi.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json differs from the spec the code generates; review the change and run \
         `UPDATE_OPENAPI=1 cargo test -p messenger-api --test spec` to rewrite it"
    );
}

#[test]
fn every_route_parameter_status_and_code_of_the_contract_is_in_the_spec() {
    let spec = spec();
    let contract = contract();
    for route in contract["routes"].as_array().expect("routes") {
        let path = route["path"].as_str().expect("path");
        let method = route["method"].as_str().expect("method");
        let what = format!("{method} {path}");
        let op = operation(&spec, path, method);

        let params: Vec<(String, String, bool)> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap_or_default().to_ascii_lowercase(),
                            p["in"].as_str().unwrap_or_default().to_owned(),
                            p["required"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (section, place) in [
            ("path_params", "path"),
            ("query", "query"),
            ("headers", "header"),
        ] {
            if let Some(list) = route[section].as_object() {
                for (name, description) in list {
                    let found = params
                        .iter()
                        .find(|(n, p, _)| *n == name.to_ascii_lowercase() && p == place);
                    let (_, _, required) = found
                        .unwrap_or_else(|| panic!("{what}: {place} parameter {name} is missing"));
                    let wants_required = place == "path"
                        || description.as_str().is_some_and(|d| d.contains("required"));
                    assert_eq!(*required, wants_required, "{what}: {name} required?");
                }
            }
        }

        if let Some(body) = route["body"].as_object() {
            let content = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .unwrap_or_else(|| panic!("{what}: no request body"));
            let schema = resolve(&spec, &content["schema"]);
            for field in body.keys() {
                assert!(
                    schema["properties"][field].is_object(),
                    "{what}: body field {field} is missing"
                );
                let required = schema["required"].as_array().cloned().unwrap_or_default();
                assert!(
                    required.contains(&Value::from(field.as_str())),
                    "{what}: {field} is required"
                );
            }
        } else {
            assert!(
                op["requestBody"].is_null(),
                "{what}: has no body in the contract"
            );
        }

        let auth = route["auth"].as_bool().expect("auth");
        assert_eq!(op["security"].is_array(), auth, "{what}: security scheme");

        for (status, answer) in route["responses"].as_object().expect("responses") {
            let response = &op["responses"][status];
            assert!(response.is_object(), "{what}: status {status} is missing");
            match answer {
                Value::Null => assert!(
                    response["content"].is_null(),
                    "{what}: {status} has no body in the contract"
                ),
                Value::Array(list) => {
                    let declared = codes(&spec, response);
                    for code in list {
                        let code = code.as_str().expect("code");
                        assert!(
                            declared.contains(code),
                            "{what}: {status} lacks code {code}"
                        );
                    }
                }
                Value::Object(fields) => {
                    let content = response["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .unwrap_or_else(|| panic!("{what}: {status} has no body"));
                    let schema = resolve(&spec, &content["schema"]);
                    check_fields(&spec, schema, fields, &format!("{what} {status}"));
                }
                // "text/event-stream: …": the answer is a stream of that content type.
                Value::String(s) if s.starts_with("text/event-stream") => {
                    assert!(
                        response["content"]["text/event-stream"].is_object(),
                        "{what}: {status} is not a text/event-stream answer"
                    );
                }
                other => panic!("unexpected contract entry {other}"),
            }
        }
        // Every route documents 500 internal-error.
        assert!(
            codes(&spec, &op["responses"]["500"]).contains("internal-error"),
            "{what}: 500 internal-error"
        );
    }

    // Answers of no route: unknown routes and other methods.
    for (status, name) in [("404", "NotFound"), ("405", "MethodNotAllowed")] {
        let response = &spec["components"]["responses"][name];
        for code in contract["general"][status]
            .as_array()
            .expect("general codes")
        {
            let code = code.as_str().expect("code");
            assert!(
                codes(&spec, response).contains(code),
                "general {status}: {code}"
            );
        }
    }
}

/// The answer's fields as the contract lists them (recursing into objects and arrays).
fn check_fields(spec: &Value, schema: &Value, fields: &serde_json::Map<String, Value>, what: &str) {
    for (name, shape) in fields {
        let prop = resolve(spec, &schema["properties"][name]);
        assert!(prop.is_object(), "{what}: field {name} is missing");
        match shape {
            Value::Array(items) => {
                let item_schema = resolve(spec, &prop["items"]);
                if let Some(Value::Object(inner)) = items.first() {
                    check_fields(spec, item_schema, inner, &format!("{what}.{name}[]"));
                }
            }
            Value::Object(inner) => check_fields(spec, prop, inner, &format!("{what}.{name}")),
            Value::String(s) if s.contains('|') => {
                let allowed: BTreeSet<&str> = prop["enum"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for v in s.split('|') {
                    assert!(allowed.contains(v), "{what}: {name} lacks {v}");
                }
            }
            Value::String(s) if s.contains("RFC 3339") => {
                assert_eq!(prop["format"], "date-time", "{what}: {name} is a date-time");
            }
            // "Message (…) or null", "{iterator} or null": an object that may be null;
            // "string or null": a string that may be null.
            Value::String(s) if s.ends_with("or null") => {
                let field = &schema["properties"][name];
                assert_eq!(field["nullable"], true, "{what}: {name} may be null");
                let ty = if s.starts_with("string") {
                    "string"
                } else {
                    "object"
                };
                assert_eq!(prop["type"], ty, "{what}: {name} is a {ty}");
            }
            Value::String(s) if s == "boolean" || s == "integer" || s == "object" => {
                assert_eq!(prop["type"], s.as_str(), "{what}: {name} is a {s}");
            }
            _ => assert_eq!(prop["type"], "string", "{what}: {name} is a string"),
        }
    }
}

#[test]
fn the_route_table_agrees_with_the_spec() {
    let spec = spec();
    let mut in_spec = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            in_spec.insert((method.to_ascii_uppercase(), path.clone()));
            let route = ROUTES
                .iter()
                .find(|r| r.template == path && r.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is not in the route table"));
            assert!(route.in_spec, "{method} {path}");
            assert_eq!(
                route.auth,
                op["security"].is_array(),
                "{method} {path}: auth"
            );
            assert_eq!(
                route.body,
                op["requestBody"].is_object(),
                "{method} {path}: body"
            );
            let answers_429 = op["responses"]["429"].is_object();
            assert_eq!(route.throttled, answers_429, "{method} {path}: throttled");
        }
    }
    let in_table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.in_spec)
        .map(|r| (r.method.to_string(), r.template.to_owned()))
        .collect();
    assert_eq!(in_table, in_spec);
}

#[test]
fn every_declared_code_has_the_status_of_the_one_mapping() {
    let all = [
        Error::BadParameters,
        Error::BadCursor,
        Error::NotFound,
        Error::MethodNotAllowed,
        Error::ChatNotFound,
        Error::UserNotFound,
        Error::UserAlreadyExists,
        Error::BadPassword,
        Error::AuthFailed,
        Error::InvalidSessionId,
        Error::SessionIdExpired,
        Error::TaskNotFound,
        Error::TaskNotComplete,
        Error::TaskFailed,
        Error::RequestLimitExceeded {
            retry_after_secs: 1,
        },
        Error::IdempotencyKeyReused,
        Error::Forbidden,
        Error::SessionNotFound,
        Error::ServiceUnavailable,
        Error::InternalError,
    ];
    let spec = spec();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                if response["content"].is_null() || status.starts_with('2') {
                    continue;
                }
                for code in codes(&spec, response) {
                    // Inherited from the original: an unknown name at login is a 400.
                    if path == "/v1/auth/login" && code == "user-not-found" {
                        assert_eq!(status, "400");
                        continue;
                    }
                    let e = all
                        .iter()
                        .find(|e| e.code() == code)
                        .unwrap_or_else(|| panic!("unknown code {code}"));
                    assert_eq!(
                        status_of(e).as_str(),
                        status,
                        "{method} {path}: {code} declared under {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn every_route_of_the_table_reaches_its_handler() {
    // Legacy mode: the gate lets every request through to the router, so a route the
    // router lacks would answer not-found or 405 (or the gate's 500) here.
    let mut config = messenger_api::Config::default();
    config.server.port = 0;
    config.auth.disabled = true;
    let app = App::build(config, messenger_api::Overrides::default())
        .await
        .expect("builds in memory");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for r in ROUTES {
        let path = r
            .template
            .replace("{chat_id}", "0123456789abcdef0123456789abcdef")
            .replace("{task_id}", "0123456789abcdef0123456789abcdef")
            .replace("{file}", "app.js");
        let url = format!("{base}{path}?limit=1&user_id=x");
        let resp = client
            .request(r.method.as_str().parse().expect("method"), &url)
            .send()
            .await
            .expect("answers");
        let status = resp.status().as_u16();
        let streaming = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        // A stream stays open: its head is the answer (dropping it closes it).
        let body = if streaming {
            String::new()
        } else {
            resp.text().await.unwrap_or_default()
        };
        assert!(
            status != 405 && status != 500 && body != r#"{"message":"not-found"}"#,
            "{} {}: {status} {body}",
            r.method,
            r.template
        );
    }
    let _ = stop.send(());
    server.await.expect("joins").expect("serves");
}

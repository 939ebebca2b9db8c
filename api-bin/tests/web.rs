//! The web client as a browser fetches it: `/` and `/app` redirect to `/app/`, the page and
//! its files come with their content types, a strict Content-Security-Policy, `nosniff`
//! and an `ETag` that answers 304 when it still matches; an unknown file is the usual 404.
//! (What the page does is tested in a real browser: `tests/browser/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use messenger_api::{App, Config, Overrides};
use reqwest::{header, redirect, StatusCode};

struct Served {
    base: String,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve() -> Served {
    let mut config = Config::default();
    config.server.port = 0;
    let app = App::build(config, Overrides::default())
        .await
        .expect("builds in memory");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("a client");
    Served {
        base,
        client,
        stop,
        server,
    }
}

impl Served {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("answers")
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("joins").expect("serves");
    }
}

fn header_of<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{} has no {name} header", resp.url()))
}

#[tokio::test]
async fn the_root_and_app_without_a_slash_redirect_to_the_client() {
    let s = serve().await;
    for path in ["/", "/app"] {
        let resp = s.get(path).await;
        assert_eq!(resp.status(), StatusCode::FOUND, "{path}");
        assert_eq!(header_of(&resp, "location"), "/app/", "{path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn the_page_is_html_under_a_strict_content_security_policy() {
    let s = serve().await;
    let resp = s.get("/app/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, "content-type"), "text/html; charset=utf-8");
    let csp = header_of(&resp, "content-security-policy").to_owned();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header_of(&resp, "x-content-type-options"), "nosniff");
    assert_eq!(header_of(&resp, "referrer-policy"), "no-referrer");
    let body = resp.text().await.expect("a body");
    assert!(body.starts_with("<!doctype html>"), "{body}");
    assert!(body.contains(r#"<script type="module" src="app.js"></script>"#));
    assert_eq!(
        s.get("/app/index.html").await.text().await.expect("a body"),
        body
    );
    s.stop().await;
}

#[tokio::test]
async fn files_have_their_content_types_and_the_same_headers() {
    let s = serve().await;
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("stream.js", "text/javascript; charset=utf-8"),
        ("chat.js", "text/javascript; charset=utf-8"),
        ("search.js", "text/javascript; charset=utf-8"),
        ("dom.js", "text/javascript; charset=utf-8"),
        ("chatlist.js", "text/javascript; charset=utf-8"),
        ("members.js", "text/javascript; charset=utf-8"),
        ("login.js", "text/javascript; charset=utf-8"),
        ("notices.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let resp = s.get(&format!("/app/{file}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{file}");
        assert_eq!(header_of(&resp, "content-type"), content_type, "{file}");
        assert_eq!(header_of(&resp, "x-content-type-options"), "nosniff");
        assert!(header_of(&resp, "content-security-policy").contains("default-src 'self'"));
        assert!(!resp.bytes().await.expect("a body").is_empty(), "{file}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_matching_etag_answers_304_without_a_body() {
    let s = serve().await;
    let first = s.get("/app/app.js").await;
    let etag = header_of(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(header_of(&first, "cache-control"), "no-cache");
    let again = s
        .client
        .get(format!("{}/app/app.js", s.base))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&again, "etag"), etag);
    assert!(again.bytes().await.expect("a body").is_empty());
    let other = s
        .client
        .get(format!("{}/app/app.js", s.base))
        .header(header::IF_NONE_MATCH, "\"0000000000000000\"")
        .send()
        .await
        .expect("answers");
    assert_eq!(other.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn an_unknown_file_is_not_found_in_the_contract_s_shape() {
    let s = serve().await;
    for path in [
        "/app/nope.js",
        "/app/../Cargo.toml",
        "/app/x/y",
        "/application",
    ] {
        let resp = s.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            resp.text().await.expect("a body"),
            r#"{"message":"not-found"}"#,
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn the_client_s_routes_are_not_in_the_spec() {
    let spec = App::openapi_json();
    assert!(!spec.contains("\"/app"), "the client is not an API route");
    assert!(!spec.contains("\"/\":"), "the root is not an API route");
}

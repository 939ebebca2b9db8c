//! The web client: a small reference client of the public API (plain HTML, CSS and
//! JavaScript modules in `api-bin/web/`), compiled into the binary and served at `/app/`,
//! so running the service is all it takes to use it. `/` and `/app` redirect there.
//!
//! - **No build step.** The files are served as written; there is nothing to regenerate
//!   and nothing that can be stale.
//! - **Strict headers.** Every file goes out with a Content-Security-Policy that allows
//!   only this origin's scripts, styles and connections (no inline script or style, no
//!   third-party resources, no framing), `X-Content-Type-Options: nosniff`, and no
//!   referrer.
//! - **Caching.** Each file carries an `ETag` (a hash of its bytes, computed at compile
//!   time) and `Cache-Control: no-cache`: browsers revalidate and get 304 while the
//!   binary is the same, and a new binary's files at once.
//!
//! These routes are not part of the API: they are in the gate's route table (neither
//! authenticated nor throttled) but not in the OpenAPI document.

use crate::http::errors::error_response;
use messenger_domain::Error;
use poem::http::{header, HeaderValue, StatusCode};
use poem::web::Path;
use poem::{handler, Endpoint, IntoResponse, Request, Response};

/// The policy of every page and file of the client.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Where the client lives.
pub const APP_PATH: &str = "/app/";

/// One file of the client.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: u64,
}

macro_rules! assets {
    ($($name:literal => $content_type:literal),* $(,)?) => {
        &[$(Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../web/", $name)),
            etag: fnv1a(include_bytes!(concat!("../web/", $name))),
        }),*]
    };
}

/// Every file, by the name it is served under (`index.html` also at `/app/`).
static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "stream.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "chat.js" => "text/javascript; charset=utf-8",
    "search.js" => "text/javascript; charset=utf-8",
    "chatlist.js" => "text/javascript; charset=utf-8",
    "members.js" => "text/javascript; charset=utf-8",
    "login.js" => "text/javascript; charset=utf-8",
    "notices.js" => "text/javascript; charset=utf-8",
    "icon.svg" => "image/svg+xml",
};

/// FNV-1a, 64 bits: enough to tell two versions of a file apart, and a `const fn`, so
/// the tags cost nothing at run time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `GET /app/`: the page.
#[handler]
pub fn index(req: &Request) -> Response {
    serve("index.html", req)
}

/// `GET /app/{file}`: a file of the client, or 404 `not-found`.
#[handler]
pub fn file(Path(name): Path<String>, req: &Request) -> Response {
    serve(&name, req)
}

/// `GET /app`: to the client.
#[handler]
pub fn to_app() -> Response {
    to_app_response()
}

/// The redirect to the client (`GET /` and `GET /app`).
pub fn to_app_response() -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, APP_PATH)
        .header(header::CACHE_CONTROL, "no-cache")
        .finish()
}

/// Answers `GET /` with the redirect to the client, in front of a router whose nested
/// API service claims the root (poem's nest at `/` registers the empty path too).
pub struct Root<E>(pub E);

impl<E: Endpoint> Endpoint for Root<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if req.uri().path() == "/" {
            return Ok(to_app_response());
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

fn serve(name: &str, req: &Request) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return error_response(&Error::NotFound);
    };
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let builder = Response::builder()
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        );
    if fresh {
        builder.status(StatusCode::NOT_MODIFIED).finish()
    } else {
        builder.content_type(asset.content_type).body(asset.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_distinct_tag_and_a_known_type() {
        let mut tags: Vec<u64> = ASSETS.iter().map(|a| a.etag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
        }
    }

    #[test]
    fn every_file_of_the_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk, "api-bin/web/ and the served files differ");
    }

    #[test]
    fn the_hash_is_fnv1a() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_page_loads_nothing_inline() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        assert!(page.contains("<script type=\"module\" src=\"app.js\">"));
        assert!(!page.contains("style="), "inline style");
        assert!(!page.contains("<style"), "inline style");
        // No `on…=` attribute (an inline event handler).
        for (i, _) in page.match_indices(" on") {
            let rest = &page[i + 3..];
            let word = rest.len()
                - rest
                    .trim_start_matches(|c: char| c.is_ascii_lowercase())
                    .len();
            assert!(!rest[word..].starts_with('='), "inline handler at {i}");
        }
        assert_eq!(
            page.matches("<script").count(),
            page.matches("<script type=\"module\" src=").count(),
            "inline script"
        );
    }
}

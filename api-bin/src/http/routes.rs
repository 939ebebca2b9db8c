//! The route table: every route the service answers, with what the gate must do before the
//! handler runs (authenticate, throttle, read a body) and how it is logged. This is the one
//! place that knows it; a test checks it against the generated spec, and another sends a
//! request to each route through the real router.
//!
//! The gate needs the table because poem-openapi parses parameters and bodies before a
//! handler runs, while the contract orders errors route → auth → throttling → bad input.

use messenger_domain::Error;
use poem::http::Method;

/// What the gate does for one (method, path template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path template, as in the spec (`{name}` for a parameter).
    pub template: &'static str,
    /// Requires a session (unless auth is switched off).
    pub auth: bool,
    /// Counted against the caller's request budget.
    pub throttled: bool,
    /// Takes a JSON body (read by the gate, at most [`MAX_BODY_BYTES`]).
    pub body: bool,
    /// Written to the access log (health routes are not).
    pub logged: bool,
    /// Part of the OpenAPI document (the spec and documentation routes are not).
    pub in_spec: bool,
    /// Runs under the whole-request deadline (routes that call stores; the others answer
    /// from memory and skip the timer).
    pub deadline: bool,
}

impl RouteSpec {
    /// The answer for a path id that cannot even be decoded (say `%FF`): the resource's
    /// 404, as for any id that does not parse.
    pub fn unknown_id(&self) -> Error {
        if self.template.contains("{chat_id}") {
            Error::ChatNotFound
        } else if self.template.contains("{task_id}") {
            Error::TaskNotFound
        } else if self.template.contains("{session_id}") {
            Error::SessionNotFound
        } else {
            Error::NotFound
        }
    }
}

/// The largest request body accepted (256 KiB); larger ones answer 400.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const fn api(method: Method, template: &'static str, auth: bool, body: bool) -> RouteSpec {
    RouteSpec {
        method,
        template,
        auth,
        throttled: true,
        body,
        logged: true,
        in_spec: true,
        deadline: true,
    }
}

const fn open(method: Method, template: &'static str, logged: bool, in_spec: bool) -> RouteSpec {
    RouteSpec {
        method,
        template,
        auth: false,
        throttled: false,
        body: false,
        logged,
        in_spec,
        deadline: false,
    }
}

/// `/ping_db`: not authenticated, throttled or logged, but it calls the database, so it
/// runs under the request deadline.
const fn health_db() -> RouteSpec {
    RouteSpec {
        method: Method::GET,
        template: "/ping_db",
        auth: false,
        throttled: false,
        body: false,
        logged: false,
        in_spec: true,
        deadline: true,
    }
}

/// A live-update route: authenticated and throttled (opening counts as one request), but
/// not under the whole-request deadline: a stream stays open, a long poll waits up to
/// 30 s (each store call keeps its own deadline).
const fn live(template: &'static str) -> RouteSpec {
    RouteSpec {
        method: Method::GET,
        template,
        auth: true,
        throttled: true,
        body: false,
        logged: true,
        in_spec: true,
        deadline: false,
    }
}

/// Every route. Health, metrics and documentation are neither authenticated nor throttled.
pub static ROUTES: &[RouteSpec] = &[
    open(Method::GET, "/ping", false, true),
    health_db(),
    open(Method::GET, "/metrics", false, false),
    open(Method::GET, "/openapi.json", true, false),
    open(Method::GET, "/docs", true, false),
    // The same page with the slash a browser or a copied link often adds.
    open(Method::GET, "/docs/", true, false),
    // The web client: `/` and `/app` redirect to `/app/`, which serves the page and its
    // files (`/app/` is matched before the parameter template).
    open(Method::GET, "/", true, false),
    open(Method::GET, "/app", true, false),
    open(Method::GET, "/app/", true, false),
    open(Method::GET, "/app/{file}", true, false),
    api(Method::POST, "/v1/auth/register", false, true),
    api(Method::POST, "/v1/auth/login", false, true),
    api(Method::POST, "/v1/auth/logout", true, false),
    api(Method::POST, "/v1/auth/logout-all", true, false),
    api(Method::POST, "/v1/auth/password", true, true),
    api(Method::GET, "/v1/auth/sessions", true, false),
    api(
        Method::DELETE,
        "/v1/auth/sessions/{session_id}",
        true,
        false,
    ),
    api(Method::POST, "/v1/chats", true, true),
    api(Method::GET, "/v1/chats", true, false),
    api(Method::GET, "/v1/chats/{chat_id}", true, false),
    api(Method::PATCH, "/v1/chats/{chat_id}", true, true),
    api(Method::POST, "/v1/chats/{chat_id}/users", true, true),
    api(Method::GET, "/v1/chats/{chat_id}/users", true, false),
    api(
        Method::DELETE,
        "/v1/chats/{chat_id}/users/{user_id}",
        true,
        false,
    ),
    api(Method::POST, "/v1/chats/{chat_id}/messages", true, true),
    api(Method::GET, "/v1/chats/{chat_id}/messages", true, false),
    api(Method::PUT, "/v1/chats/{chat_id}/read", true, true),
    live("/v1/events"),
    live("/v1/events/stream"),
    api(Method::POST, "/v1/chats/search", true, true),
    api(
        Method::GET,
        "/v1/chats/search/status/{task_id}",
        true,
        false,
    ),
    api(
        Method::GET,
        "/v1/chats/search/{task_id}/messages",
        true,
        false,
    ),
];

/// What a request's method and path come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A route of the table.
    Found(&'static RouteSpec),
    /// A known path template with another method; the `Allow` header value.
    MethodNotAllowed {
        /// The template the path matched.
        template: &'static str,
        /// The methods of that template, comma-separated.
        allow: &'a str,
    },
    /// No template matches the path.
    NotFound,
}

/// A template split into segments once.
#[derive(Debug)]
struct Template {
    template: &'static str,
    segments: Vec<Segment>,
    allow: String,
    /// Indexes into [`ROUTES`] of this template's methods.
    routes: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Static(&'static str),
    Param,
}

/// The table, compiled for matching.
#[derive(Debug)]
pub struct RouteTable {
    templates: Vec<Template>,
}

impl RouteTable {
    /// Compiles [`ROUTES`].
    pub fn new() -> Self {
        let mut templates: Vec<Template> = Vec::new();
        for (i, r) in ROUTES.iter().enumerate() {
            match templates.iter_mut().find(|t| t.template == r.template) {
                Some(t) => t.routes.push(i),
                None => templates.push(Template {
                    template: r.template,
                    segments: split(r.template)
                        .map(|s| {
                            if s.starts_with('{') && s.ends_with('}') {
                                Segment::Param
                            } else {
                                Segment::Static(s)
                            }
                        })
                        .collect(),
                    allow: String::new(),
                    routes: vec![i],
                }),
            }
        }
        for t in &mut templates {
            let methods: Vec<&str> = t
                .routes
                .iter()
                .map(|&i| ROUTES[i].method.as_str())
                .collect();
            t.allow = methods.join(", ");
        }
        // Most specific first: at the first segment where two templates differ, a static
        // segment wins over a parameter (the router's rule too).
        // A total order (segment by segment: static text before a parameter, static texts
        // alphabetically; then the shorter first), so the sort is well defined whatever
        // the table holds; two templates matching one path first differ where one is static.
        templates.sort_by(|a, b| {
            for (x, y) in a.segments.iter().zip(&b.segments) {
                let order = match (x, y) {
                    (Segment::Static(_), Segment::Param) => std::cmp::Ordering::Less,
                    (Segment::Param, Segment::Static(_)) => std::cmp::Ordering::Greater,
                    (Segment::Static(p), Segment::Static(q)) => p.cmp(q),
                    (Segment::Param, Segment::Param) => std::cmp::Ordering::Equal,
                };
                if order.is_ne() {
                    return order;
                }
            }
            a.segments.len().cmp(&b.segments.len())
        });
        Self { templates }
    }

    /// Matches a request. `HEAD` is served wherever `GET` is.
    pub fn find(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let Some(t) = self.templates.iter().find(|t| matches(&t.segments, path)) else {
            return RouteMatch::NotFound;
        };
        let wanted = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        match t
            .routes
            .iter()
            .map(|&i| &ROUTES[i])
            .find(|r| r.method == wanted)
        {
            Some(r) => RouteMatch::Found(r),
            None => RouteMatch::MethodNotAllowed {
                template: t.template,
                allow: &t.allow,
            },
        }
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The compiled table, built on first use.
pub fn table() -> &'static RouteTable {
    static TABLE: std::sync::LazyLock<RouteTable> = std::sync::LazyLock::new(RouteTable::new);
    &TABLE
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

fn matches(segments: &[Segment], path: &str) -> bool {
    let mut parts = split(path);
    for seg in segments {
        match (seg, parts.next()) {
            (Segment::Static(s), Some(p)) if *s == p => {}
            // An empty id is an id that does not parse: the route's handler answers the
            // resource's 404 for it (the gate gives it a placeholder the router accepts).
            (Segment::Param, Some(_)) => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

/// The path with every empty segment after the first replaced by `-` (an id that never
/// parses), when there is one: the router does not match empty parameters, but the
/// contract answers an empty id like any id that does not parse.
pub fn fill_empty_ids(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    if !rest.split('/').any(str::is_empty) {
        return None;
    }
    let filled: Vec<&str> = rest
        .split('/')
        .map(|seg| if seg.is_empty() { "-" } else { seg })
        .collect();
    Some(format!("/{}", filled.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &RouteTable, m: Method, path: &str) -> &'static str {
        match t.find(&m, path) {
            RouteMatch::Found(r) => r.template,
            other => panic!("{m} {path}: {other:?}"),
        }
    }

    #[test]
    fn matches_static_and_parameter_segments() {
        let t = RouteTable::new();
        assert_eq!(found(&t, Method::GET, "/ping"), "/ping");
        assert_eq!(found(&t, Method::POST, "/v1/chats"), "/v1/chats");
        assert_eq!(
            found(&t, Method::POST, "/v1/chats/abc/users"),
            "/v1/chats/{chat_id}/users"
        );
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/abc/messages"),
            "/v1/chats/{chat_id}/messages"
        );
        assert_eq!(
            found(&t, Method::POST, "/v1/chats/search"),
            "/v1/chats/search"
        );
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/search/status/t1"),
            "/v1/chats/search/status/{task_id}"
        );
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/search/t1/messages"),
            "/v1/chats/search/{task_id}/messages"
        );
        // Static segments win: "search" is not a chat id here, but is one where only the
        // parameter template fits.
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/search/status/messages"),
            "/v1/chats/search/status/{task_id}"
        );
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/search/messages"),
            "/v1/chats/{chat_id}/messages"
        );
        assert_eq!(found(&t, Method::HEAD, "/ping"), "/ping");
        assert_eq!(found(&t, Method::GET, "/docs/"), "/docs/");
        assert_eq!(found(&t, Method::GET, "/"), "/");
        assert_eq!(found(&t, Method::GET, "/app"), "/app");
        assert_eq!(found(&t, Method::GET, "/app/"), "/app/");
        assert_eq!(found(&t, Method::GET, "/app/app.js"), "/app/{file}");
        assert_eq!(
            found(&t, Method::POST, "/v1/chats//users"),
            "/v1/chats/{chat_id}/users"
        );
        assert_eq!(
            found(&t, Method::GET, "/v1/chats/search/status/"),
            "/v1/chats/search/status/{task_id}"
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        let t = RouteTable::new();
        for p in [
            "/pong",
            "/ping/",
            "/v1",
            "/v1/chats/a/b/users",
            "/v1/chats/a/users/b/c",
            "/v1/chats/search/status",
            "/v1/auth",
            "/docs/x",
            "/app/x/y",
            "/application",
        ] {
            assert_eq!(t.find(&Method::GET, p), RouteMatch::NotFound, "{p}");
        }
    }

    #[test]
    fn other_methods_are_not_allowed_with_the_allowed_ones_listed() {
        let t = RouteTable::new();
        assert_eq!(
            t.find(&Method::DELETE, "/v1/chats"),
            RouteMatch::MethodNotAllowed {
                template: "/v1/chats",
                allow: "POST, GET"
            }
        );
        assert_eq!(
            t.find(&Method::POST, "/v1/chats/x"),
            RouteMatch::MethodNotAllowed {
                template: "/v1/chats/{chat_id}",
                allow: "GET, PATCH"
            }
        );
        assert_eq!(
            t.find(&Method::GET, "/v1/chats/x/read"),
            RouteMatch::MethodNotAllowed {
                template: "/v1/chats/{chat_id}/read",
                allow: "PUT"
            }
        );
        assert_eq!(
            t.find(&Method::DELETE, "/v1/chats/x/messages"),
            RouteMatch::MethodNotAllowed {
                template: "/v1/chats/{chat_id}/messages",
                allow: "POST, GET"
            }
        );
        assert_eq!(
            t.find(&Method::POST, "/ping"),
            RouteMatch::MethodNotAllowed {
                template: "/ping",
                allow: "GET"
            }
        );
    }

    #[test]
    fn empty_ids_get_a_placeholder() {
        assert_eq!(fill_empty_ids("/v1/chats/x/users"), None);
        assert_eq!(
            fill_empty_ids("/v1/chats//users").as_deref(),
            Some("/v1/chats/-/users")
        );
        assert_eq!(
            fill_empty_ids("/v1/chats/search/status/").as_deref(),
            Some("/v1/chats/search/status/-")
        );
    }

    #[test]
    fn undecodable_ids_are_the_resource_s_404() {
        let t = RouteTable::new();
        let spec = |m, p| match t.find(&m, p) {
            RouteMatch::Found(r) => r,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(
            spec(Method::POST, "/v1/chats/x/users").unknown_id(),
            Error::ChatNotFound
        );
        assert_eq!(
            spec(Method::GET, "/v1/chats/search/x/messages").unknown_id(),
            Error::TaskNotFound
        );
        assert_eq!(
            spec(Method::DELETE, "/v1/chats/x/users/y").unknown_id(),
            Error::ChatNotFound
        );
        assert_eq!(
            spec(Method::DELETE, "/v1/auth/sessions/x").unknown_id(),
            Error::SessionNotFound
        );
        assert_eq!(spec(Method::GET, "/ping").unknown_id(), Error::NotFound);
    }

    #[test]
    fn only_api_routes_are_authenticated_and_throttled() {
        for r in ROUTES {
            let api = r.template.starts_with("/v1/");
            assert_eq!(r.throttled, api, "{}", r.template);
            let public = matches!(r.template, "/v1/auth/register" | "/v1/auth/login");
            assert_eq!(r.auth, api && !public, "{}", r.template);
            assert_eq!(
                r.body,
                matches!(r.method, Method::POST | Method::PUT | Method::PATCH)
                    && !matches!(r.template, "/v1/auth/logout" | "/v1/auth/logout-all"),
                "{} {}",
                r.method,
                r.template
            );
            assert_eq!(
                r.logged,
                !r.template.starts_with("/ping") && r.template != "/metrics"
            );
        }
    }
}

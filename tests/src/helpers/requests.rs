//! Typed request helpers: one per route, returning the raw [`Reply`], plus `*_ok`
//! variants that assert success and return the typed result.

use super::{encode_query_value, reply::raw_exchange, unique, Reply, TestApp};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// What to send as credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No auth header at all.
    None,
    /// The configured scheme word and this token.
    Token(String),
    /// This exact header value (another scheme, odd spacing, …).
    Raw(String),
}

/// A registered account with a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its account name.
    pub name: String,
    /// Its password.
    pub password: String,
    /// The session token of its latest login.
    pub token: String,
}

impl From<&User> for Auth {
    fn from(u: &User) -> Self {
        Auth::Token(u.token.clone())
    }
}

impl From<&Auth> for Auth {
    fn from(a: &Auth) -> Self {
        a.clone()
    }
}

/// A chat message as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Its id.
    pub message_id: String,
    /// The posting member.
    pub user_id: String,
    /// The member's display name.
    pub user_name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A page of chat messages or search hits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub messages: Vec<T>,
    /// Where to continue.
    pub next: Next,
}

/// The `next` object of a page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Next {
    /// The cursor for `from`.
    pub iterator: String,
}

/// A search hit as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hit {
    /// The text.
    pub text: String,
    /// Its chat.
    pub chat_id: String,
    /// Its id.
    pub message_id: String,
    /// The poster's display name.
    pub user_name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// The password every helper-made account uses.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// The auth header for `auth`, if any.
    pub fn auth_header_for(&self, auth: &Auth) -> Option<(String, String)> {
        match auth {
            Auth::None => None,
            Auth::Token(t) => Some((
                self.auth_header.clone(),
                format!("{} {t}", self.auth_scheme),
            )),
            Auth::Raw(v) => Some((self.auth_header.clone(), v.clone())),
        }
    }

    /// Any request: `method` on `path` (with its query string) with these extra headers
    /// and, when given, this body sent as `application/json`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        auth: impl Into<Auth>,
        headers: &[(&str, &str)],
        json_body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some((name, value)) = self.auth_header_for(&auth.into()) {
            request = request.header(name, value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = json_body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).expect("JSON"));
        }
        let response = request.send().await.unwrap_or_else(|e| {
            panic!("request to {path} failed: {e}");
        });
        Reply::from_response(response).await
    }

    /// A request with exactly these body bytes and headers (no content type unless given).
    pub async fn raw_bytes(
        &self,
        method: Method,
        path: &str,
        auth: impl Into<Auth>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some((name, value)) = self.auth_header_for(&auth.into()) {
            request = request.header(name, value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.unwrap_or_else(|e| {
            panic!("request to {path} failed: {e}");
        });
        Reply::from_response(response).await
    }

    /// A request written byte for byte over a new connection: `head` is the request line
    /// and headers (CRLF-separated, no final blank line); the auth header is added.
    pub async fn raw_http(&self, head: &str, auth: impl Into<Auth>, body: Vec<u8>) -> Reply {
        let mut head = format!("{head}\r\nHost: {}", self.address);
        if let Some((name, value)) = self.auth_header_for(&auth.into()) {
            head.push_str(&format!("\r\n{name}: {value}"));
        }
        raw_exchange(self.address, &head, body).await
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path, Auth::None, &[], None).await
    }

    // ---- accounts and sessions ----

    /// `POST /v1/auth/register`.
    pub async fn register(&self, user_name: &str, password: &str) -> Reply {
        let body = json!({ "user_name": user_name, "password": password });
        self.raw(
            Method::POST,
            "/v1/auth/register",
            Auth::None,
            &[],
            Some(&body),
        )
        .await
    }

    /// `POST /v1/auth/login`.
    pub async fn login(&self, user_name: &str, password: &str) -> Reply {
        let body = json!({ "user_name": user_name, "password": password });
        self.raw(Method::POST, "/v1/auth/login", Auth::None, &[], Some(&body))
            .await
    }

    /// `POST /v1/auth/login` as if from `client` (through a trusted proxy's
    /// `X-Forwarded-For`).
    pub async fn login_from(&self, client: &str, user_name: &str, password: &str) -> Reply {
        let body = json!({ "user_name": user_name, "password": password });
        let headers = [("x-forwarded-for", client)];
        self.raw(
            Method::POST,
            "/v1/auth/login",
            Auth::None,
            &headers,
            Some(&body),
        )
        .await
    }

    /// Logs in and returns the token, asserting 201.
    pub async fn login_ok(&self, user_name: &str, password: &str) -> String {
        let reply = self.login(user_name, password).await;
        reply.assert_status(201, "login");
        reply.field("session_id")
    }

    /// Registers `user_name` with [`PASSWORD`] and logs in.
    pub async fn register_and_login(&self, user_name: &str) -> User {
        self.register(user_name, PASSWORD)
            .await
            .assert_status(201, "register");
        let token = self.login_ok(user_name, PASSWORD).await;
        User {
            name: user_name.to_owned(),
            password: PASSWORD.to_owned(),
            token,
        }
    }

    /// A new account with a unique name, logged in.
    pub async fn new_user(&self) -> User {
        self.register_and_login(&unique("user")).await
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self, auth: impl Into<Auth>) -> Reply {
        self.raw(Method::POST, "/v1/auth/logout", auth, &[], None)
            .await
    }

    // ---- chats and members ----

    /// `POST /v1/chats`.
    pub async fn create_chat(&self, auth: impl Into<Auth>, chat_name: &str) -> Reply {
        let body = json!({ "chat_name": chat_name });
        self.raw(Method::POST, "/v1/chats", auth, &[], Some(&body))
            .await
    }

    /// Creates a chat and returns its id, asserting 201.
    pub async fn create_chat_ok(&self, auth: impl Into<Auth>) -> String {
        let reply = self.create_chat(auth, &unique("chat")).await;
        reply.assert_status(201, "create chat");
        reply.field("chat_id")
    }

    /// `POST /v1/chats/{chat_id}/users`.
    pub async fn join(&self, auth: impl Into<Auth>, chat_id: &str, user_name: &str) -> Reply {
        let body = json!({ "user_name": user_name });
        let path = format!("/v1/chats/{chat_id}/users");
        self.raw(Method::POST, &path, auth, &[], Some(&body)).await
    }

    /// Joins and returns the `user_id`, asserting 201.
    pub async fn join_ok(&self, auth: impl Into<Auth>, chat_id: &str, user_name: &str) -> String {
        let reply = self.join(auth, chat_id, user_name).await;
        reply.assert_status(201, "join");
        reply.field("user_id")
    }

    /// A chat created by `user`, joined by it under its account name; returns
    /// `(chat_id, user_id)`.
    pub async fn chat_with_member(&self, user: &User) -> (String, String) {
        let chat = self.create_chat_ok(user).await;
        let member = self.join_ok(user, &chat, &user.name).await;
        (chat, member)
    }

    // ---- messages ----

    /// `POST /v1/chats/{chat_id}/messages?user_id=…`.
    pub async fn post_message(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        user_id: &str,
        text: &str,
    ) -> Reply {
        self.post_message_with(auth, chat_id, user_id, text, &[])
            .await
    }

    /// As [`TestApp::post_message`] with extra headers (an `Idempotency-Key`).
    pub async fn post_message_with(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        user_id: &str,
        text: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = json!({ "message": text });
        let path = format!(
            "/v1/chats/{chat_id}/messages?user_id={}",
            encode_query_value(user_id)
        );
        self.raw(Method::POST, &path, auth, headers, Some(&body))
            .await
    }

    /// Posts and returns the `message_id`, asserting 201.
    pub async fn post_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        user_id: &str,
        text: &str,
    ) -> String {
        let reply = self.post_message(auth, chat_id, user_id, text).await;
        reply.assert_status(201, "post message");
        reply.field("message_id")
    }

    /// `GET /v1/chats/{chat_id}/messages?limit=…[&from=…]` with `limit` sent verbatim.
    pub async fn get_messages(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: &str,
        from: Option<&str>,
    ) -> Reply {
        let mut path = format!(
            "/v1/chats/{chat_id}/messages?limit={}",
            encode_query_value(limit)
        );
        if let Some(from) = from {
            path.push_str(&format!("&from={}", encode_query_value(from)));
        }
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// A page of messages, asserting 200 and the page's shape.
    pub async fn page_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
        from: Option<&str>,
    ) -> Page<Message> {
        let reply = self
            .get_messages(auth, chat_id, &limit.to_string(), from)
            .await;
        reply.assert_status(200, "read messages");
        let page: Page<Message> = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not a page of messages ({e}): {reply}"));
        assert!(
            super::is_lower_hex_32(&page.next.iterator),
            "next.iterator is not 32 lowercase hex: {reply}"
        );
        assert!(
            page.messages.len() <= limit as usize,
            "a page longer than its limit {limit}: {reply}"
        );
        page
    }

    /// Every message of a chat, oldest first, by paging with `limit` until an empty page;
    /// also returns the final cursor.
    pub async fn all_messages(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
    ) -> (Vec<Message>, String) {
        let auth = auth.into();
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let page = self.page_ok(&auth, chat_id, limit, from.as_deref()).await;
            if page.messages.is_empty() {
                return (all, page.next.iterator);
            }
            all.extend(page.messages);
            from = Some(page.next.iterator);
        }
    }

    // ---- search ----

    /// `POST /v1/chats/search`.
    pub async fn start_search(&self, auth: impl Into<Auth>, query: &str) -> Reply {
        let body = json!({ "message": query });
        self.raw(Method::POST, "/v1/chats/search", auth, &[], Some(&body))
            .await
    }

    /// Starts a search and returns the task id, asserting 201.
    pub async fn start_search_ok(&self, auth: impl Into<Auth>, query: &str) -> String {
        let reply = self.start_search(auth, query).await;
        reply.assert_status(201, &format!("start search {query:?}"));
        reply.field("task_id")
    }

    /// `GET /v1/chats/search/status/{task_id}`.
    pub async fn search_status(&self, auth: impl Into<Auth>, task_id: &str) -> Reply {
        let path = format!("/v1/chats/search/status/{task_id}");
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// `GET /v1/chats/search/{task_id}/messages?limit=…[&from=…]`, `limit` verbatim.
    pub async fn search_results(
        &self,
        auth: impl Into<Auth>,
        task_id: &str,
        limit: &str,
        from: Option<&str>,
    ) -> Reply {
        let mut path = format!(
            "/v1/chats/search/{task_id}/messages?limit={}",
            encode_query_value(limit)
        );
        if let Some(from) = from {
            path.push_str(&format!("&from={}", encode_query_value(from)));
        }
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// Waits until the task is final (the in-process worker runs it) and returns its
    /// status. Polls with short pauses, for at most 5 s in all.
    pub async fn wait_for_search(&self, auth: impl Into<Auth>, task_id: &str) -> String {
        let auth = auth.into();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let reply = self.search_status(&auth, task_id).await;
            reply.assert_status(200, "search status");
            let status = reply.field("status");
            assert!(
                ["WAITING", "IN_PROCESS", "SUCCESS", "FAILED"].contains(&status.as_str()),
                "unknown task status {status:?}"
            );
            if status == "SUCCESS" || status == "FAILED" {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "search task {task_id} still {status} after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Runs a search to completion and returns every hit, newest first, paging with
    /// `limit` until the empty page.
    pub async fn search_all(&self, auth: impl Into<Auth>, query: &str, limit: u32) -> Vec<Hit> {
        let auth = auth.into();
        let task = self.start_search_ok(&auth, query).await;
        let status = self.wait_for_search(&auth, &task).await;
        assert_eq!(status, "SUCCESS", "search {query:?} did not succeed");
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let page = self.hits_ok(&auth, &task, limit, from.as_deref()).await;
            if page.messages.is_empty() {
                return all;
            }
            all.extend(page.messages);
            from = Some(page.next.iterator);
        }
    }

    /// A page of hits, asserting 200 and the page's shape.
    pub async fn hits_ok(
        &self,
        auth: impl Into<Auth>,
        task_id: &str,
        limit: u32,
        from: Option<&str>,
    ) -> Page<Hit> {
        let reply = self
            .search_results(auth, task_id, &limit.to_string(), from)
            .await;
        reply.assert_status(200, "search results");
        let page: Page<Hit> = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not a page of hits ({e}): {reply}"));
        assert!(
            super::is_lower_hex_32(&page.next.iterator),
            "next.iterator is not 32 lowercase hex: {reply}"
        );
        assert!(
            page.messages.len() <= limit as usize,
            "a page longer than its limit {limit}: {reply}"
        );
        page
    }
}

/// One call of a route, for tables over routes.
#[derive(Debug, Clone)]
pub struct RouteCall {
    /// A name for failure messages (`"POST /v1/chats"`).
    pub name: &'static str,
    /// The method.
    pub method: Method,
    /// The path with its query string.
    pub path: String,
    /// The JSON body, if the route takes one.
    pub body: Option<Value>,
}

/// A valid call of every authenticated route, over an existing chat, member and task
/// (valid ids, so only the credentials decide the answer). Logout comes last so a table
/// walk does not end the session it checks before the other routes are tried.
pub fn authenticated_routes(chat_id: &str, user_id: &str, task_id: &str) -> Vec<RouteCall> {
    vec![
        RouteCall {
            name: "POST /v1/chats",
            method: Method::POST,
            path: "/v1/chats".into(),
            body: Some(json!({ "chat_name": "a chat" })),
        },
        RouteCall {
            name: "POST /v1/chats/{chat_id}/users",
            method: Method::POST,
            path: format!("/v1/chats/{chat_id}/users"),
            body: Some(json!({ "user_name": "someone" })),
        },
        RouteCall {
            name: "POST /v1/chats/{chat_id}/messages",
            method: Method::POST,
            path: format!("/v1/chats/{chat_id}/messages?user_id={user_id}"),
            body: Some(json!({ "message": "hello" })),
        },
        RouteCall {
            name: "GET /v1/chats/{chat_id}/messages",
            method: Method::GET,
            path: format!("/v1/chats/{chat_id}/messages?limit=10"),
            body: None,
        },
        RouteCall {
            name: "POST /v1/chats/search",
            method: Method::POST,
            path: "/v1/chats/search".into(),
            body: Some(json!({ "message": "hello world" })),
        },
        RouteCall {
            name: "GET /v1/chats/search/status/{task_id}",
            method: Method::GET,
            path: format!("/v1/chats/search/status/{task_id}"),
            body: None,
        },
        RouteCall {
            name: "GET /v1/chats/search/{task_id}/messages",
            method: Method::GET,
            path: format!("/v1/chats/search/{task_id}/messages?limit=10"),
            body: None,
        },
        RouteCall {
            name: "POST /v1/auth/logout",
            method: Method::POST,
            path: "/v1/auth/logout".into(),
            body: None,
        },
    ]
}

impl TestApp {
    /// Makes `call` with `auth`.
    pub async fn call(&self, call: &RouteCall, auth: impl Into<Auth>) -> Reply {
        self.raw(
            call.method.clone(),
            &call.path,
            auth,
            &[],
            call.body.as_ref(),
        )
        .await
    }

    /// A user with a chat it joined, one message in it and a finished search task:
    /// the ids every route of [`authenticated_routes`] needs.
    pub async fn user_with_everything(&self) -> (User, Vec<RouteCall>) {
        let user = self.new_user().await;
        let (chat, member) = self.chat_with_member(&user).await;
        self.post_ok(&user, &chat, &member, "hello world").await;
        let task = self.start_search_ok(&user, "hello world").await;
        self.wait_for_search(&user, &task).await;
        let routes = authenticated_routes(&chat, &member, &task);
        (user, routes)
    }
}

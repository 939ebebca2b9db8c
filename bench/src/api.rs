//! The messenger API calls the tool makes, one function per route, each
//! checking the status the contract (API.md) gives for success.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;

use crate::conn::Conn;
use crate::error::BenchError;

/// An account's register and login body (its name and password).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The JSON body of register and login.
    pub body: Bytes,
}

impl Credentials {
    /// Credentials for a fresh account named `user_name`.
    pub fn new(user_name: &str, password: &str) -> Self {
        let body = json!({ "user_name": user_name, "password": password }).to_string();
        Self {
            body: Bytes::from(body),
        }
    }
}

/// The `Authorization` value of a logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// `session_id <token>`.
    pub auth: HeaderValue,
}

/// A chat the account joined, and the member id it posts with.
#[derive(Debug, Clone)]
pub struct ChatRef {
    /// The chat's id.
    pub chat_id: String,
    /// The caller's member id in it.
    pub user_id: String,
}

/// What the tool needs from a history page: how many messages, and where
/// the next page starts.
#[derive(Debug)]
pub struct PageSummary {
    /// Messages on the page.
    pub count: usize,
    /// `next.iterator`.
    pub next: String,
}

#[derive(Deserialize)]
struct SessionAnswer {
    session_id: String,
}

#[derive(Deserialize)]
struct ChatAnswer {
    chat_id: String,
}

#[derive(Deserialize)]
struct MemberAnswer {
    user_id: String,
}

#[derive(Deserialize)]
struct TaskAnswer {
    task_id: String,
}

#[derive(Deserialize)]
struct StatusAnswer {
    status: String,
}

#[derive(Deserialize)]
struct Next {
    iterator: String,
}

/// Only the count of messages is needed: `IgnoredAny` skips their fields
/// without allocating, so parsing costs the load generator little.
#[derive(Deserialize)]
struct PageAnswer {
    messages: Vec<IgnoredAny>,
    next: Next,
}

#[derive(Deserialize)]
struct ChatListAnswer {
    events: Next,
}

fn parse<'a, T: Deserialize<'a>>(what: &'static str, body: &'a [u8]) -> Result<T, BenchError> {
    serde_json::from_slice(body).map_err(|source| BenchError::Json { what, source })
}

/// `GET /ping` → 200.
///
/// # Errors
/// Transport errors, or [`BenchError::Status`] for another status.
pub async fn ping(conn: &mut Conn) -> Result<(), BenchError> {
    let request = conn.request(Method::GET, "/ping", None, None)?;
    conn.send(request)
        .await?
        .expect("GET /ping", StatusCode::OK)?;
    Ok(())
}

/// `GET <path>` → 200, body ignored (used for the limit server's `/page`).
///
/// # Errors
/// Transport errors, or [`BenchError::Status`] for another status.
pub async fn get_ok(
    conn: &mut Conn,
    path: &str,
    auth: Option<&HeaderValue>,
) -> Result<(), BenchError> {
    let request = conn.request(Method::GET, path, auth, None)?;
    conn.send(request).await?.expect("GET", StatusCode::OK)?;
    Ok(())
}

/// `POST /v1/auth/register` → 201.
///
/// # Errors
/// Transport errors, or [`BenchError::Status`] (e.g. `user-already-exists`).
pub async fn register(conn: &mut Conn, credentials: &Credentials) -> Result<(), BenchError> {
    let request = conn.request(
        Method::POST,
        "/v1/auth/register",
        None,
        Some(credentials.body.clone()),
    )?;
    conn.send(request)
        .await?
        .expect("register", StatusCode::CREATED)?;
    Ok(())
}

/// `POST /v1/auth/login` → 201 `{"session_id"}`.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn login(conn: &mut Conn, credentials: &Credentials) -> Result<Session, BenchError> {
    let request = conn.request(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(credentials.body.clone()),
    )?;
    let body = conn
        .send(request)
        .await?
        .expect("login", StatusCode::CREATED)?;
    let answer: SessionAnswer = parse("login", &body)?;
    let auth = HeaderValue::from_str(&format!("session_id {}", answer.session_id))
        .map_err(|e| BenchError::Request(e.into()))?;
    Ok(Session { auth })
}

/// `POST /v1/chats` → 201 `{"chat_id"}`, then `POST /v1/chats/{id}/users`
/// → 201 `{"user_id"}`: a chat the session can read and post to.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn create_and_join(
    conn: &mut Conn,
    session: &Session,
    chat_name: &str,
    member_name: &str,
) -> Result<ChatRef, BenchError> {
    let body = Bytes::from(json!({ "chat_name": chat_name }).to_string());
    let request = conn.request(Method::POST, "/v1/chats", Some(&session.auth), Some(body))?;
    let body = conn
        .send(request)
        .await?
        .expect("create chat", StatusCode::CREATED)?;
    let chat: ChatAnswer = parse("create chat", &body)?;
    join(conn, session, &chat.chat_id, member_name).await
}

/// `POST /v1/chats/{id}/users` → 201 `{"user_id"}`: the session joins an existing chat.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn join(
    conn: &mut Conn,
    session: &Session,
    chat_id: &str,
    member_name: &str,
) -> Result<ChatRef, BenchError> {
    let path = format!("/v1/chats/{chat_id}/users");
    let body = Bytes::from(json!({ "user_name": member_name }).to_string());
    let request = conn.request(Method::POST, &path, Some(&session.auth), Some(body))?;
    let body = conn
        .send(request)
        .await?
        .expect("join chat", StatusCode::CREATED)?;
    let member: MemberAnswer = parse("join chat", &body)?;
    Ok(ChatRef {
        chat_id: chat_id.to_owned(),
        user_id: member.user_id,
    })
}

/// `POST /v1/chats/{id}/messages?user_id=…` → 201.
///
/// # Errors
/// Transport errors or [`BenchError::Status`].
pub async fn post_message(
    conn: &mut Conn,
    session: &Session,
    chat: &ChatRef,
    text: &str,
) -> Result<(), BenchError> {
    let path = format!(
        "/v1/chats/{}/messages?user_id={}",
        chat.chat_id, chat.user_id
    );
    let body = Bytes::from(json!({ "message": text }).to_string());
    let request = conn.request(Method::POST, &path, Some(&session.auth), Some(body))?;
    conn.send(request)
        .await?
        .expect("post message", StatusCode::CREATED)?;
    Ok(())
}

/// `GET /v1/chats?limit=1` → 200: its `events.iterator`, the event-stream position
/// of that moment.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn events_position(conn: &mut Conn, session: &Session) -> Result<String, BenchError> {
    let request = conn.request(Method::GET, "/v1/chats?limit=1", Some(&session.auth), None)?;
    let body = conn
        .send(request)
        .await?
        .expect("chat list", StatusCode::OK)?;
    let list: ChatListAnswer = parse("chat list", &body)?;
    Ok(list.events.iterator)
}

/// The path of a history page of `chat_id` after cursor `from`.
pub fn page_path(chat_id: &str, limit: u32, from: Option<&str>) -> String {
    match from {
        Some(from) => format!("/v1/chats/{chat_id}/messages?limit={limit}&from={from}"),
        None => format!("/v1/chats/{chat_id}/messages?limit={limit}"),
    }
}

/// `GET <page path>` → 200 `{"messages", "next": {"iterator"}}`.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn read_page(
    conn: &mut Conn,
    session: &Session,
    path: &str,
) -> Result<PageSummary, BenchError> {
    let request = conn.request(Method::GET, path, Some(&session.auth), None)?;
    let body = conn
        .send(request)
        .await?
        .expect("read page", StatusCode::OK)?;
    let page: PageAnswer = parse("read page", &body)?;
    Ok(PageSummary {
        count: page.messages.len(),
        next: page.next.iterator,
    })
}

/// `POST /v1/chats/search` → 201 `{"task_id"}`.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn start_search(
    conn: &mut Conn,
    session: &Session,
    query_body: &Bytes,
) -> Result<String, BenchError> {
    let request = conn.request(
        Method::POST,
        "/v1/chats/search",
        Some(&session.auth),
        Some(query_body.clone()),
    )?;
    let body = conn
        .send(request)
        .await?
        .expect("start search", StatusCode::CREATED)?;
    let task: TaskAnswer = parse("start search", &body)?;
    Ok(task.task_id)
}

/// `GET /v1/chats/search/status/{id}` → 200 `{"status"}`.
///
/// # Errors
/// Transport errors, [`BenchError::Status`] or [`BenchError::Json`].
pub async fn search_status(
    conn: &mut Conn,
    session: &Session,
    task_id: &str,
) -> Result<String, BenchError> {
    let path = format!("/v1/chats/search/status/{task_id}");
    let request = conn.request(Method::GET, &path, Some(&session.auth), None)?;
    let body = conn
        .send(request)
        .await?
        .expect("search status", StatusCode::OK)?;
    let answer: StatusAnswer = parse("search status", &body)?;
    Ok(answer.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_answer_yields_its_count_and_cursor() {
        let body = br#"{"messages":[{"text":"a","message_id":"1"},{"text":"b"}],
                        "next":{"iterator":"00ff"}}"#;
        let page: PageAnswer = parse("read page", body).unwrap();
        assert_eq!(page.messages.len(), 2);
        assert_eq!(page.next.iterator, "00ff");
    }

    #[test]
    fn page_paths_carry_the_cursor_only_when_given() {
        assert_eq!(
            page_path("c1", 100, None),
            "/v1/chats/c1/messages?limit=100"
        );
        assert_eq!(
            page_path("c1", 100, Some("ab")),
            "/v1/chats/c1/messages?limit=100&from=ab"
        );
    }

    #[test]
    fn credentials_make_a_json_login_body() {
        let c = Credentials::new("bench \"x\"", "pw");
        let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(v["user_name"], "bench \"x\"");
        assert_eq!(v["password"], "pw");
    }
}

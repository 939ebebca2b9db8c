//! A tiny stand-in for messenger-api and the limit server, for the tool's
//! own end-to-end tests: the routes the tool calls, with the statuses and
//! JSON shapes of API.md, over counters (a cursor is a decimal offset).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Path, Query};
use poem::{get, handler, post, EndpointExt, Request, Response, Route, Server};
use serde::Deserialize;
use serde_json::{json, Value};

/// What the mock saw.
#[derive(Default)]
pub struct MockState {
    next_id: AtomicU64,
    /// Messages stored per chat id.
    pub messages: Mutex<HashMap<String, u64>>,
    /// Logins answered.
    pub logins: AtomicU64,
    /// Status polls per task id (a task succeeds at its second poll).
    polls: Mutex<HashMap<String, u64>>,
}

impl MockState {
    fn id(&self) -> String {
        format!("{:032x}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

type State<'a> = Data<&'a Arc<MockState>>;

fn authorized(req: &Request) -> bool {
    req.header("authorization")
        .is_some_and(|v| v.starts_with("session_id "))
}

fn answer(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn auth_failed() -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        json!({ "message": "auth-failed" }),
    )
}

#[handler]
fn ping() -> StatusCode {
    StatusCode::OK
}

#[handler]
fn limit_page() -> Response {
    let messages: Vec<Value> = (0..100)
        .map(|i| json!({ "text": format!("m{i}") }))
        .collect();
    answer(
        StatusCode::OK,
        json!({ "messages": messages, "next": { "iterator": "0" } }),
    )
}

#[handler]
fn register(Json(body): Json<Value>) -> StatusCode {
    if body["user_name"].is_string() && body["password"].is_string() {
        StatusCode::CREATED
    } else {
        StatusCode::BAD_REQUEST
    }
}

#[handler]
fn login(state: State<'_>, Json(body): Json<Value>) -> Response {
    if body["password"] != "benchmark-password-1" {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "message": "bad-password" }),
        );
    }
    state.logins.fetch_add(1, Ordering::Relaxed);
    answer(StatusCode::CREATED, json!({ "session_id": state.id() }))
}

#[handler]
fn create_chat(req: &Request, state: State<'_>) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    let chat_id = state.id();
    if let Ok(mut messages) = state.messages.lock() {
        messages.insert(chat_id.clone(), 0);
    }
    answer(StatusCode::CREATED, json!({ "chat_id": chat_id }))
}

fn chat_exists(state: &MockState, chat_id: &str) -> bool {
    state.messages.lock().is_ok_and(|m| m.contains_key(chat_id))
}

#[handler]
fn join(req: &Request, state: State<'_>, Path(chat_id): Path<String>) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    if !chat_exists(&state, &chat_id) {
        return answer(
            StatusCode::NOT_FOUND,
            json!({ "message": "chat-not-found" }),
        );
    }
    answer(StatusCode::CREATED, json!({ "user_id": state.id() }))
}

#[derive(Deserialize)]
struct PostParams {
    user_id: String,
}

#[handler]
fn post_message(
    req: &Request,
    state: State<'_>,
    Path(chat_id): Path<String>,
    Query(params): Query<PostParams>,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    if params.user_id.is_empty() || !body["message"].is_string() {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "message": "bad-parameters" }),
        );
    }
    match state.messages.lock() {
        Ok(mut messages) => match messages.get_mut(&chat_id) {
            Some(count) => *count += 1,
            None => {
                return answer(
                    StatusCode::NOT_FOUND,
                    json!({ "message": "chat-not-found" }),
                )
            }
        },
        Err(_) => return answer(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
    }
    answer(StatusCode::CREATED, json!({ "message_id": state.id() }))
}

#[derive(Deserialize)]
struct PageParams {
    limit: u64,
    from: Option<String>,
}

#[handler]
fn read_page(
    req: &Request,
    state: State<'_>,
    Path(chat_id): Path<String>,
    Query(params): Query<PageParams>,
) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    let Some(total) = state
        .messages
        .lock()
        .ok()
        .and_then(|m| m.get(&chat_id).copied())
    else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({ "message": "chat-not-found" }),
        );
    };
    let from = match params.from.as_deref().map(str::parse::<u64>) {
        None => 0,
        Some(Ok(from)) if from <= total => from,
        Some(_) => return answer(StatusCode::BAD_REQUEST, json!({ "message": "bad-cursor" })),
    };
    let count = params.limit.min(total - from);
    let messages: Vec<Value> = (from..from + count)
        .map(|i| json!({ "text": format!("m{i}") }))
        .collect();
    answer(
        StatusCode::OK,
        json!({ "messages": messages, "next": { "iterator": (from + count).to_string() } }),
    )
}

#[handler]
fn start_search(req: &Request, state: State<'_>, Json(body): Json<Value>) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    if !body["message"].is_string() {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "message": "bad-parameters" }),
        );
    }
    let task_id = state.id();
    if let Ok(mut polls) = state.polls.lock() {
        polls.insert(task_id.clone(), 0);
    }
    answer(StatusCode::CREATED, json!({ "task_id": task_id }))
}

#[handler]
fn search_status(req: &Request, state: State<'_>, Path(task_id): Path<String>) -> Response {
    if !authorized(req) {
        return auth_failed();
    }
    let polls = state.polls.lock().ok().and_then(|mut polls| {
        let seen = polls.get_mut(&task_id)?;
        *seen += 1;
        Some(*seen)
    });
    match polls {
        None => answer(
            StatusCode::NOT_FOUND,
            json!({ "message": "task-not-found" }),
        ),
        Some(1) => answer(StatusCode::OK, json!({ "status": "IN_PROCESS" })),
        Some(_) => answer(StatusCode::OK, json!({ "status": "SUCCESS" })),
    }
}

/// Serves the mock on a free port of 127.0.0.1 until the test ends.
pub async fn spawn() -> (SocketAddr, Arc<MockState>) {
    let state = Arc::new(MockState::default());
    let app = Route::new()
        .at("/ping", get(ping))
        .at("/page", get(limit_page))
        .at("/v1/auth/register", post(register))
        .at("/v1/auth/login", post(login))
        .at("/v1/chats", post(create_chat))
        .at("/v1/chats/search", post(start_search))
        .at("/v1/chats/search/status/:task_id", get(search_status))
        .at("/v1/chats/:chat_id/users", post(join))
        .at(
            "/v1/chats/:chat_id/messages",
            get(read_page).post(post_message),
        )
        .data(Arc::clone(&state));
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (addr, state)
}

//! The HTTP API as poem-openapi declares it: one `OpenApi` struct per area, each holding
//! the use cases it calls, combined into one service whose document is the spec.
//!
//! Errors every route may answer but no operation owns — an unknown route (404
//! `not-found`) and a known route with another method (405 `method-not-allowed`) — are
//! added to the document's `components.responses` (see [`spec_json`]).

pub mod auth;
pub mod chats;
pub mod event_data;
pub mod events;
pub mod health;
pub mod members;
pub mod messages;
pub mod pages;
pub mod search;
pub mod sessions;
pub mod streams;
pub mod summary;
pub mod types;

use crate::http::errors::{MethodNotAllowedError, RouteNotFoundError};
use messenger_ports::Messenger;
use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::Type,
    Object, OpenApiService, Tags,
};

/// The areas of the API (the spec's tags).
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness and database health.
    Health,
    /// Accounts and sessions.
    Auth,
    /// Chats, members, messages and read markers.
    Chats,
    /// Full-text search over messages, run asynchronously.
    Search,
    /// Live updates: the event stream and the long poll.
    Events,
}

/// Where a page ends.
#[derive(Object)]
pub struct Next {
    /// The cursor to pass as `from` to continue (always valid).
    pub iterator: String,
}

/// The combined API.
pub type Api = (
    health::HealthApi,
    auth::AuthApi,
    sessions::SessionsApi,
    chats::ChatsApi,
    members::MembersApi,
    messages::MessagesApi,
    search::SearchApi,
    events::EventsApi,
);

/// What the routes need beyond the use cases.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Bytes of written full pages of messages kept (0: none).
    pub rendered_page_bytes: u64,
    /// Event streams one account may have open on this instance.
    pub streams_per_account: u32,
    /// Turns true when the service starts shutting down: every event stream ends.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl ApiOptions {
    /// No page cache, the default stream limit, never closing (for the spec).
    pub fn for_spec() -> Self {
        Self {
            rendered_page_bytes: 0,
            streams_per_account: 10,
            closing: tokio::sync::watch::channel(false).1,
        }
    }
}

/// The API over `messenger`.
pub fn service(messenger: &Messenger, options: ApiOptions) -> OpenApiService<Api, ()> {
    let api = (
        health::HealthApi::new(messenger.clone()),
        auth::AuthApi::new(messenger.clone()),
        sessions::SessionsApi::new(messenger.clone()),
        chats::ChatsApi::new(messenger.clone()),
        members::MembersApi::new(messenger.clone()),
        messages::MessagesApi::new(messenger.clone(), options.rendered_page_bytes),
        search::SearchApi::new(messenger.clone()),
        events::EventsApi::new(
            messenger.clone(),
            options.streams_per_account,
            options.closing,
        ),
    );
    OpenApiService::new(api, "Messenger API", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .extra_request_header::<Option<String>, _>(
            poem_openapi::ExtraHeader::new("X-Request-Id")
                .description("Optional: an id for this request (1–128 visible ASCII characters), echoed in the answer and the log."),
        )
        .extra_response_header::<String, _>(
            poem_openapi::ExtraHeader::new("X-Request-Id")
                .description("The request's id: the one sent, or a generated one."),
        )
}

const DESCRIPTION: &str = "A messenger backend: accounts and sessions, chats, members, \
messages with exact cursor paging both ways, the caller's chat list with unread counts and \
read markers, live updates from a durable event log, and asynchronous full-text search.\n\n\
Every error answers `{\"message\": \"<code>\"}`. Errors are checked in this order: an unknown \
route (404 `not-found`) or another method (405 `method-not-allowed`, with `Allow`); \
authentication (401); throttling (429 with `Retry-After`); bad input (400 `bad-parameters`); \
the chat (404); the member or the cursor; a permission (403); the idempotency key (422). Bodies are JSON, at most \
256 KiB.";

/// The spec as served at `/openapi.json`: the generated document plus the answers any
/// route may give (`components.responses.NotFound` and `MethodNotAllowed`, whose schemas
/// come from the same types the service answers with).
pub fn spec_json(service: &OpenApiService<Api, ()>) -> String {
    let generated = service.spec();
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&generated) else {
        return generated;
    };
    let mut registry = Registry::new();
    RouteNotFoundError::register(&mut registry);
    MethodNotAllowedError::register(&mut registry);
    let schemas = serde_json::to_value(&registry.schemas).unwrap_or_default();
    let reference = |t: MetaSchemaRef| match t {
        MetaSchemaRef::Reference(name) => format!("#/components/schemas/{name}"),
        MetaSchemaRef::Inline(_) => String::new(),
    };
    let responses = serde_json::json!({
        "NotFound": {
            "description": "No such route (any path not in this document).",
            "content": { "application/json; charset=utf-8": {
                "schema": { "$ref": reference(RouteNotFoundError::schema_ref()) } } }
        },
        "MethodNotAllowed": {
            "description": "A known route with another method; `Allow` lists the methods.",
            "headers": { "Allow": { "required": true, "schema": { "type": "string" } } },
            "content": { "application/json; charset=utf-8": {
                "schema": { "$ref": reference(MethodNotAllowedError::schema_ref()) } } }
        }
    });
    if let Some(components) = doc.get_mut("components").and_then(|c| c.as_object_mut()) {
        if let (Some(all), Some(new)) = (
            components
                .entry("schemas")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut(),
            schemas.as_object(),
        ) {
            for (k, v) in new {
                all.insert(k.clone(), v.clone());
            }
        }
        components.insert("responses".into(), responses);
    }
    serde_json::to_string_pretty(&doc).unwrap_or(generated)
}

//! Health: `/ping` (the process serves HTTP) and `/ping_db` (the database answers).

use super::ApiTags;
use crate::http::errors::{from_app_error, InternalError, UnavailableError};
use messenger_domain::ChatId;
use messenger_ports::{AppError, Messenger};
use poem_openapi::{payload::Json, ApiResponse, OpenApi};

/// The health routes.
pub struct HealthApi {
    messenger: Messenger,
}

impl HealthApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
}

/// Answers of `GET /ping`.
#[derive(ApiResponse)]
pub enum PingResponse {
    /// The process serves HTTP (no body).
    #[oai(status = 200)]
    Ok,
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}

/// Answers of `GET /ping_db`.
#[derive(ApiResponse)]
pub enum PingDbResponse {
    /// The database answered a trivial query (no body).
    #[oai(status = 200)]
    Ok,
    /// The database is down or did not answer in time.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(PingDbResponse: ServiceUnavailable(UnavailableError));

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: 200 whenever the process serves HTTP, whatever the database's state.
    #[oai(path = "/ping", method = "get", operation_id = "ping")]
    async fn ping(&self) -> PingResponse {
        PingResponse::Ok
    }

    /// Database health: 200 when the database answers a trivial query, 503 otherwise.
    #[oai(path = "/ping_db", method = "get", operation_id = "ping_db")]
    async fn ping_db(&self) -> PingDbResponse {
        // The trivial query: read a chat that never exists (id 0 is never generated). Any
        // repository answers it from its store, under the request's deadline.
        match self
            .messenger
            .ports()
            .chats
            .chat(ChatId::from_u128(0))
            .await
        {
            Ok(_) => PingDbResponse::Ok,
            Err(e) => AppError::from(e).into(),
        }
    }
}

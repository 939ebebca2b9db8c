//! Health: `/ping` (the process serves HTTP) and `/ping_db` (the database answers).

use super::ApiTags;
use crate::http::answers::api_response;
use messenger_ports::Messenger;
use poem_openapi::OpenApi;

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

api_response! {
    /// Answers of `GET /ping`.
    pub enum PingResponse {
        /// The process serves HTTP (no body).
        #[oai(status = 200)]
        Ok,
    }
    errors {}
}

api_response! {
    /// Answers of `GET /ping_db`.
    pub enum PingDbResponse {
        /// The database answered a trivial query (no body).
        #[oai(status = 200)]
        Ok,
    }
    errors {}
    unavailable = "The database is down or did not answer in time.";
}

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
        match self.messenger.check_store().await {
            Ok(()) => PingDbResponse::Ok,
            Err(e) => e.into(),
        }
    }
}

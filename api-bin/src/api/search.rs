//! Search: start a task, read its status, read its results.

use super::{types::DateTime, types::Text, ApiTags, Next};
use crate::http::{
    errors::{
        from_app_error, AuthError, BadParametersError, InternalError, RateLimitedError,
        ResultsBadRequestError, TaskNotFoundError, UnavailableError,
    },
    payload::{Hex, NextView, Rfc3339, SerdeJson},
    security::Session,
};
use messenger_domain::{Limit, SearchHit, SearchQuery, TaskStatus};
use messenger_ports::{HitsPage, Messenger};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Enum, Object, OpenApi,
};
use serde::{ser::SerializeStruct, Serialize, Serializer};

/// The search routes.
pub struct SearchApi {
    messenger: Messenger,
}

impl SearchApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
}

/// A search to run.
#[derive(Object)]
pub struct NewSearch {
    /// The query: 4–1000 characters after trimming. Words must all appear as whole words
    /// (any order, case-insensitive); a "quoted phrase" must appear as those words in a row.
    #[oai(validator(min_length = 4))]
    pub message: Text,
}

/// A queued search task.
#[derive(Object)]
pub struct TaskCreated {
    /// The task's id.
    pub task_id: String,
}

/// Where a search task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatusName {
    /// Queued.
    Waiting,
    /// Running.
    InProcess,
    /// Done: results are readable.
    Success,
    /// Failed.
    Failed,
}

impl From<TaskStatus> for TaskStatusName {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Waiting => Self::Waiting,
            TaskStatus::InProcess => Self::InProcess,
            TaskStatus::Success => Self::Success,
            TaskStatus::Failed => Self::Failed,
        }
    }
}

/// A task's status.
#[derive(Object)]
pub struct TaskStatusBody {
    /// The status.
    pub status: TaskStatusName,
}

/// A message found by a search.
#[derive(Object)]
#[oai(rename = "SearchHit")]
pub struct SearchHitSchema {
    /// The text.
    pub text: String,
    /// Its chat.
    pub chat_id: String,
    /// The message's id.
    pub message_id: String,
    /// The poster's display name.
    pub user_name: String,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: DateTime,
}

/// A page of a task's results, newest first.
#[derive(Object)]
#[oai(rename = "SearchResultsPage")]
pub struct HitsPageSchema {
    /// The hits.
    pub messages: Vec<SearchHitSchema>,
    /// Where to continue (an empty page follows the last).
    pub next: Next,
}

/// Answers of `POST /v1/chats/search`.
#[derive(ApiResponse)]
pub enum StartSearchResponse {
    /// Queued: the task will run.
    #[oai(status = 201)]
    Created(Json<TaskCreated>),
    /// Bad input (also a query with no words).
    #[oai(status = 400)]
    BadRequest(Json<BadParametersError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The task could not be queued (no task exists), or search is switched off.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(StartSearchResponse:
    BadRequest(BadParametersError),
    Unauthorized(AuthError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// Answers of `GET /v1/chats/search/status/{task_id}`.
#[derive(ApiResponse)]
pub enum SearchStatusResponse {
    /// The task's status.
    #[oai(status = 200)]
    Ok(Json<TaskStatusBody>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// Unknown, expired, or another account's task.
    #[oai(status = 404)]
    NotFound(Json<TaskNotFoundError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The task store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(SearchStatusResponse:
    Unauthorized(AuthError),
    NotFound(TaskNotFoundError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// Answers of `GET /v1/chats/search/{task_id}/messages`.
#[derive(ApiResponse)]
pub enum SearchResultsResponse {
    /// A page of hits, newest first.
    #[oai(status = 200)]
    Ok(SerdeJson<HitsPageSchema, HitsView>),
    /// Bad input, a bad cursor, or the task is not done or failed.
    #[oai(status = 400)]
    BadRequest(Json<ResultsBadRequestError>),
    /// No valid session.
    #[oai(status = 401)]
    Unauthorized(Json<AuthError>),
    /// Unknown, expired, or another account's task.
    #[oai(status = 404)]
    NotFound(Json<TaskNotFoundError>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(
        Json<RateLimitedError>,
        /// Seconds until a retry can succeed.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// The task store is unavailable.
    #[oai(status = 503)]
    ServiceUnavailable(Json<UnavailableError>),
    /// Something unexpected happened.
    #[oai(status = 500)]
    InternalError(Json<InternalError>),
}
from_app_error!(SearchResultsResponse:
    BadRequest(ResultsBadRequestError),
    Unauthorized(AuthError),
    NotFound(TaskNotFoundError),
    TooManyRequests(retry),
    ServiceUnavailable(UnavailableError),
);

/// A page of hits as written on the wire (see [`HitsPageSchema`]).
pub struct HitsView(HitsPage);

impl HitsView {
    fn size_hint(&self) -> usize {
        self.0
            .hits
            .iter()
            .map(|h| h.text.len() + h.user_name.len() + 160)
            .sum::<usize>()
            + 80
    }
}

impl Serialize for HitsView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("SearchResultsPage", 2)?;
        st.serialize_field("messages", &HitsSeq(&self.0.hits))?;
        st.serialize_field("next", &NextView(&self.0.next))?;
        st.end()
    }
}

struct HitsSeq<'a>(&'a [SearchHit]);

impl Serialize for HitsSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(HitView))
    }
}

struct HitView<'a>(&'a SearchHit);

impl Serialize for HitView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut st = s.serialize_struct("SearchHit", 5)?;
        st.serialize_field("text", &h.text)?;
        st.serialize_field("chat_id", &Hex(h.chat_id.as_u128()))?;
        st.serialize_field("message_id", &Hex(h.message_id.as_u128()))?;
        st.serialize_field("user_name", &h.user_name)?;
        st.serialize_field("created_at", &Rfc3339(h.created_at))?;
        st.end()
    }
}

#[OpenApi(tag = "ApiTags::Search")]
impl SearchApi {
    /// Starts a search over the chats the caller created or joined (as of when it runs).
    /// The search runs asynchronously; poll its status, then read its results.
    #[oai(
        path = "/v1/chats/search",
        method = "post",
        operation_id = "start_search"
    )]
    async fn start_search(&self, session: Session, body: Json<NewSearch>) -> StartSearchResponse {
        let run = async {
            let query = SearchQuery::parse(&body.0.message.0)?;
            self.messenger.start_search(&session.0, query).await
        };
        match run.await {
            Ok(id) => StartSearchResponse::Created(Json(TaskCreated {
                task_id: id.to_string(),
            })),
            Err(e) => e.into(),
        }
    }

    /// The status of one of the caller's search tasks.
    #[oai(
        path = "/v1/chats/search/status/:task_id",
        method = "get",
        operation_id = "search_status"
    )]
    async fn search_status(
        &self,
        session: Session,
        /// The task's id.
        task_id: Path<String>,
    ) -> SearchStatusResponse {
        match self.messenger.search_status(&session.0, &task_id).await {
            Ok(status) => SearchStatusResponse::Ok(Json(TaskStatusBody {
                status: status.into(),
            })),
            Err(e) => e.into(),
        }
    }

    /// A page of a finished task's hits, newest first (at most 1,000 hits per task).
    #[oai(
        path = "/v1/chats/search/:task_id/messages",
        method = "get",
        operation_id = "search_results"
    )]
    async fn search_results(
        &self,
        session: Session,
        /// The task's id.
        task_id: Path<String>,
        /// Page size: 1–100.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<i64>,
        /// Where to continue: a `next.iterator` of an earlier page of this task.
        from: Query<Option<String>>,
    ) -> SearchResultsResponse {
        let run = async {
            let limit = Limit::search_hits(limit.0)?;
            self.messenger
                .search_results(&session.0, &task_id, from.0.as_deref(), limit)
                .await
        };
        match run.await {
            Ok(page) => {
                let view = HitsView(page);
                let hint = view.size_hint();
                SearchResultsResponse::Ok(SerdeJson::new(view, hint))
            }
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::payload::render;
    use messenger_domain::{ChatId, MessageId, Timestamp};
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;

    #[test]
    fn a_page_of_hits_is_written_exactly_and_parses_as_its_schema() {
        let view = HitsView(HitsPage {
            hits: vec![SearchHit {
                message_id: MessageId::from_u128(1),
                chat_id: ChatId::from_u128(2),
                text: "hello world".into(),
                user_name: "bob".into(),
                created_at: Timestamp::from_micros(0),
            }],
            next: "x".into(),
        });
        let v: serde_json::Value = serde_json::from_slice(&render(&view, 0).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "messages": [{
                    "text": "hello world",
                    "chat_id": "00000000000000000000000000000002",
                    "message_id": "00000000000000000000000000000001",
                    "user_name": "bob",
                    "created_at": "1970-01-01T00:00:00.000000Z",
                }],
                "next": { "iterator": "x" },
            })
        );
        assert!(HitsPageSchema::parse_from_json(Some(v)).is_ok());
    }
}

//! Search: start a task, read its status, read its results.

use super::{pages::PageView, types::DateTime, types::Text, ApiTags, Next};
use crate::http::{answers::api_response, payload::SerdeJson, security::Session};
use messenger_domain::{CursorParam, Error, Limit, SearchQuery, TaskId, TaskStatus};
use messenger_ports::{HitsPage, Messenger};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Enum, Object, OpenApi,
};

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

api_response! {
    /// Answers of `POST /v1/chats/search`.
    pub enum StartSearchResponse {
        /// Queued: the task will run.
        #[oai(status = 201)]
        Created(Json<TaskCreated>),
    }
    errors {
        /// Bad input (also a query with no words).
        #[oai(status = 400)]
        BadRequest(BadParametersError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The task could not be queued (no task exists), or search is switched off.";
}

api_response! {
    /// Answers of `GET /v1/chats/search/status/{task_id}`.
    pub enum SearchStatusResponse {
        /// The task's status.
        #[oai(status = 200)]
        Ok(Json<TaskStatusBody>),
    }
    errors {
        /// Unknown, expired, or another account's task.
        #[oai(status = 404)]
        NotFound(TaskNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The task store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/chats/search/{task_id}/messages`.
    pub enum SearchResultsResponse {
        /// A page of hits, newest first.
        #[oai(status = 200)]
        Ok(SerdeJson<HitsPageSchema, PageView<HitsPage>>),
    }
    errors {
        /// Bad input, a bad cursor, or the task is not done or failed.
        #[oai(status = 400)]
        BadRequest(ResultsBadRequestError),
        /// Unknown, expired, or another account's task.
        #[oai(status = 404)]
        NotFound(TaskNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The task store is unavailable.";
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
        let status = match TaskId::parse(&task_id) {
            Some(id) => self.messenger.search_status(&session.0, id).await,
            None => Err(Error::TaskNotFound.into()),
        };
        match status {
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
            let task_id = TaskId::parse(&task_id).ok_or(Error::TaskNotFound)?;
            // Only the cursor's syntax here: its scope is checked after the task's.
            let from = CursorParam::parse(from.0.as_deref());
            self.messenger
                .search_results(&session.0, task_id, from, limit)
                .await
        };
        match run.await {
            Ok(page) => SearchResultsResponse::Ok(PageView(page).into_answer()),
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::payload::render;
    use messenger_domain::{ChatId, Cursor, CursorScope, MessageId, SearchHit, Timestamp};
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;

    #[test]
    fn a_page_of_hits_is_written_exactly_and_parses_as_its_schema() {
        let next = Cursor::new(CursorScope::Task(TaskId::from_u128(3)), 1);
        let view = PageView(HitsPage {
            hits: vec![SearchHit {
                message_id: MessageId::from_u128(1),
                chat_id: ChatId::from_u128(2),
                text: "hello world".into(),
                user_name: "bob".into(),
                created_at: Timestamp::from_micros(0),
            }],
            next,
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
                "next": { "iterator": next.encode() },
            })
        );
        assert!(HitsPageSchema::parse_from_json(Some(v)).is_ok());
    }
}

//! Search: start a task, read its status and results, and run it (for the worker).

use super::Messenger;
use crate::{AppError, SearchScope};
use messenger_domain::{
    Caller, Cursor, CursorParam, CursorScope, Error, Limit, SearchHit, SearchQuery, SearchTask,
    TaskId, TaskStatus,
};

/// A page of a search task's hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitsPage {
    /// Newest first.
    pub hits: Vec<SearchHit>,
    /// The cursor to continue from; at the end, the same position (an empty page next).
    pub next: Cursor,
}

/// How a run of a task ended (for the worker's decision to ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Results stored, status `SUCCESS`.
    Completed,
    /// Already `SUCCESS` or `FAILED` (a redelivery): nothing done.
    AlreadyFinal,
    /// The task record is gone (expired or deleted), or another run finished it first (a
    /// stale worker's late completion is refused): nothing to do.
    Gone,
}

impl Messenger {
    /// Queues a search for the caller. A task id is returned only for a task that will run.
    ///
    /// # Errors
    /// Unavailable when search is off, or the task cannot be stored or queued (then no task
    /// exists).
    pub async fn start_search(
        &self,
        caller: &Caller,
        query: SearchQuery,
    ) -> Result<TaskId, AppError> {
        if !self.settings.search_enabled {
            return Err(AppError::Unavailable("search is switched off".into()));
        }
        let task = SearchTask {
            id: TaskId::from_u128(self.ports.ids.new_id()),
            account_id: caller.account_id,
            query,
            all_chats: self.settings.legacy_mode,
            status: TaskStatus::Waiting,
            created_at: self.ports.clock.now(),
        };
        let store = &self.ports.task_store;
        store.insert_task(&task, self.settings.task_ttl).await?;
        // The publish takes what is left of the request's budget; the clean-up runs outside
        // it, or a publish that spent it all would leave a task that never runs.
        if let Err(e) = self.ports.task_queue.publish(task.id).await {
            if let Err(del) = crate::Budget::outside(store.delete_task(task.id)).await {
                tracing::warn!(error = %del, "could not delete an unqueued task");
            }
            return Err(e.into());
        }
        Ok(task.id)
    }

    /// The caller's task, or `task-not-found`.
    async fn own_task(&self, caller: &Caller, id: TaskId) -> Result<SearchTask, AppError> {
        if !self.settings.search_enabled {
            return Err(Error::TaskNotFound.into());
        }
        self.ports
            .task_store
            .task(id)
            .await?
            .filter(|t| t.account_id == caller.account_id)
            .ok_or_else(|| Error::TaskNotFound.into())
    }

    /// The status of the caller's task.
    ///
    /// # Errors
    /// `task-not-found` (unknown, expired, another account's, or search off), unavailable.
    pub async fn search_status(
        &self,
        caller: &Caller,
        task_id: TaskId,
    ) -> Result<TaskStatus, AppError> {
        Ok(self.own_task(caller, task_id).await?.status)
    }

    /// A page of the caller's finished task's hits, newest first.
    ///
    /// # Errors
    /// `task-not-found`, `task-not-complete`, `task-failed`, `bad-cursor`, unavailable.
    pub async fn search_results(
        &self,
        caller: &Caller,
        task_id: TaskId,
        from: CursorParam,
        limit: Limit,
    ) -> Result<HitsPage, AppError> {
        let task = self.own_task(caller, task_id).await?;
        match task.status {
            TaskStatus::Waiting | TaskStatus::InProcess => {
                return Err(Error::TaskNotComplete.into())
            }
            TaskStatus::Failed => return Err(Error::TaskFailed.into()),
            TaskStatus::Success => {}
        }
        let scope = CursorScope::Task(task.id);
        let offset = from.in_scope(scope)?.position();
        let slice = self
            .ports
            .task_store
            .hits(task.id, offset, limit.get())
            .await?
            .ok_or(Error::TaskNotFound)?;
        if offset > slice.total {
            return Err(Error::BadCursor.into());
        }
        let next = offset + slice.hits.len() as u64;
        Ok(HitsPage {
            hits: slice.hits,
            next: Cursor::new(scope, next),
        })
    }

    /// Runs a task: marks it `IN_PROCESS`, searches the chats its account may read as of
    /// now, stores the hits and `SUCCESS`. Safe to run again for the same task (a
    /// redelivery finds it final and does nothing).
    ///
    /// # Errors
    /// A store or search failure; the caller decides whether to retry or give up (see
    /// [`Messenger::fail_search_task`]).
    pub async fn run_search_task(&self, id: TaskId) -> Result<RunOutcome, AppError> {
        let store = &self.ports.task_store;
        let ttl = self.settings.task_ttl;
        let Some(task) = store.task(id).await? else {
            return Ok(RunOutcome::Gone);
        };
        if task.status.is_final() {
            return Ok(RunOutcome::AlreadyFinal);
        }
        if task.status != TaskStatus::InProcess
            && !store.set_status(id, TaskStatus::InProcess, ttl).await?
        {
            return Ok(RunOutcome::Gone);
        }
        let scope = if task.all_chats {
            SearchScope::AllChats
        } else {
            SearchScope::ChatsOf(task.account_id)
        };
        let hits = self
            .ports
            .search
            .search(scope, &task.query, self.settings.search_hit_cap)
            .await?;
        if store.complete(id, &hits, ttl).await? {
            Ok(RunOutcome::Completed)
        } else {
            Ok(RunOutcome::Gone)
        }
    }

    /// Whether the task store answers: a read of a task that never exists (id 0 is never
    /// generated).
    ///
    /// # Errors
    /// Unavailable when the store does not answer.
    pub async fn check_task_store(&self) -> Result<(), AppError> {
        self.ports.task_store.task(TaskId::from_u128(0)).await?;
        Ok(())
    }

    /// Sets a `FAILED` task back to `WAITING`, to run again (an operator requeues its dead
    /// letter); answers whether it was `FAILED` and still kept. Any other task is left as
    /// it is.
    ///
    /// # Errors
    /// The store's.
    pub async fn revive_search_task(&self, id: TaskId) -> Result<bool, AppError> {
        let store = &self.ports.task_store;
        match store.task(id).await? {
            Some(task) if task.status == TaskStatus::Failed => Ok(store
                .set_status(id, TaskStatus::Waiting, self.settings.task_ttl)
                .await?),
            _ => Ok(false),
        }
    }

    /// Marks a task `FAILED` (after its last attempt, or when its message was
    /// dead-lettered); a task already `SUCCESS` stays so, and a gone one is fine.
    ///
    /// # Errors
    /// The store's.
    pub async fn fail_search_task(&self, id: TaskId) -> Result<(), AppError> {
        self.ports
            .task_store
            .set_status(id, TaskStatus::Failed, self.settings.task_ttl)
            .await?;
        Ok(())
    }
}

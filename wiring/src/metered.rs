//! Port decorators that count what the API's `/metrics` page reports beyond requests (the
//! recorder is [`crate::metrics`]'s): cache hits
//! and misses, search tasks by status, and queue publishes that failed. Each wraps an
//! `Arc<dyn Port>` chosen by the wiring and forwards every call unchanged, so the adapters
//! and the use cases know nothing about metrics. Handles are registered when a decorator
//! is built, so a call costs one atomic addition.

use crate::metrics::{CACHE_LOOKUPS, QUEUE_PUBLISHES, SEARCH_TASKS};
use async_trait::async_trait;
use messenger_domain::{Message, SearchHit, SearchTask, Session, TaskId, TaskStatus, TokenHash};
use messenger_ports::{
    HitsSlice, PageCache, PageKey, PortResult, SessionCache, TaskQueue, TaskStore,
};
use metrics::Counter;
use std::sync::Arc;
use std::time::Duration;

/// How often the pool gauges are refreshed.
#[cfg(feature = "postgres")]
const POOL_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Keeps the PostgreSQL pool gauges current while `store` lives (a task holding only a
/// weak reference, so it ends with the app).
#[cfg(feature = "postgres")]
pub(crate) fn watch_pool(store: &Arc<messenger_postgres::PgStore>) {
    use crate::metrics::DB_POOL;
    crate::metrics::install();
    let store = Arc::downgrade(store);
    let in_use = metrics::gauge!(DB_POOL, "state" => "in_use");
    let idle = metrics::gauge!(DB_POOL, "state" => "idle");
    let waiting = metrics::gauge!(DB_POOL, "state" => "waiting");
    tokio::spawn(async move {
        while let Some(s) = store.upgrade().map(|s| s.pool_status()) {
            in_use.set(s.in_use as f64);
            idle.set(s.idle as f64);
            waiting.set(s.waiting as f64);
            tokio::time::sleep(POOL_SAMPLE_EVERY).await;
        }
    });
}

/// Hit, miss and error counters of one cache.
struct Lookups {
    hit: Counter,
    miss: Counter,
    error: Counter,
}

impl Lookups {
    fn new(cache: &'static str) -> Self {
        crate::metrics::install();
        let c = |result: &'static str| metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result);
        Self {
            hit: c("hit"),
            miss: c("miss"),
            error: c("error"),
        }
    }

    fn count<T>(&self, found: &PortResult<Option<T>>) {
        match found {
            Ok(Some(_)) => self.hit.increment(1),
            Ok(None) => self.miss.increment(1),
            Err(_) => self.error.increment(1),
        }
    }
}

/// Counts the page cache's hits and misses.
pub(crate) fn page_cache(inner: Arc<dyn PageCache>) -> Arc<dyn PageCache> {
    Arc::new(MeteredPageCache {
        inner,
        lookups: Lookups::new("page"),
    })
}

struct MeteredPageCache {
    inner: Arc<dyn PageCache>,
    lookups: Lookups,
}

#[async_trait]
impl PageCache for MeteredPageCache {
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>> {
        let found = self.inner.get(key).await;
        self.lookups.count(&found);
        found
    }

    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()> {
        self.inner.put(key, page).await
    }
}

/// Counts the session cache's hits and misses.
pub(crate) fn session_cache(inner: Arc<dyn SessionCache>) -> Arc<dyn SessionCache> {
    Arc::new(MeteredSessionCache {
        inner,
        lookups: Lookups::new("session"),
    })
}

struct MeteredSessionCache {
    inner: Arc<dyn SessionCache>,
    lookups: Lookups,
}

#[async_trait]
impl SessionCache for MeteredSessionCache {
    async fn get(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        let found = self.inner.get(token_hash).await;
        self.lookups.count(&found);
        found
    }

    async fn put(&self, session: &Session, ttl: Duration) -> PortResult<()> {
        self.inner.put(session, ttl).await
    }

    async fn remove(&self, token_hash: &TokenHash) -> PortResult<()> {
        self.inner.remove(token_hash).await
    }
}

/// Counts publishes, and the ones that failed (the client then got 503).
pub(crate) fn task_queue(inner: Arc<dyn TaskQueue>) -> Arc<dyn TaskQueue> {
    crate::metrics::install();
    Arc::new(MeteredQueue {
        inner,
        ok: metrics::counter!(QUEUE_PUBLISHES, "result" => "ok"),
        failed: metrics::counter!(QUEUE_PUBLISHES, "result" => "failed"),
    })
}

struct MeteredQueue {
    inner: Arc<dyn TaskQueue>,
    ok: Counter,
    failed: Counter,
}

#[async_trait]
impl TaskQueue for MeteredQueue {
    async fn publish(&self, task: TaskId) -> PortResult<()> {
        let published = self.inner.publish(task).await;
        match &published {
            Ok(()) => self.ok.increment(1),
            Err(_) => self.failed.increment(1),
        }
        published
    }
}

/// Counts the tasks entering each status through this process's store: WAITING when the
/// API creates one, IN_PROCESS, SUCCESS or FAILED where a worker runs it.
pub(crate) fn task_store(inner: Arc<dyn TaskStore>) -> Arc<dyn TaskStore> {
    crate::metrics::install();
    let c = |status: &'static str| metrics::counter!(SEARCH_TASKS, "status" => status);
    Arc::new(MeteredTaskStore {
        inner,
        waiting: c("WAITING"),
        in_process: c("IN_PROCESS"),
        success: c("SUCCESS"),
        failed: c("FAILED"),
    })
}

struct MeteredTaskStore {
    inner: Arc<dyn TaskStore>,
    waiting: Counter,
    in_process: Counter,
    success: Counter,
    failed: Counter,
}

impl MeteredTaskStore {
    fn entered(&self, status: TaskStatus) {
        match status {
            TaskStatus::Waiting => self.waiting.increment(1),
            TaskStatus::InProcess => self.in_process.increment(1),
            TaskStatus::Success => self.success.increment(1),
            TaskStatus::Failed => self.failed.increment(1),
        }
    }
}

#[async_trait]
impl TaskStore for MeteredTaskStore {
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()> {
        self.inner.insert_task(task, ttl).await?;
        self.entered(task.status);
        Ok(())
    }

    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>> {
        self.inner.task(id).await
    }

    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool> {
        let changed = self.inner.set_status(id, status, ttl).await?;
        if changed {
            self.entered(status);
        }
        Ok(changed)
    }

    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool> {
        let changed = self.inner.complete(id, hits, ttl).await?;
        if changed {
            self.entered(TaskStatus::Success);
        }
        Ok(changed)
    }

    async fn hits(&self, id: TaskId, offset: u64, limit: u32) -> PortResult<Option<HitsSlice>> {
        self.inner.hits(id, offset, limit).await
    }

    async fn delete_task(&self, id: TaskId) -> PortResult<()> {
        self.inner.delete_task(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::{AccountId, ChatId, MemberId, MessageId, Timestamp};
    use messenger_memory::{memory_task_queue, ManualClock, MemoryPageCache, MemoryTaskStore};
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

    /// Builds decorators against a recorder of the test's own (the process-wide one is
    /// shared by every test).
    fn local<T>(build: impl FnOnce() -> T) -> (T, PrometheusHandle) {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        (metrics::with_local_recorder(&recorder, build), handle)
    }

    fn line(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    #[tokio::test]
    async fn page_cache_hits_and_misses() {
        let (cache, handle) = local(|| page_cache(Arc::new(MemoryPageCache::new(1000))));
        let chat = ChatId::from_bytes([7; 16]);
        let key = PageKey {
            chat,
            after: 0,
            limit: 2,
        };
        let message = |seq: u64| Message {
            id: MessageId::from_bytes([u8::try_from(seq).unwrap(); 16]),
            chat_id: chat,
            seq,
            user_id: MemberId::from_bytes([9; 16]),
            user_name: "someone".into(),
            text: format!("message {seq}"),
            created_at: Timestamp::from_micros(1_000_000),
        };
        assert!(cache.get(&key).await.unwrap().is_none());
        cache
            .put(&key, Arc::new(vec![message(1), message(2)]))
            .await
            .unwrap();
        assert_eq!(cache.get(&key).await.unwrap().unwrap().len(), 2);
        assert_eq!(cache.get(&key).await.unwrap().unwrap().len(), 2);

        let text = handle.render();
        let series =
            |result: &str| format!("{CACHE_LOOKUPS}{{cache=\"page\",result=\"{result}\"}}");
        assert_eq!(line(&text, &series("hit")), Some(2), "{text}");
        assert_eq!(line(&text, &series("miss")), Some(1), "{text}");
        assert_eq!(line(&text, &series("error")), Some(0), "{text}");
    }

    #[tokio::test]
    async fn search_tasks_by_status_and_failed_publishes() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_micros(1_000_000)));
        let (queue, _consumer) = memory_task_queue(1);
        let ((queue, store), handle) = local(|| {
            (
                task_queue(Arc::new(queue)),
                task_store(Arc::new(MemoryTaskStore::new(clock))),
            )
        });
        let ttl = Duration::from_secs(60);
        let task = SearchTask {
            id: TaskId::from_bytes([1; 16]),
            account_id: AccountId::from_bytes([2; 16]),
            query: messenger_domain::SearchQuery::parse("word").unwrap(),
            all_chats: false,
            status: TaskStatus::Waiting,
            created_at: Timestamp::from_micros(1_000_000),
        };
        store.insert_task(&task, ttl).await.unwrap();
        assert!(store
            .set_status(task.id, TaskStatus::InProcess, ttl)
            .await
            .unwrap());
        assert!(store.complete(task.id, &[], ttl).await.unwrap());
        // A task that is gone changes nothing and counts nothing.
        let gone = TaskId::from_bytes([3; 16]);
        assert!(!store
            .set_status(gone, TaskStatus::Failed, ttl)
            .await
            .unwrap());

        // The in-memory queue holds one task; the second publish is refused.
        queue.publish(task.id).await.unwrap();
        assert!(queue.publish(gone).await.is_err());

        let text = handle.render();
        let status = |s: &str| line(&text, &format!("{SEARCH_TASKS}{{status=\"{s}\"}}"));
        assert_eq!(status("WAITING"), Some(1), "{text}");
        assert_eq!(status("IN_PROCESS"), Some(1), "{text}");
        assert_eq!(status("SUCCESS"), Some(1), "{text}");
        assert_eq!(status("FAILED"), Some(0), "{text}");
        let publishes = |r: &str| line(&text, &format!("{QUEUE_PUBLISHES}{{result=\"{r}\"}}"));
        assert_eq!(publishes("ok"), Some(1), "{text}");
        assert_eq!(publishes("failed"), Some(1), "{text}");
    }
}

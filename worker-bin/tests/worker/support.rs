//! The shared world of the worker tests: one in-memory repository and task store, a
//! messenger per worker with a recording (and scriptable) search, one RabbitMQ queue.

use async_trait::async_trait;
use messenger_domain::{
    Caller, ChatName, DisplayName, IdParam, MessageText, Password, SearchHit, SearchQuery,
    SearchTask, TaskId, TaskStatus, UserName,
};
use messenger_memory::{
    GcraLimiter, MemoryAttempts, MemoryEventBus, MemorySessionCache, MemoryStore, MemoryTaskStore,
    PlainHasher, RandomIds, SystemClock,
};
use messenger_ports::{
    HitsSlice, MessageSearch, Messenger, PortError, PortResult, Ports, SearchScope, Settings,
    TaskStore,
};
use messenger_rabbitmq::{AmqpConfig, AmqpTaskConsumer, AmqpTaskQueue};
use messenger_worker::WorkerOptions;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio::sync::Notify;

/// Holds the first search that passes it until released (`arm` first).
#[derive(Default)]
pub struct Gate {
    armed: AtomicBool,
    pub entered: Notify,
    pub release: Notify,
}

impl Gate {
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    pub async fn pass(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
    }
}

/// The memory store's search, recording which worker ran which query; a query with the
/// word "explode" always fails.
pub struct ScriptedSearch {
    inner: Arc<MemoryStore>,
    worker: usize,
    runs: Arc<Mutex<Vec<(usize, String)>>>,
    gate: Arc<Gate>,
    delay: Duration,
}

#[async_trait]
impl MessageSearch for ScriptedSearch {
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>> {
        self.runs
            .lock()
            .unwrap()
            .push((self.worker, query.as_str().to_owned()));
        if query.as_str().contains("explode") {
            return Err(PortError::Unavailable("the search backend failed".into()));
        }
        self.gate.pass().await;
        if !self.delay.is_zero() {
            // A search that takes a while, as a real one does.
            tokio::time::sleep(self.delay).await;
        }
        self.inner.search(scope, query, cap).await
    }
}

/// The memory task store, counting completions that found their task.
pub struct CountingTaskStore {
    pub inner: MemoryTaskStore,
    pub completed: Mutex<HashMap<TaskId, usize>>,
    /// Every completion asked for, refused ones included.
    pub attempted: Mutex<HashMap<TaskId, usize>>,
}

#[async_trait]
impl TaskStore for CountingTaskStore {
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()> {
        self.inner.insert_task(task, ttl).await
    }
    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>> {
        self.inner.task(id).await
    }
    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool> {
        self.inner.set_status(id, status, ttl).await
    }
    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool> {
        *self.attempted.lock().unwrap().entry(id).or_default() += 1;
        let done = self.inner.complete(id, hits, ttl).await?;
        if done {
            *self.completed.lock().unwrap().entry(id).or_default() += 1;
        }
        Ok(done)
    }
    async fn hits(&self, id: TaskId, offset: u64, limit: u32) -> PortResult<Option<HitsSlice>> {
        self.inner.hits(id, offset, limit).await
    }
    async fn delete_task(&self, id: TaskId) -> PortResult<()> {
        self.inner.delete_task(id).await
    }
}

/// One shared repository and task store; a messenger per worker (each with its own
/// recording search), all publishing to one queue.
pub struct World {
    pub cfg: AmqpConfig,
    pub store: Arc<MemoryStore>,
    pub tasks: Arc<CountingTaskStore>,
    pub queue: Arc<AmqpTaskQueue>,
    pub runs: Arc<Mutex<Vec<(usize, String)>>>,
    pub caller: Caller,
    pub search_delay: Duration,
}

impl World {
    pub async fn new(cfg: AmqpConfig) -> World {
        let clock = Arc::new(SystemClock);
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let tasks = Arc::new(CountingTaskStore {
            inner: MemoryTaskStore::new(clock.clone()),
            completed: Mutex::default(),
            attempted: Mutex::default(),
        });
        let queue = Arc::new(AmqpTaskQueue::new(cfg.clone()).unwrap());
        let mut world = World {
            cfg,
            store,
            tasks,
            queue,
            runs: Arc::default(),
            search_delay: Duration::ZERO,
            caller: Caller {
                account_id: messenger_domain::AccountId::from_u128(0),
                session: None,
            },
        };
        world.caller = world.seed().await;
        world
    }

    pub fn messenger(&self, worker: usize, gate: Arc<Gate>) -> Messenger {
        let clock = Arc::new(SystemClock);
        let search = Arc::new(ScriptedSearch {
            inner: self.store.clone(),
            worker,
            runs: self.runs.clone(),
            gate,
            delay: self.search_delay,
        });
        let ports = Ports {
            accounts: self.store.clone(),
            sessions: self.store.clone(),
            chats: self.store.clone(),
            members: self.store.clone(),
            messages: self.store.clone(),
            events: self.store.clone(),
            bus: Arc::new(MemoryEventBus::new()),
            search,
            session_cache: Arc::new(MemorySessionCache::new(100, clock.clone())),
            page_cache: None,
            login_attempts: Arc::new(MemoryAttempts::new(clock.clone())),
            register_limiter: Arc::new(GcraLimiter::per_minute(1000, 1000, clock.clone())),
            task_queue: self.queue.clone(),
            task_store: self.tasks.clone(),
            hasher: Arc::new(PlainHasher),
            clock,
            ids: Arc::new(RandomIds),
        };
        Messenger::new(ports, Settings::default())
    }

    /// An account with a chat of ten messages, `hello world 0` … `hello world 9`.
    pub async fn seed(&self) -> Caller {
        let m = self.messenger(usize::MAX, Arc::default());
        let name = UserName::parse("alice").unwrap();
        let pw = Password::parse("pw").unwrap();
        m.register(name.clone(), pw.clone(), "127.0.0.1")
            .await
            .unwrap();
        let token = m.login(name, pw, "127.0.0.1").await.unwrap();
        let caller = m.authenticate(token.as_str()).await.unwrap();
        let chat = m
            .create_chat(&caller, ChatName::parse("room").unwrap())
            .await
            .unwrap();
        let me = m
            .join_chat(&caller, chat, DisplayName::parse("Al").unwrap())
            .await
            .unwrap();
        for i in 0..10 {
            let text = MessageText::parse(format!("hello world {i}")).unwrap();
            m.post_message(&caller, chat, IdParam::Valid(me), text, None)
                .await
                .unwrap();
        }
        caller
    }

    pub async fn search(&self, query: &str) -> TaskId {
        let m = self.messenger(usize::MAX, Arc::default());
        m.start_search(&self.caller, SearchQuery::parse(query).unwrap())
            .await
            .unwrap()
    }

    pub async fn status(&self, id: TaskId) -> TaskStatus {
        self.tasks.task(id).await.unwrap().unwrap().status
    }

    pub async fn all_final(&self, ids: &[TaskId]) -> bool {
        for id in ids {
            if !self.status(*id).await.is_final() {
                return false;
            }
        }
        true
    }

    pub fn completions(&self, id: TaskId) -> usize {
        self.tasks
            .completed
            .lock()
            .unwrap()
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    pub fn completion_attempts(&self, id: TaskId) -> usize {
        self.tasks
            .attempted
            .lock()
            .unwrap()
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    pub fn runs_of(&self, query: &str) -> Vec<usize> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, q)| q == query)
            .map(|(w, _)| *w)
            .collect()
    }

    pub fn consumer(&self) -> Arc<AmqpTaskConsumer> {
        Arc::new(AmqpTaskConsumer::new(self.cfg.clone()).unwrap())
    }
}

pub fn quick_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        drain_timeout: Duration::from_secs(5),
        unavailable_pause: Duration::from_millis(20),
    }
}

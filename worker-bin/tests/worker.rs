//! The worker over a real RabbitMQ (`MESSENGER_TEST_AMQP_URL`; skipped without it), with
//! the in-memory repository and task store standing in for PostgreSQL and Redis (which
//! are not the point here). Each test uses its own queue and deletes it at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    TaskOutcome, TaskStore,
};
use messenger_rabbitmq::{
    queue_depths, testing::*, AmqpConfig, AmqpTaskConsumer, AmqpTaskQueue, QueueDepths,
};
use messenger_worker::{process_one, Step, Worker, WorkerOptions};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::sync::Notify;

/// Holds the first search that passes it until released (`arm` first).
#[derive(Default)]
struct Gate {
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
}

impl Gate {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    async fn pass(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
    }
}

/// The memory store's search, recording which worker ran which query; a query with the
/// word "explode" always fails.
struct ScriptedSearch {
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
struct CountingTaskStore {
    inner: MemoryTaskStore,
    completed: Mutex<HashMap<TaskId, usize>>,
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
struct World {
    cfg: AmqpConfig,
    store: Arc<MemoryStore>,
    tasks: Arc<CountingTaskStore>,
    queue: Arc<AmqpTaskQueue>,
    runs: Arc<Mutex<Vec<(usize, String)>>>,
    caller: Caller,
    search_delay: Duration,
}

impl World {
    async fn new(cfg: AmqpConfig) -> World {
        let clock = Arc::new(SystemClock);
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let tasks = Arc::new(CountingTaskStore {
            inner: MemoryTaskStore::new(clock.clone()),
            completed: Mutex::default(),
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

    fn messenger(&self, worker: usize, gate: Arc<Gate>) -> Messenger {
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
    async fn seed(&self) -> Caller {
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

    async fn search(&self, query: &str) -> TaskId {
        let m = self.messenger(usize::MAX, Arc::default());
        m.start_search(&self.caller, SearchQuery::parse(query).unwrap())
            .await
            .unwrap()
    }

    async fn status(&self, id: TaskId) -> TaskStatus {
        self.tasks.task(id).await.unwrap().unwrap().status
    }

    async fn all_final(&self, ids: &[TaskId]) -> bool {
        for id in ids {
            if !self.status(*id).await.is_final() {
                return false;
            }
        }
        true
    }

    fn completions(&self, id: TaskId) -> usize {
        self.tasks
            .completed
            .lock()
            .unwrap()
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    fn runs_of(&self, query: &str) -> Vec<usize> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, q)| q == query)
            .map(|(w, _)| *w)
            .collect()
    }

    fn consumer(&self) -> Arc<AmqpTaskConsumer> {
        Arc::new(AmqpTaskConsumer::new(self.cfg.clone()).unwrap())
    }
}

fn quick_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        drain_timeout: Duration::from_secs(5),
        unavailable_pause: Duration::from_millis(20),
    }
}

#[tokio::test]
async fn process_one_runs_a_queued_search_end_to_end() {
    let Some(url) = amqp_url("process_one_runs_a_queued_search_end_to_end") else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg).await;
    let id = w.search("world 7").await;
    assert_eq!(w.status(id).await, TaskStatus::Waiting);
    let m = w.messenger(0, Arc::default());
    let consumer = w.consumer();
    let step = process_one(&m, &*consumer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(step, Step::Done(TaskOutcome::Processed));
    assert_eq!(w.status(id).await, TaskStatus::Success);
    let hits = w.tasks.hits(id, 0, 100).await.unwrap().unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].text, "hello world 7");
    assert_eq!(
        process_one(&m, &*consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Empty
    );
    consumer.close().await;
    assert_eq!(
        process_one(&m, &*consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Closed
    );
}

#[tokio::test]
async fn poison_messages_end_in_the_dead_letter_queue_while_the_rest_run() {
    let Some(url) = amqp_url("poison_messages_end_in_the_dead_letter_queue_while_the_rest_run")
    else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    w.queue.publish_raw(b"this is not a task id").await.unwrap();
    let failing = w.search("explode").await;
    let mut good = Vec::new();
    for i in 0..10 {
        good.push(w.search(&format!("world {i}")).await);
    }
    let worker = Worker::new(
        w.messenger(0, Arc::default()),
        w.consumer(),
        quick_options(4),
    );
    let mut all = good.clone();
    all.push(failing);
    let w = Arc::new(w);
    let done = {
        let w = w.clone();
        async move {
            eventually(Duration::from_secs(15), || async {
                w.all_final(&all).await.then_some(())
            })
            .await;
        }
    };
    assert!(worker.run(done).await, "drained");
    for id in &good {
        assert_eq!(w.status(*id).await, TaskStatus::Success);
        assert_eq!(w.completions(*id), 1);
    }
    assert_eq!(w.status(failing).await, TaskStatus::Failed);
    // Tried exactly as often as allowed, then given up: no hot loop.
    assert_eq!(
        w.runs_of("explode").len(),
        Settings::default().task_max_attempts as usize
    );
    let depths = eventually(Duration::from_secs(5), || async {
        let d = queue_depths(&cfg).await.unwrap();
        (d == QueueDepths { ready: 0, dead: 2 }).then_some(d)
    })
    .await;
    assert!(
        depths.is_some(),
        "the malformed message and the failed task are dead-lettered: {:?}",
        queue_depths(&cfg).await
    );
}

#[tokio::test]
async fn a_worker_killed_mid_task_leaves_it_to_another_which_finishes_it_once() {
    let Some(url) =
        amqp_url("a_worker_killed_mid_task_leaves_it_to_another_which_finishes_it_once")
    else {
        return;
    };
    let cfg = unique_config(&url);
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    let id = w.search("world 3").await;

    // Worker A reaches the broker through a proxy, and hangs inside the search.
    let proxy = Proxy::start(broker_addr(&cfg)).await.unwrap();
    let gate = Arc::new(Gate::default());
    gate.arm();
    let a = w.messenger(1, gate.clone());
    let a_consumer = Arc::new(AmqpTaskConsumer::new(via(&cfg, proxy.addr)).unwrap());
    let entered = gate.entered.notified();
    let a_task = {
        let c = a_consumer.clone();
        tokio::spawn(async move { process_one(&a, &*c, Duration::from_secs(5)).await })
    };
    tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("worker A started the task");
    assert_eq!(w.status(id).await, TaskStatus::InProcess);

    // A dies: its connection drops without an ack, its work is lost.
    proxy.cut();
    a_task.abort();

    // Worker B gets the task again and finishes it.
    let b = w.messenger(2, Arc::default());
    let b_consumer = w.consumer();
    let step = process_one(&b, &*b_consumer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(step, Step::Done(TaskOutcome::Processed));
    assert_eq!(w.status(id).await, TaskStatus::Success);
    assert_eq!(w.completions(id), 1, "stored exactly once");
    assert_eq!(w.runs_of("world 3"), vec![1, 2]);
    let hits = w.tasks.hits(id, 0, 100).await.unwrap().unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(
        process_one(&b, &*b_consumer, Duration::from_millis(300))
            .await
            .unwrap(),
        Step::Empty,
        "nothing left over"
    );
    b_consumer.close().await;
    a_consumer.close().await;
}

#[tokio::test]
async fn two_workers_share_the_load_and_each_task_runs_once() {
    let Some(url) = amqp_url("two_workers_share_the_load_and_each_task_runs_once") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 2;
    let _cleanup = Cleanup(cfg.clone());
    let mut w = World::new(cfg).await;
    w.search_delay = Duration::from_millis(5);
    let w = Arc::new(w);
    // Both subscribed before the tasks come, so neither is first to everything.
    let consumers = [w.consumer(), w.consumer()];
    for c in &consumers {
        c.connect().await.unwrap();
    }
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(w.search(&format!("hello {}", i % 10)).await);
    }
    let stop = Arc::new(Notify::new());
    let mut runs = Vec::new();
    for (n, consumer) in consumers.into_iter().enumerate() {
        let worker = Worker::new(w.messenger(n, Arc::default()), consumer, quick_options(2));
        let stop = stop.clone();
        runs.push(tokio::spawn(async move {
            worker.run(async move { stop.notified().await }).await
        }));
    }
    let finished = eventually(Duration::from_secs(15), || async {
        w.all_final(&ids).await.then_some(())
    })
    .await;
    stop.notify_waiters();
    for r in runs {
        assert!(r.await.unwrap());
    }
    assert!(finished.is_some(), "every task finished");
    for id in &ids {
        assert_eq!(w.status(*id).await, TaskStatus::Success);
        assert_eq!(w.completions(*id), 1, "no task stored twice");
    }
    let runs = w.runs.lock().unwrap().clone();
    let by_first = runs.iter().filter(|(n, _)| *n == 0).count();
    assert_eq!(runs.len(), 40, "each task searched once");
    assert!(
        by_first > 0 && by_first < 40,
        "both workers took tasks ({by_first} of 40 by the first)"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_task_in_hand_and_hands_back_the_rest() {
    let Some(url) = amqp_url("shutdown_finishes_the_task_in_hand_and_hands_back_the_rest") else {
        return;
    };
    let mut cfg = unique_config(&url);
    cfg.prefetch = 3;
    let _cleanup = Cleanup(cfg.clone());
    let w = World::new(cfg.clone()).await;
    let ids = [
        w.search("world 1").await,
        w.search("world 2").await,
        w.search("world 3").await,
    ];
    let gate = Arc::new(Gate::default());
    gate.arm();
    let entered = gate.entered.notified();
    let consumer = w.consumer();
    let worker = Worker::new(
        w.messenger(0, gate.clone()),
        consumer.clone(),
        quick_options(1),
    );
    let signal = Arc::new(Notify::new());
    let run = {
        let signal = signal.clone();
        tokio::spawn(async move { worker.run(async move { signal.notified().await }).await })
    };
    tokio::time::timeout(Duration::from_secs(5), entered)
        .await
        .expect("the first task started");
    // SIGTERM arrives while the first task runs; then the task completes.
    signal.notify_one();
    eventually(Duration::from_secs(5), || async {
        consumer.is_stopped().then_some(())
    })
    .await
    .expect("the worker stopped consuming");
    gate.release.notify_one();
    let drained = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the worker stops promptly")
        .unwrap();
    assert!(drained);
    assert_eq!(w.status(ids[0]).await, TaskStatus::Success);
    assert_eq!(w.status(ids[1]).await, TaskStatus::Waiting);
    assert_eq!(w.status(ids[2]).await, TaskStatus::Waiting);
    let depths = eventually(Duration::from_secs(5), || async {
        let d = queue_depths(&cfg).await.unwrap();
        (d == QueueDepths { ready: 2, dead: 0 }).then_some(d)
    })
    .await;
    assert!(depths.is_some(), "the two others are back in the queue");
}

#[tokio::test]
async fn a_worker_without_a_broker_keeps_trying_and_stops_on_signal() {
    let Some(url) = amqp_url("a_worker_without_a_broker_keeps_trying_and_stops_on_signal") else {
        return;
    };
    let nowhere = via(&unique_config(&url), dead_port().await.unwrap());
    let w = World::new(nowhere.clone()).await;
    let messenger = w.messenger(0, Arc::default());
    let consumer = w.consumer();
    let worker = Worker::new(messenger.clone(), consumer.clone(), quick_options(2));
    let started = Instant::now();
    let drained = worker
        .run(tokio::time::sleep(Duration::from_millis(500)))
        .await;
    assert!(drained);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the signal ends the retrying at once"
    );
    assert_eq!(
        process_one(&messenger, &*consumer, Duration::from_millis(100))
            .await
            .unwrap(),
        Step::Closed
    );
}

//! Starting the service in process for one test.

use super::Backend;
use messenger_api::App;
use messenger_domain::Timestamp;
use messenger_memory::{ManualClock, PlainHasher, SequentialIds};
use messenger_ports::{run_worker, Clock, IdGenerator, Messenger, PasswordHasher, TaskConsumer};
use messenger_rabbitmq::{delete_topology, AmqpConfig, AmqpTaskConsumer};
use messenger_redis::{RedisConfig, RedisStore};
use messenger_wiring::{Config, Overrides};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::sync::oneshot;

/// How to start the service for a test: the backend and the configuration.
pub struct TestOptions {
    /// The stores to run over.
    pub backend: Backend,
    /// The configuration (the backend's URLs are filled in at start).
    pub config: Config,
    /// The password hasher (default: [`PlainHasher`], fast).
    pub hasher: Arc<dyn PasswordHasher>,
    /// The id generator (default: sequential in memory, random over real stores).
    pub ids: Option<Arc<dyn IdGenerator>>,
}

impl TestOptions {
    /// Test defaults over `backend`: port 0 on 127.0.0.1, auth on, in-app throttling
    /// off and registrations practically unlimited (tests of those rules switch them on),
    /// everything else as the service's defaults.
    pub fn new(backend: Backend) -> Self {
        let mut config = Config::default();
        config.server.host = "127.0.0.1".parse().expect("an address");
        config.server.port = 0;
        config.limits.throttling = false;
        config.limits.register_limit_per_min = 1_000_000;
        Self {
            backend,
            config,
            hasher: Arc::new(PlainHasher),
            ids: None,
        }
    }

    /// Another id generator (one that records what it hands out).
    pub fn with_ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// Changes the configuration.
    pub fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Another password hasher (one that takes time, to make races observable).
    pub fn with_hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = hasher;
        self
    }

    /// Legacy mode (`AUTH_DISABLED=true`).
    pub fn legacy(self) -> Self {
        self.with(|c| c.auth.disabled = true)
    }

    /// In-app throttling on, at `per_sec` requests per second with a burst of `burst`.
    pub fn throttled(self, per_sec: u32, burst: u32) -> Self {
        self.with(|c| {
            c.limits.throttling = true;
            c.limits.rate_limit_per_sec = per_sec;
            c.limits.rate_limit_burst = burst;
        })
    }
}

/// A running service and a client for it. Dropping it shuts the service down.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// `http://<address>`.
    pub base_url: String,
    /// The HTTP client the helpers use.
    pub client: reqwest::Client,
    /// The service's clock: advance it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// The backend it runs over.
    pub backend: Backend,
    /// The auth header's name (as configured).
    pub auth_header: String,
    /// The auth scheme word (as configured).
    pub auth_scheme: String,
    /// Its Redis (with its own key prefix), when the backend has one.
    pub redis: Option<RedisConfig>,
    messenger: Messenger,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    worker: Option<Worker>,
}

/// The search worker a test runs itself when the queue is RabbitMQ (in production, the
/// `messenger-worker` process): the shared task loop over a consumer of the service's own
/// queue, with the service's use cases (so its clock too).
struct Worker {
    shutdown: oneshot::Sender<()>,
    alive: Arc<AtomicBool>,
}

/// The queues the suite declared, with whether their service still runs: deleted by
/// [`delete_finished_queues`] once it does not.
static QUEUES: Mutex<Vec<(AmqpConfig, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

fn start_worker(messenger: Messenger, url: &str, queue: &str) -> Worker {
    let amqp = AmqpConfig::new(url).with_queue(queue);
    let consumer: Arc<dyn TaskConsumer> =
        Arc::new(AmqpTaskConsumer::new(amqp.clone()).expect("a RabbitMQ consumer"));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(run_worker(
        messenger,
        consumer,
        4,
        async {
            let _ = rx.await;
        },
        || tokio::time::sleep(Duration::from_millis(100)),
    ));
    let alive = Arc::new(AtomicBool::new(true));
    QUEUES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((amqp, alive.clone()));
    Worker {
        shutdown: tx,
        alive,
    }
}

/// Deletes the RabbitMQ queues (and their dead-letter parts) of services that have
/// stopped, so test runs leave no queues behind. Run after each test over RabbitMQ;
/// queues of tests still running are left to a later call.
pub async fn delete_finished_queues() {
    let finished: Vec<AmqpConfig> = {
        let mut queues = QUEUES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, running): (Vec<_>, Vec<_>) = queues
            .drain(..)
            .partition(|(_, alive)| !alive.load(Ordering::SeqCst));
        *queues = running;
        done.into_iter().map(|(amqp, _)| amqp).collect()
    };
    for amqp in finished {
        if let Err(e) = delete_topology(&amqp).await {
            println!("could not delete test queue {}: {e}", amqp.queue);
        }
    }
}

/// The time the manual clock starts at: the real time, so stores that keep their own
/// notion of time (a real Redis TTL) agree with it; tests only ever advance it.
fn start_time() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let micros = i64::try_from(since_epoch.as_micros()).expect("in range");
    // Whole seconds: readable timestamps in failure messages.
    Timestamp::from_micros(micros - micros % 1_000_000)
}

/// Starts the service in process on port 0 with a manual clock and a fast password
/// hasher (and sequential ids in memory; random ones over stores that outlive the test).
pub async fn spawn_app(options: TestOptions) -> TestApp {
    let TestOptions {
        backend,
        mut config,
        hasher,
        ids,
    } = options;
    backend.apply(&mut config);
    let clock = Arc::new(ManualClock::new(start_time()));
    let overrides = Overrides {
        clock: Some(clock.clone() as Arc<dyn Clock>),
        ids: ids.or_else(|| {
            backend
                .is_memory()
                .then(|| Arc::new(SequentialIds::default()) as Arc<dyn IdGenerator>)
        }),
        hasher: Some(hasher),
    };
    let auth_header = config.auth.header.clone();
    let auth_scheme = config.auth.scheme.clone();
    let queue = config
        .queue
        .amqp()
        .map(|a| a.queue.clone())
        .unwrap_or_default();
    let redis = config.shared_state.redis_config().cloned();
    let app = App::build(config, overrides)
        .await
        .unwrap_or_else(|e| panic!("the service did not start over {}: {e}", backend.name));
    if let Some(redis) = &redis {
        assert_redis_answers(backend.name, redis).await;
    }
    let address = app.local_addr();
    let messenger = app.messenger().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    let worker = backend
        .amqp_url
        .as_deref()
        .map(|url| start_worker(messenger.clone(), url, &queue));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .no_proxy()
        .build()
        .expect("an HTTP client");
    TestApp {
        address,
        base_url: format!("http://{address}"),
        client,
        clock,
        backend,
        auth_header,
        auth_scheme,
        redis,
        messenger,
        shutdown: Some(tx),
        server: Some(server),
        worker,
    }
}

/// Fails the test when the backend's Redis does not answer. The service starts and serves
/// without Redis (on its in-process fallbacks), so without this check a run over Redis
/// would pass while testing nothing of Redis.
async fn assert_redis_answers(backend: &str, config: &RedisConfig) {
    let store = RedisStore::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{backend}: Redis configuration: {e}"));
    let answer = store.ping().await;
    store.quit().await;
    if let Err(e) = answer {
        panic!(
            "{backend}: Redis does not answer ({e}); the service would run on its in-process \
             fallbacks and this run would test nothing of Redis"
        );
    }
}

impl TestApp {
    /// The keys this service has put in its Redis (under its own prefix), at most 1000;
    /// empty without Redis.
    pub async fn redis_keys(&self) -> Vec<String> {
        let Some(config) = &self.redis else {
            return Vec::new();
        };
        let store = RedisStore::connect(config).await.expect("a Redis client");
        let keys = store.prefixed_keys(1000).await.expect("the keys in Redis");
        store.quit().await;
        keys
    }

    /// The use cases behind the HTTP layer, for setting up states HTTP cannot reach
    /// deterministically (a search task that never runs).
    pub fn messenger(&self) -> &Messenger {
        &self.messenger
    }

    /// Signals shutdown (as SIGTERM does) and waits until the server has stopped: requests
    /// in flight get their answers first.
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.stop_worker();
        match self.server.take() {
            Some(server) => server.await.expect("the server task panicked"),
            None => Ok(()),
        }
    }

    /// Moves the service's clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Sets the service's clock, also backwards (to check rules about time running back).
    pub fn set_time(&self, t: Timestamp) {
        self.clock.set(t);
    }

    /// The service's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl TestApp {
    fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            let _ = worker.shutdown.send(());
            worker.alive.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.stop_worker();
    }
}

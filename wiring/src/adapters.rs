//! Adapter selection: the one place that looks at the configuration's choices and picks
//! an adapter for every port. Each part has its own function, matching on the
//! configuration once; the result is a set of `Arc<dyn Port>`s handed to
//! [`Messenger::new`], plus the background jobs those adapters need.
//!
//! Adding a backend means adding a branch to one of these functions (PostgreSQL in
//! [`repositories`], Redis in [`caches`], [`limiters`] and [`tasks`], RabbitMQ in
//! [`tasks`]); nothing else in the crate changes.
//!
//! Each backend is a cargo feature. Without it, its configuration variant does not exist,
//! so its branch is compiled out with it (`#[cfg]` on the branch); the Redis ports, chosen
//! in several places from one client, are made in [`on_redis`], whose client a build
//! without Redis replaces by a type with no value.

use crate::background::{Background, Housekeeping};
#[cfg(feature = "rabbitmq")]
use crate::config::{needs_shared_stores, Queue};
use crate::config::{CacheType, Config, SharedState, Storage};
use crate::metered;
use crate::{Overrides, StartError};
use messenger_memory::{
    memory_task_queue, Argon2Hasher, GcraLimiter, MemoryAttempts, MemoryEventBus, MemoryPageCache,
    MemorySessionCache, MemoryStore, MemoryTaskStore, RandomIds, SystemClock,
};
use messenger_ports::{
    Accounts, AttemptCounter, Chats, Clock, EventBus, EventLog, IdGenerator, Members,
    MessageSearch, Messages, Messenger, PageCache, PasswordHasher, Ports, RateLimiter,
    SessionCache, Sessions, TaskConsumer, TaskQueue, TaskStore,
};
#[cfg(feature = "postgres")]
use messenger_postgres::{PgEventBus, PgStore};
#[cfg(feature = "rabbitmq")]
use messenger_rabbitmq::{AmqpConfig, AmqpError, AmqpTaskQueue};
use on_redis::RedisStore;
use std::sync::Arc;
use std::time::Duration;

/// How long start-up waits for PostgreSQL to answer (a database starting next to the
/// service), retrying with backoff, before giving up.
#[cfg(feature = "postgres")]
const DATABASE_WAIT: Duration = Duration::from_secs(30);

/// How long a login or registration waits for a password-hashing permit before 503.
const HASH_PERMIT_WAIT: Duration = Duration::from_secs(2);

/// What the composition root built.
pub(crate) struct Wired {
    /// The use cases over the chosen ports.
    pub messenger: Messenger,
    /// The request throttle (`None` when in-app throttling is off).
    pub request_limiter: Option<Arc<dyn RateLimiter>>,
    /// The in-process search worker, when the queue is in this process.
    pub worker: Option<Arc<dyn TaskConsumer>>,
    /// Periodic clean-ups of in-process adapters (idle limiter keys, closed windows,
    /// expired tasks), run by the maintenance job besides purging expired records.
    pub housekeeping: Vec<Housekeeping>,
}

/// Time, ids and password hashing.
struct System {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    hasher: Arc<dyn PasswordHasher>,
}

/// The durable data.
struct Repositories {
    accounts: Arc<dyn Accounts>,
    sessions: Arc<dyn Sessions>,
    chats: Arc<dyn Chats>,
    members: Arc<dyn Members>,
    messages: Arc<dyn Messages>,
    events: Arc<dyn EventLog>,
    search: Arc<dyn MessageSearch>,
}

/// The fast, lossy caches.
struct Caches {
    sessions: Arc<dyn SessionCache>,
    pages: Option<Arc<dyn PageCache>>,
}

/// Request throttling, registration limits and failed-login counters.
struct Limiters {
    requests: Option<Arc<dyn RateLimiter>>,
    registrations: Arc<dyn RateLimiter>,
    login_attempts: Arc<dyn AttemptCounter>,
}

/// The search-task queue and store, and the consumer of an in-process queue.
struct Tasks {
    queue: Arc<dyn TaskQueue>,
    store: Arc<dyn TaskStore>,
    consumer: Option<Arc<dyn TaskConsumer>>,
}

/// Builds every port the configuration names.
///
/// # Errors
/// [`StartError::NotWired`] for a backend this build cannot use yet.
pub(crate) async fn wire(config: &Config, overrides: Overrides) -> Result<Wired, StartError> {
    config.check()?;
    let mut housekeeping = Vec::new();
    let system = system(config, overrides);
    let repos = repositories(config, &system).await?;
    let redis = redis(config).await?;
    let caches = caches(config, &system, redis.as_ref()).await?;
    let limits = limiters(config, &system, redis.as_ref(), &mut housekeeping).await?;
    let tasks = tasks(config, &system, redis.as_ref(), &mut housekeeping).await?;
    let ports = Ports {
        accounts: repos.accounts,
        sessions: repos.sessions,
        chats: repos.chats,
        // Positive access answers kept in process for a second (crate::access_cache).
        members: crate::access_cache::cached_access(repos.members),
        messages: repos.messages,
        // The log's newest events kept for every reader of the instance (crate::log_tail).
        events: crate::log_tail::log_tail(repos.events),
        bus: event_bus(config),
        search: repos.search,
        // The caches and the task ports are counted for /metrics (crate::metered).
        session_cache: metered::session_cache(caches.sessions),
        page_cache: caches.pages.map(metered::page_cache),
        login_attempts: limits.login_attempts,
        register_limiter: limits.registrations,
        task_queue: metered::task_queue(tasks.queue),
        task_store: metered::task_store(tasks.store),
        hasher: system.hasher,
        clock: system.clock,
        ids: system.ids,
    };
    Ok(Wired {
        messenger: Messenger::new(ports, config.settings()),
        request_limiter: limits.requests,
        worker: tasks.consumer,
        housekeeping,
    })
}

/// The system clock, random ids and argon2id, unless the caller (a test) overrides them.
fn system(config: &Config, overrides: Overrides) -> System {
    System {
        clock: overrides.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        ids: overrides.ids.unwrap_or_else(|| Arc::new(RandomIds)),
        hasher: overrides.hasher.unwrap_or_else(|| {
            Arc::new(Argon2Hasher::new(
                config.auth.hash_concurrency,
                HASH_PERMIT_WAIT,
            ))
        }),
    }
}

/// Accounts, sessions, chats, members, messages and search: PostgreSQL or memory.
async fn repositories(config: &Config, system: &System) -> Result<Repositories, StartError> {
    match &config.storage {
        Storage::Memory => Ok(memory_repositories(system)),
        #[cfg(feature = "postgres")]
        Storage::Postgres(pg) => {
            // Waits for the database and migrates before the port is bound.
            let store = Arc::new(PgStore::connect(pg, DATABASE_WAIT).await?);
            metered::watch_pool(&store);
            Ok(Repositories {
                accounts: store.clone(),
                sessions: store.clone(),
                chats: store.clone(),
                members: store.clone(),
                messages: store.clone(),
                events: store.clone(),
                search: store,
            })
        }
    }
}

fn memory_repositories(system: &System) -> Repositories {
    let store = Arc::new(MemoryStore::new(Arc::clone(&system.clock)));
    Repositories {
        accounts: store.clone(),
        sessions: store.clone(),
        chats: store.clone(),
        members: store.clone(),
        messages: store.clone(),
        events: store.clone(),
        search: store,
    }
}

/// Wake-ups of event readers: across instances over PostgreSQL (`LISTEN/NOTIFY`), else
/// within the process.
fn event_bus(config: &Config) -> Arc<dyn EventBus> {
    match &config.storage {
        Storage::Memory => Arc::new(MemoryEventBus::new()),
        #[cfg(feature = "postgres")]
        Storage::Postgres(pg) => Arc::new(PgEventBus::start(pg)),
    }
}

/// The Redis client, when `REDIS_URL` is set: one pool shared by the caches, limiters and
/// task store, every command under the dependency deadline. A Redis that is down at start
/// does not stop the service: its adapters answer `Unavailable`, the use cases fall back,
/// and Redis is used as soon as it answers.
///
/// # Errors
/// [`StartError::Redis`] when the URL cannot be used.
async fn redis(config: &Config) -> Result<Option<RedisStore>, StartError> {
    match &config.shared_state {
        SharedState::InProcess => Ok(None),
        #[cfg(feature = "redis")]
        SharedState::Redis(redis) => Ok(Some(RedisStore::connect(redis).await?)),
    }
}

/// The session cache and the page cache: Redis or memory (`CACHE_TYPE` chooses for the
/// page cache; sessions are in Redis whenever it is configured).
async fn caches(
    config: &Config,
    system: &System,
    redis: Option<&RedisStore>,
) -> Result<Caches, StartError> {
    let cache = &config.cache;
    let pages: Option<Arc<dyn PageCache>> = match (cache.page_cache, cache.cache_type, redis) {
        (false, _, _) => None,
        (true, CacheType::Redis, Some(redis)) => Some(on_redis::page_cache(redis)),
        // Without Redis, `Config::check` has refused `CACHE_TYPE=redis` already.
        (true, _, _) => Some(Arc::new(MemoryPageCache::new(cache.page_cache_messages))),
    };
    let sessions: Arc<dyn SessionCache> = match redis {
        Some(redis) => on_redis::session_cache(redis),
        None => Arc::new(MemorySessionCache::new(
            config.cache.session_cache_capacity,
            Arc::clone(&system.clock),
        )),
    };
    Ok(Caches { sessions, pages })
}

/// Request throttling, registrations per address and failed-login counters: Redis (shared
/// by every instance) or this process.
///
/// With Redis, each is the Redis one with this process's one behind it, used while Redis
/// is unavailable.
async fn limiters(
    config: &Config,
    system: &System,
    redis: Option<&RedisStore>,
    housekeeping: &mut Vec<Housekeeping>,
) -> Result<Limiters, StartError> {
    let clock = || Arc::clone(&system.clock);
    let config = &config.limits;
    let requests = config.throttling.then(|| {
        Arc::new(GcraLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
            clock(),
        ))
    });
    let registrations = Arc::new(GcraLimiter::per_minute(
        config.register_limit_per_min,
        config.register_limit_per_min,
        clock(),
    ));
    let attempts = Arc::new(MemoryAttempts::new(clock()));
    if let Some(l) = &requests {
        let l = Arc::clone(l);
        housekeeping.push(Box::new(move || l.forget_idle()));
    }
    {
        let l = Arc::clone(&registrations);
        housekeeping.push(Box::new(move || l.forget_idle()));
        let a = Arc::clone(&attempts);
        housekeeping.push(Box::new(move || a.forget_expired()));
    }
    let local = Limiters {
        requests: requests.map(|l| l as Arc<dyn RateLimiter>),
        registrations,
        login_attempts: attempts,
    };
    Ok(match redis {
        None => local,
        Some(redis) => on_redis::limiters(redis, local, config, &system.clock),
    })
}

/// The search-task queue and store: RabbitMQ and Redis (tasks run by `messenger-worker`),
/// or this process (tasks run by the in-process worker).
async fn tasks(
    config: &Config,
    system: &System,
    redis: Option<&RedisStore>,
    housekeeping: &mut Vec<Housekeeping>,
) -> Result<Tasks, StartError> {
    #[cfg(feature = "rabbitmq")]
    if let Queue::RabbitMq(amqp) = &config.queue {
        return rabbitmq_tasks(config, amqp, system, redis).await;
    }
    let (queue, consumer) = memory_task_queue(config.search.queue_capacity);
    let store: Arc<dyn TaskStore> = match redis {
        Some(redis) => on_redis::task_store(redis, Arc::clone(&system.clock)),
        None => {
            let store = Arc::new(MemoryTaskStore::new(Arc::clone(&system.clock)));
            let s = Arc::clone(&store);
            housekeeping.push(Box::new(move || s.forget_expired()));
            store
        }
    };
    Ok(Tasks {
        queue: Arc::new(queue),
        store,
        consumer: Some(Arc::new(consumer)),
    })
}

/// RabbitMQ carries the tasks to `messenger-worker` processes; Redis keeps their state, so
/// every instance and worker sees it. No search runs in this process.
///
/// # Errors
/// [`StartError::Config`] when the URL is unusable or Redis is missing.
#[cfg(feature = "rabbitmq")]
async fn rabbitmq_tasks(
    config: &Config,
    amqp: &AmqpConfig,
    system: &System,
    redis: Option<&RedisStore>,
) -> Result<Tasks, StartError> {
    let Some(redis) = redis else {
        needs_shared_stores(&config.queue, &config.storage, &config.shared_state)?;
        return Err(StartError::NotWired {
            part: "a queue without a shared task store",
            variable: "AMQP_URL",
        });
    };
    // The adapter's message names the fault without echoing the URL (it holds a password).
    let queue = AmqpTaskQueue::new(amqp.clone()).map_err(|e| match e {
        AmqpError::TlsSetup(_) => StartError::Amqp(e),
        e => StartError::Config(crate::ConfigError::Combination(format!(
            "AMQP_URL/AMQP_QUEUE: {e}"
        ))),
    })?;
    // Declares the queue now. A broker that is down does not stop the service: new
    // searches answer 503 until it is back, and the publisher reconnects by itself. A
    // refused certificate does not heal by waiting: start-up stops, saying why.
    match queue.connect().await {
        Ok(()) => {}
        Err(e @ AmqpError::Handshake(_)) => return Err(StartError::Amqp(e)),
        Err(e) => {
            tracing::warn!(error = %e, "RabbitMQ is not reachable yet; new searches answer 503 until it is");
        }
    }
    Ok(Tasks {
        queue: Arc::new(queue),
        store: on_redis::task_store(redis, Arc::clone(&system.clock)),
        consumer: None,
    })
}

/// Starts the background jobs the wiring needs: the in-process search worker (when the
/// queue is in this process), the event hub of the instance's streams, and the periodic
/// maintenance.
///
/// # Errors
/// [`StartError::Background`] when the search worker's thread cannot start.
pub(crate) fn start_background(
    config: &Config,
    wired: &mut Wired,
) -> Result<Background, StartError> {
    let mut background = Background::new();
    if let Some(consumer) = wired.worker.take() {
        background
            .spawn_search_worker(wired.messenger.clone(), consumer, config.search.workers)
            .map_err(StartError::Background)?;
    }
    background.spawn_event_hub(wired.messenger.clone());
    background.spawn_maintenance(
        wired.messenger.clone(),
        std::mem::take(&mut wired.housekeeping),
    );
    Ok(background)
}

/// The use cases a separate worker runs search tasks with: the shared repositories
/// (PostgreSQL) and task store (Redis), counted like the API's. The worker never serves
/// requests, so the caches, limiters and task queue are in-process stand-ins that are
/// never called: nothing connects to RabbitMQ to publish, and no limiter keys are kept.
///
/// # Errors
/// [`StartError`] when PostgreSQL or Redis cannot be used.
#[cfg(feature = "rabbitmq")]
pub(crate) async fn wire_worker(config: &Config) -> Result<Messenger, StartError> {
    config.check()?;
    let system = system(config, Overrides::default());
    let repos = repositories(config, &system).await?;
    let clock = || Arc::clone(&system.clock);
    let task_store: Arc<dyn TaskStore> = match redis(config).await? {
        Some(redis) => on_redis::task_store(&redis, clock()),
        None => Arc::new(MemoryTaskStore::new(clock())),
    };
    let (queue, _consumer) = memory_task_queue(1);
    let ports = Ports {
        accounts: repos.accounts,
        sessions: repos.sessions,
        chats: repos.chats,
        members: repos.members,
        messages: repos.messages,
        events: repos.events,
        // Nothing here follows events.
        bus: Arc::new(MemoryEventBus::new()),
        search: repos.search,
        session_cache: Arc::new(MemorySessionCache::new(1, clock())),
        page_cache: None,
        login_attempts: Arc::new(MemoryAttempts::new(clock())),
        register_limiter: Arc::new(GcraLimiter::new(1, 1, clock())),
        task_queue: Arc::new(queue),
        task_store: metered::task_store(task_store),
        hasher: system.hasher,
        clock: system.clock,
        ids: system.ids,
    };
    Ok(Messenger::new(ports, config.settings()))
}

/// A messenger over fresh in-memory adapters, with no background job: what the API
/// structs need to exist so the spec can be generated without serving.
pub(crate) fn spec_messenger() -> Messenger {
    let config = Config::default();
    let system = system(&config, Overrides::default());
    let repos = memory_repositories(&system);
    let (queue, _consumer) = memory_task_queue(1);
    let clock = || Arc::clone(&system.clock);
    let ports = Ports {
        accounts: repos.accounts,
        sessions: repos.sessions,
        chats: repos.chats,
        members: repos.members,
        messages: repos.messages,
        events: repos.events,
        // Nothing here follows events.
        bus: Arc::new(MemoryEventBus::new()),
        search: repos.search,
        session_cache: Arc::new(MemorySessionCache::new(1, clock())),
        page_cache: None,
        login_attempts: Arc::new(MemoryAttempts::new(clock())),
        register_limiter: Arc::new(GcraLimiter::new(1, 1, clock())),
        task_queue: Arc::new(queue),
        task_store: Arc::new(MemoryTaskStore::new(clock())),
        hasher: system.hasher,
        clock: system.clock,
        ids: system.ids,
    };
    Messenger::new(ports, config.settings())
}

/// The ports Redis backs, each made from the one client ([`RedisStore`]) the wiring
/// connects when `REDIS_URL` is set.
#[cfg(feature = "redis")]
mod on_redis {
    use super::Limiters;
    use crate::config::Limits;
    use messenger_ports::{Clock, PageCache, RateLimiter, SessionCache, TaskStore};
    pub(super) use messenger_redis::RedisStore;
    use messenger_redis::{
        FallbackAttempts, FallbackLimiter, RedisAttempts, RedisPageCache, RedisRateLimiter,
        RedisSessionCache, RedisTaskStore,
    };
    use std::sync::Arc;

    /// The page cache in Redis (`CACHE_TYPE=redis`).
    pub(super) fn page_cache(redis: &RedisStore) -> Arc<dyn PageCache> {
        Arc::new(RedisPageCache::new(redis))
    }

    /// The session cache in Redis.
    pub(super) fn session_cache(redis: &RedisStore) -> Arc<dyn SessionCache> {
        Arc::new(RedisSessionCache::new(redis))
    }

    /// The search-task store in Redis.
    pub(super) fn task_store(redis: &RedisStore, clock: Arc<dyn Clock>) -> Arc<dyn TaskStore> {
        Arc::new(RedisTaskStore::new(redis, clock))
    }

    /// Each limiter in Redis (shared by every instance), with this process's one (`local`)
    /// behind it, used while Redis is unavailable.
    pub(super) fn limiters(
        redis: &RedisStore,
        local: Limiters,
        config: &Limits,
        clock: &Arc<dyn Clock>,
    ) -> Limiters {
        let clock = || Arc::clone(clock);
        let requests = local.requests.map(|local| {
            let shared = RedisRateLimiter::new(
                redis,
                "requests",
                config.rate_limit_per_sec,
                config.rate_limit_burst,
                clock(),
            );
            Arc::new(FallbackLimiter::new(Arc::new(shared), local)) as Arc<dyn RateLimiter>
        });
        let shared_registrations = RedisRateLimiter::per_minute(
            redis,
            "registrations",
            config.register_limit_per_min,
            config.register_limit_per_min,
            clock(),
        );
        Limiters {
            requests,
            registrations: Arc::new(FallbackLimiter::new(
                Arc::new(shared_registrations),
                local.registrations,
            )),
            login_attempts: Arc::new(FallbackAttempts::new(
                Arc::new(RedisAttempts::new(redis, clock())),
                local.login_attempts,
            )),
        }
    }
}

/// A build without Redis: no client can exist ([`RedisStore`] has no value), so every
/// `Option<&RedisStore>` is `None` and the in-process ports are chosen; these only make
/// the branches that would use one compile.
#[cfg(not(feature = "redis"))]
mod on_redis {
    use super::Limiters;
    use crate::config::Limits;
    use messenger_ports::{Clock, PageCache, SessionCache, TaskStore};
    use std::sync::Arc;

    /// Stands in for Redis's client: no value of it exists.
    pub(super) enum RedisStore {}

    pub(super) fn page_cache(redis: &RedisStore) -> Arc<dyn PageCache> {
        match *redis {}
    }

    pub(super) fn session_cache(redis: &RedisStore) -> Arc<dyn SessionCache> {
        match *redis {}
    }

    pub(super) fn task_store(redis: &RedisStore, _: Arc<dyn Clock>) -> Arc<dyn TaskStore> {
        match *redis {}
    }

    pub(super) fn limiters(
        redis: &RedisStore,
        _: Limiters,
        _: &Limits,
        _: &Arc<dyn Clock>,
    ) -> Limiters {
        match *redis {}
    }
}

//! The pool and the discipline every call follows: check out a connection and run the
//! statements under one deadline (what the request's budget has left, see
//! [`messenger_ports::Budget`]); a connection that timed out or broke is dropped, never
//! reused; driver errors become [`PortError`]s here, and the availability of the database
//! is tracked so the log says when it went away and when it came back.

use crate::config::PgConfig;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use messenger_ports::{PortError, StoreCall};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::{error::Elapsed, timeout_at, Instant};
use tokio_postgres::error::SqlState;

/// Why a call failed, before it becomes a [`PortError`]: call sites look at `Sql` for the
/// violations their contract maps (a unique violation is a `Conflict` where documented).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The database is down, unreachable or too slow.
    Unavailable(String),
    /// The database answered with an error (or the driver refused a value).
    Sql(tokio_postgres::Error),
}

impl Failure {
    /// Whether this is a violation of a unique index.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, Failure::Sql(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
    }
}

impl From<Failure> for PortError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(m) => PortError::Unavailable(m),
            Failure::Sql(e) => PortError::Internal(describe(&e)),
        }
    }
}

/// The driver error with the server's message and code, when there is one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Whether the error says the database (or the way to it) is unavailable rather than that
/// a statement is wrong: connection-class and shutdown codes, too many connections, and
/// client-side I/O or closed-connection errors.
pub(crate) fn is_unavailability(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || c.starts_with("53")
            || c.starts_with("57P")
            || *code == SqlState::QUERY_CANCELED;
    }
    e.is_closed()
        || std::error::Error::source(e)
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

/// The connection pool and the availability flag.
pub(crate) struct Db {
    pool: Pool,
    dependency_timeout: Duration,
    search_timeout: Duration,
    /// Last known state, so only changes are logged.
    available: AtomicBool,
    /// Word statistics for choosing how a search reads (see `search_plan`).
    pub(crate) word_stats: crate::search_plan::StatsCache,
    /// Posts waiting for their chat's next transaction (see `append_batch`).
    pub(crate) batches: crate::append_batch::Batches,
}

impl Db {
    /// A pool over `config` (connections are opened on demand).
    pub(crate) fn new(config: &PgConfig) -> Result<Self, crate::PgError> {
        let tls = config.tls_connector()?;
        let manager = Manager::from_config(
            config.driver_config(),
            tls,
            // A broken connection is noticed by the connection task (`is_closed`); a
            // connection that silently stopped answering is caught by the deadline and
            // dropped, so no extra round trip per checkout.
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size())
            .build()
            .map_err(|e| crate::PgError::Config(format!("cannot build the pool: {e}")))?;
        Ok(Self {
            pool,
            dependency_timeout: config.dependency_timeout(),
            search_timeout: config.search_timeout(),
            available: AtomicBool::new(true),
            word_stats: crate::search_plan::StatsCache::default(),
            batches: crate::append_batch::Batches::new(config.write_lanes()),
        })
    }

    /// The deadline of an ordinary repository call starting now: the dependency timeout,
    /// or what the current request's budget has left when that is less. Keep the
    /// [`StoreCall`] for the whole call: the time it took is charged to the budget when it
    /// is dropped.
    pub(crate) fn deadline(&self) -> (Instant, StoreCall) {
        let call = StoreCall::start(self.dependency_timeout);
        (Instant::now() + call.limit(), call)
    }

    /// The deadline of a search query starting now.
    pub(crate) fn search_deadline(&self) -> Instant {
        Instant::now() + self.search_timeout
    }

    /// The pool's connections: (open, idle, callers waiting for one).
    pub(crate) fn pool_status(&self) -> (usize, usize, usize) {
        let st = self.pool.status();
        (st.size, st.available, st.waiting)
    }

    /// A pooled connection, or `Unavailable` when none can be had before `deadline`.
    /// A request whose time for stores is spent gets no connection at all (the database
    /// is not to blame, so its availability is left as it is).
    pub(crate) async fn checkout(&self, deadline: Instant) -> Result<Object, Failure> {
        if deadline <= Instant::now() {
            return Err(Failure::Unavailable(
                "the request's time for stores is spent".into(),
            ));
        }
        match timeout_at(deadline, self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(self.unavailable(format!("no database connection: {e}"))),
            Err(_) => Err(self.unavailable("no database connection before the deadline".into())),
        }
    }

    /// Turns the outcome of statements run on `client` under a deadline into a result,
    /// dropping the connection when it timed out or broke (its state is unknown: a
    /// statement or transaction may still be in flight), and tracking availability.
    pub(crate) fn settle<T>(
        &self,
        client: Object,
        outcome: Result<Result<T, tokio_postgres::Error>, Elapsed>,
    ) -> Result<T, Failure> {
        match outcome {
            Ok(Ok(value)) => {
                self.mark_available();
                Ok(value)
            }
            Ok(Err(e)) if is_unavailability(&e) => {
                drop(Object::take(client));
                Err(self.unavailable(format!("database error: {}", describe(&e))))
            }
            Ok(Err(e)) => {
                if e.as_db_error().is_some() {
                    // The server answered: it is there, and the connection is in a known state.
                    self.mark_available();
                } else {
                    drop(Object::take(client));
                }
                Err(Failure::Sql(e))
            }
            Err(_) => {
                drop(Object::take(client));
                Err(self.unavailable("the database did not answer before the deadline".into()))
            }
        }
    }

    /// `SELECT 1` on a pooled connection under the dependency deadline.
    pub(crate) async fn ping(&self) -> Result<(), Failure> {
        let (deadline, _call) = self.deadline();
        let client = self.checkout(deadline).await?;
        let outcome = timeout_at(deadline, client.simple_query("SELECT 1")).await;
        self.settle(client, outcome).map(drop)
    }

    fn unavailable(&self, reason: String) -> Failure {
        if self.available.swap(false, Ordering::Relaxed) {
            tracing::error!(%reason, "database became unavailable");
        }
        Failure::Unavailable(reason)
    }

    fn mark_available(&self) {
        if !self.available.swap(true, Ordering::Relaxed) {
            tracing::info!("database is available again");
        }
    }
}

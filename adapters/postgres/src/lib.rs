//! The PostgreSQL adapter: every repository port of the messenger (accounts, sessions,
//! chats, members, messages with idempotency keys, message search) over tokio-postgres and
//! a deadpool connection pool, with the schema's migrations and their runner.
//!
//! Shape: one [`PgStore`] implements all the repository ports; [`PgStore::connect`] waits
//! for the database and migrates before the service binds its port; [`PgStore::ping`] is
//! the readiness check. Every call checks out a pooled connection and runs its statements
//! under one deadline (the dependency timeout, or less: what the request's budget has left,
//! see `messenger_ports::Budget`), so a database that is down, unreachable or
//! silent answers `Unavailable` quickly; a connection that timed out is dropped, never
//! reused. Driver errors become backend-neutral `PortError`s inside the adapter.
//!
//! Layout: `config` ([`PgConfig`]), `events` (the event log: reading below the commit
//! horizon), `bus` ([`PgEventBus`]: wake-ups over `LISTEN/NOTIFY`), `db` (pool, deadlines, error mapping, availability
//! log), `migrate` (embedded SQL migrations in `migrations/` and [`Migrator`]), `store`
//! ([`PgStore`]), `accounts` (accounts and sessions), `chats` (chats), `members` (members
//! and read markers), `conversations` (chat list and summaries), `messages` (append and
//! paging), `append_batch` (group commit per write lane), `history` (paging backwards),
//! `search` (tsvector/tsquery literals and the search), `search_plan` (which index a
//! search reads, from the words' statistics),
//! `convert` (column values), `tls` ([`SslMode`] and the connector); `testing` (feature `testing`: a TCP proxy that cuts, hangs or
//! slows the way to the database).
//!
//! Tables live in one schema (`messenger` by default), set as each connection's
//! `search_path`, so tests can use a fresh schema per run and the service can share a
//! database with other tables. Connections use TLS as libpq's `sslmode` says (`tls`: rustls,
//! see `messenger_tls`); a certificate that is refused stops start-up at once with its cause
//! instead of being retried like an unreachable server.

mod accounts;
mod append_batch;
mod bus;
mod chats;
mod config;
mod conversations;
mod convert;
mod db;
mod events;
mod history;
mod members;
mod messages;
pub mod migrate;
mod search;
mod search_plan;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

pub use bus::PgEventBus;
pub use config::{ConfigError, PgConfig};
pub use migrate::{DownSteps, MigrateError, Migration, MigrationState, Migrator, MIGRATIONS};
pub use store::{PgError, PgStore, PoolStatus};
pub use tls::SslMode;

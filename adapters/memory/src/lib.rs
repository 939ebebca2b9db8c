//! In-process adapters for every port: the embedded default (no external service at all)
//! and the test harness.
//!
//! The repositories keep exactly the semantics the PostgreSQL adapter has: per-chat
//! sequence numbers without gaps, exact keyset paging, idempotency keys stored with the
//! message, word/phrase search over the chats an account created or joined, using the
//! domain tokenizer. Everything is held in memory and lost on exit.
//!
//! Layout: `store` (repositories and the event log), `bus` (wake-ups of event readers
//! over a tokio watch channel), `search_index` (the
//! inverted index behind search), `caches` (moka session and page caches), `limits`
//! (governor GCRA limiter, failure counters), `tasks` (tokio-channel task queue, task
//! store), `system` (argon2id hasher, clocks, id generators, and test doubles).

mod bus;
mod caches;
mod limits;
mod search_index;
mod store;
mod system;
mod tasks;

pub use bus::MemoryEventBus;
pub use caches::{MemoryPageCache, MemorySessionCache};
pub use limits::{GcraLimiter, MemoryAttempts};
pub use store::MemoryStore;
pub use system::{Argon2Hasher, ManualClock, PlainHasher, RandomIds, SequentialIds, SystemClock};
pub use tasks::{memory_task_queue, MemoryTaskConsumer, MemoryTaskQueue, MemoryTaskStore};

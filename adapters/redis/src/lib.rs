//! Redis adapters (fred): what several API instances must share to behave as one service.
//!
//! - [`RedisPageCache`] — full pages of messages, with an in-process moka layer in front
//!   (safe: a full page never changes, so there is nothing to invalidate);
//! - [`RedisSessionCache`] — sessions by token hash; a logout is seen by every instance;
//! - [`RedisRateLimiter`] — GCRA as one atomic Lua script (one round trip per check,
//!   refused requests consume nothing, the answer carries the wait);
//! - [`RedisAttempts`] — fixed-window failed-login counters;
//! - [`RedisTaskStore`] — search-task status and hits with a time limit;
//! - [`FallbackLimiter`], [`FallbackAttempts`] — use the Redis one while it answers and this
//!   instance's own one while it does not.
//!
//! All of them share one [`RedisStore`] (built from a [`RedisConfig`]): a small pool of
//! pipelined connections, every key under a configurable prefix, every command under a
//! deadline, and a breaker so a Redis that is down or hung costs one deadline, not one
//! per call (see `client`). Errors reaching Redis are [`messenger_ports::PortError::Unavailable`];
//! the use cases degrade on them (caches are bypassed, limits fall back, tasks answer 503).
//!
//! Layout: `config` (configuration), `client` (the shared client and breaker), `dto`
//! (serialisation of domain values), `caches`, `limits`, `tasks`, `fallback`; `testing`
//! (feature `testing`: test support, a TCP proxy that cuts or hangs the way to Redis).

mod caches;
mod client;
mod config;
mod dto;
mod fallback;
mod limits;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;

pub use caches::{RedisPageCache, RedisSessionCache};
pub use client::RedisStore;
pub use config::{RedisConfig, RedisError};
pub use fallback::{FallbackAttempts, FallbackLimiter};
pub use limits::{RedisAttempts, RedisRateLimiter};
pub use tasks::RedisTaskStore;

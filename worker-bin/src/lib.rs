//! `messenger-worker`: runs the search tasks that the API instances queue in RabbitMQ,
//! against the shared repository (PostgreSQL) and task store (Redis), several at a time.
//!
//! Why it is shaped so: the task loop itself lives in `messenger-ports`
//! ([`messenger_ports::run_worker`], [`messenger_ports::process_delivery`]), shared with
//! the API's in-process worker; this crate adds what a separate process needs around it:
//! the RabbitMQ consumer, a clean shutdown on SIGTERM/SIGINT (stop consuming, finish what
//! it holds within a time limit, hand the rest back), and [`process_one`], one step that
//! tests drive without sleeping.
//!
//! Its configuration ([`WorkerConfig`]: the API's variables, which must name PostgreSQL,
//! Redis and RabbitMQ, plus `WORKER_CONCURRENCY` and `AMQP_PREFETCH`) and its wiring come
//! from `messenger-wiring`, the composition root shared with the API; the HTTP stack is
//! not in this binary.
//!
//! Layout: `worker` ([`Worker`], [`process_one`], [`Step`]), `signal` (the shutdown
//! signal).

mod signal;
mod worker;

pub use messenger_wiring::{WorkerConfig, WorkerConfigError};
pub use signal::shutdown_signal;
pub use worker::{process_one, Step, Worker, WorkerOptions};

//! `messenger-worker`: runs the search tasks that the API instances queue in RabbitMQ,
//! against the shared repository (PostgreSQL) and task store (Redis), several at a time.
//!
//! Why it is shaped so: the task loop itself lives in `messenger-ports`
//! ([`messenger_ports::run_worker`], [`messenger_ports::process_delivery`]), shared with
//! the API's in-process worker; this crate adds what a separate process needs around it:
//! the RabbitMQ consumer; the dead-letter loop, so that a task whose message the broker
//! gave up on (e.g. workers kept crashing on it) ends `FAILED` within moments instead of
//! staying `IN_PROCESS` until it expires; a clean shutdown on SIGTERM/SIGINT (stop
//! consuming, finish what it holds within a time limit, hand the rest back); its own small
//! HTTP endpoint with `/metrics` and `/ping`; the operator's commands; and
//! [`process_one`], one step that tests drive without sleeping.
//!
//! Its configuration ([`WorkerConfig`]: the API's variables, which must name PostgreSQL,
//! Redis and RabbitMQ, plus `WORKER_CONCURRENCY`, `AMQP_PREFETCH` and
//! `WORKER_METRICS_PORT`) and its wiring come from `messenger-wiring`, the composition
//! root shared with the API; no web framework is in this binary (the endpoint is plain
//! hyper).
//!
//! Layout: `worker` ([`Worker`], [`process_one`], [`Step`]), `metrics` (the series and the
//! consumer decorator that records them), `health` (the endpoint and the `healthcheck`
//! client), `operations` (the dead-letter commands, the queue probe), `cli` (the command
//! line), `signal` (the shutdown signal).

pub mod cli;
pub mod health;
pub mod metrics;
pub mod operations;
mod signal;
mod worker;

pub use messenger_wiring::{WorkerConfig, WorkerConfigError};
pub use signal::shutdown_signal;
pub use worker::{process_one, Step, Worker, WorkerOptions};

//! RabbitMQ adapter (lapin): the search-task queue shared by the API (publisher) and the
//! `messenger-worker` processes (consumers).
//!
//! Why it is shaped so: a task id is handed out only for a task that will run, and a task
//! is never lost or run forever. So the queue is a durable quorum queue with a
//! dead-letter exchange and an explicit `x-delivery-limit` (a message returned too often,
//! e.g. by a worker that crashes on it, ends in the dead-letter queue, from which the
//! worker marks its task `FAILED` and parks it, both queues bounded); publishing is
//! persistent, `mandatory` and confirmed, all under one short deadline; consuming uses
//! manual acks and a prefetch limit, and reads the attempt number from the quorum
//! queue's `x-delivery-count`. Both sides reconnect lazily, with back-off, after the
//! broker restarts or the connection drops.
//!
//! Layout: `config` ([`AmqpConfig`], [`AmqpError`]), `link` (one connection and channel,
//! the topology, the back-off), `publisher` ([`AmqpTaskQueue`]), `consumer`
//! ([`AmqpTaskConsumer`], of the task queue or of its dead letters), `delivery` (one
//! received message), `admin` (queue counts and clean-up, for metrics, tests and tools),
//! `dead_letters` (list, requeue and purge them), `testing` (feature `testing`: unique queues, a fault-injecting TCP
//! proxy).

mod admin;
mod config;
mod consumer;
mod dead_letters;
mod delivery;
mod link;
mod publisher;
#[cfg(feature = "testing")]
pub mod testing;

pub use admin::{delete_topology, queue_depths, QueueCounts, QueueDepths, QueueProbe, QueueStats};
pub use config::{AmqpConfig, AmqpError};
pub use consumer::AmqpTaskConsumer;
pub use dead_letters::{list_dead_letters, purge_dead_letters, requeue_dead_letters, DeadLetter};
pub use publisher::AmqpTaskQueue;

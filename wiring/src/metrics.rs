//! The process's Prometheus recorder. It is installed here, below both binaries, because
//! the port decorators ([`crate::metered`]) register their counters when the wiring builds
//! them, and handles registered before a recorder exists record nothing. The API renders it
//! at `/metrics` and adds its request metrics to it. The decorators' metric names live
//! here too, so the decorators depend on this module and not the other way round.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Cache lookups, by `cache` (page, session) and `result` (hit, miss, error).
pub const CACHE_LOOKUPS: &str = "messenger_cache_lookups_total";
/// Search tasks that entered a status in this process, by `status`.
pub const SEARCH_TASKS: &str = "messenger_search_tasks_total";
/// Search tasks handed to the queue, by `result` (ok, failed).
pub const QUEUE_PUBLISHES: &str = "messenger_queue_publishes_total";
/// PostgreSQL pool connections, by `state` (in_use, idle, waiting: callers waiting for one).
pub const DB_POOL: &str = "messenger_db_pool_connections";

/// Upper bounds of the latency buckets, in seconds (the API answers within 10 s).
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Events replayed when a stream opens, by size (a histogram of counts, not seconds).
pub const EVENT_REPLAY_SIZE: &str = "messenger_event_replay_size";

/// Upper bounds of the replay-size buckets, in events.
pub const REPLAY_BUCKETS: [f64; 7] = [0.0, 1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0];

/// How often the recorder drains its histogram samples when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle).
/// `None` when another recorder was installed first: then nothing is recorded here.
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(EVENT_REPLAY_SIZE.into()),
                        &REPLAY_BUCKETS,
                    )
                }) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics disabled: bad histogram buckets");
                    return None;
                }
            };
            let handle = match builder.install_recorder() {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics disabled: another recorder is installed");
                    return None;
                }
            };
            describe();
            // Histogram samples wait in a buffer until upkeep folds them into the buckets; a
            // thread (not a task) does it, so it outlives any one runtime.
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread not started; /metrics does it");
            }
            Some(handle)
        })
        .as_ref()
}

/// The Prometheus text exposition of everything recorded in this process.
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

/// Describes the decorators' metrics (called once, when the recorder is installed).
fn describe() {
    use ::metrics::describe_counter;
    describe_counter!(
        CACHE_LOOKUPS,
        "Cache lookups, by cache and result (hit, miss, error)."
    );
    describe_counter!(
        SEARCH_TASKS,
        "Search tasks that entered a status in this process."
    );
    describe_counter!(
        QUEUE_PUBLISHES,
        "Search tasks handed to the queue, by result."
    );
    ::metrics::describe_gauge!(
        DB_POOL,
        "PostgreSQL pool connections: in use, idle, and callers waiting."
    );
}

//! The whole stack over TLS with `verify-full`: the API's wiring (configured from the same
//! variables as the binary) and the real `messenger-worker`, both over a TLS-only
//! PostgreSQL (`sslmode=verify-full`, `sslrootcert`), a TLS-only Redis (`rediss://`,
//! `REDIS_CA_FILE`) and a TLS-only RabbitMQ node (`amqps://`, `AMQP_CA_FILE`), each started
//! by the test with a CA of its own. An account registers and logs in, posts, searches; the
//! worker runs the search and the hit comes back. A worker that cannot trust the broker's
//! certificate stops at once, saying why.

use crate::support::{services, CaFiles, Stack};
use messenger_domain::TaskStatus;
use messenger_postgres::testing::TlsCluster;
use messenger_rabbitmq::testing::TlsBroker;
use messenger_redis::testing::TlsRedis;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_runs_over_tls_to_every_backing_service() {
    const TEST: &str = "the_stack_runs_over_tls_to_every_backing_service";
    // Gated like the other process tests, and on the servers' programs.
    if services(TEST).is_none() {
        return;
    }
    let Some(pg) = TlsCluster::start(TEST) else {
        return;
    };
    let Some(redis) = TlsRedis::start(TEST) else {
        return;
    };
    let Some(broker) = TlsBroker::start(TEST) else {
        return;
    };
    let database_url = pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", pg.ca_file.display()),
    );
    // Declared after the servers: dropped (queues deleted) while they still run.
    let stack = Stack::start_with(
        (
            database_url,
            redis.url("localhost"),
            broker.url("localhost"),
        ),
        Some(CaFiles {
            redis: redis.ca_file.clone(),
            amqp: broker.ca_file.clone(),
        }),
    )
    .await;
    let mut worker = stack.spawn_worker(&[]).await;
    // Ready means subscribed to the queue and both stores answering: all over TLS.
    worker.wait_ready().await;

    let id = stack.search("world 7").await;
    assert_eq!(
        stack
            .wait_status(id, TaskStatus::Success, Duration::from_secs(20))
            .await,
        TaskStatus::Success,
        "the worker ran the search"
    );
    assert_eq!(stack.hit_texts(id).await, ["hello world 7"]);
    assert!(worker.terminate(), "the worker stops cleanly");

    // A worker that cannot trust the broker's certificate stops at once, saying why,
    // instead of retrying for ever.
    let other_ca = broker.other_ca_file.display().to_string();
    let started = std::time::Instant::now();
    let out = stack.run_command_changed(
        &[("AMQP_CA_FILE", &other_ca), ("WORKER_METRICS_PORT", "0")],
        &[],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("TLS") && said.contains("unknown issuer"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

//! The `messenger-worker` binary: reads the configuration (the API's variables plus
//! `WORKER_CONCURRENCY` and `AMQP_PREFETCH`), connects the shared stores through the
//! composition root (`messenger-wiring`), and runs search tasks from RabbitMQ until SIGTERM/SIGINT. `main` only
//! wires; errors are printed and end the process with status 1.

use messenger_rabbitmq::AmqpTaskConsumer;
use messenger_wiring::logging;
use messenger_worker::{shutdown_signal, Worker, WorkerConfig, WorkerConfigError, WorkerOptions};
use std::process::ExitCode;
use std::sync::Arc;

/// Anything that stops the binary.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Config(#[from] WorkerConfigError),
    #[error(transparent)]
    Logging(#[from] logging::LoggingError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Start(#[from] messenger_wiring::StartError),
    #[error("AMQP_URL: {0}")]
    Amqp(#[from] messenger_rabbitmq::AmqpError),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "messenger-worker stopped");
            eprintln!("messenger-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), MainError> {
    let config = WorkerConfig::from_env()?;
    logging::init(&config.shared.logging)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.shared.server.workers_num {
        builder.worker_threads(n);
    }
    let runtime = builder.enable_all().build().map_err(MainError::Runtime)?;
    runtime.block_on(serve(config))
}

async fn serve(config: WorkerConfig) -> Result<(), MainError> {
    let amqp = config.amqp.clone();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        broker = %amqp.redacted_url(),
        queue = %amqp.queue,
        concurrency = config.concurrency,
        prefetch = config.prefetch,
        "messenger-worker: search tasks from RabbitMQ, stores in PostgreSQL and Redis"
    );
    let messenger = messenger_wiring::wire_worker(&config).await?;
    // The broker may still be starting: the consumer connects on its own, with back-off.
    let consumer = Arc::new(AmqpTaskConsumer::new(amqp)?);
    let options = WorkerOptions {
        concurrency: config.concurrency,
        drain_timeout: config.shared.server.shutdown_timeout,
        ..WorkerOptions::default()
    };
    Worker::new(messenger, consumer, options)
        .run(shutdown_signal())
        .await;
    Ok(())
}

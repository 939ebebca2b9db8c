//! The `messenger-worker` binary: reads the configuration (the API's variables plus
//! `WORKER_CONCURRENCY`, `AMQP_PREFETCH` and `WORKER_METRICS_PORT`), connects the shared
//! stores through the composition root (`messenger-wiring`), and runs search tasks and
//! dead letters from RabbitMQ until SIGTERM/SIGINT, serving `/metrics` and `/ping` beside.
//! Also `healthcheck` and `dead-letters list|requeue|purge` (see `cli`). `main` only
//! wires; errors are printed and end the process with status 1.

use messenger_rabbitmq::{AmqpTaskConsumer, QueueProbe};
use messenger_wiring::logging;
use messenger_worker::cli::{self, Command};
use messenger_worker::{
    health, metrics, operations, shutdown_signal, Worker, WorkerConfig, WorkerConfigError,
    WorkerOptions,
};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Anything that stops the binary.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Usage(#[from] cli::UsageError),
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
    #[error("cannot serve /metrics on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("unhealthy: {0}")]
    Health(#[from] health::HealthError),
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
    let command = cli::parse(std::env::args().skip(1))?;
    if command == Command::Help {
        println!("{}", cli::USAGE);
        return Ok(());
    }
    let config = WorkerConfig::from_env()?;
    let runtime = |threads: Option<usize>| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = threads {
            builder.worker_threads(n);
        }
        builder.enable_all().build().map_err(MainError::Runtime)
    };
    match command {
        Command::Healthcheck => runtime(Some(1))?
            .block_on(health::check(config.metrics_addr, Duration::from_secs(3)))
            .map_err(MainError::from),
        Command::DeadLetters(action) => runtime(Some(1))?.block_on(async {
            let messenger = match action {
                cli::DeadLetterAction::Requeue => {
                    Some(messenger_wiring::wire_worker(&config).await?)
                }
                _ => None,
            };
            operations::dead_letters(&config.amqp, action, messenger.as_ref()).await?;
            Ok(())
        }),
        Command::Run | Command::Help => {
            logging::init(&config.shared.logging)?;
            runtime(config.shared.server.workers_num)?.block_on(serve(config))
        }
    }
}

async fn serve(config: WorkerConfig) -> Result<(), MainError> {
    let amqp = config.amqp.clone();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        broker = %amqp.redacted_url(),
        queue = %amqp.queue,
        concurrency = config.concurrency,
        prefetch = config.prefetch,
        metrics = %config.metrics_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        "messenger-worker: search tasks from RabbitMQ, stores in PostgreSQL and Redis"
    );
    metrics::install();
    let messenger = messenger_wiring::wire_worker(&config).await?;
    // The broker may still be starting: the consumers connect on their own, with back-off.
    // A refused certificate does not heal by waiting, though: the worker stops at once,
    // saying why (any other failure of this first attempt is left to the back-off).
    let consumer = Arc::new(AmqpTaskConsumer::new(amqp.clone())?);
    if let Err(e @ messenger_rabbitmq::AmqpError::Handshake(_)) = consumer.connect().await {
        return Err(e.into());
    }
    let dead_letters = Arc::new(AmqpTaskConsumer::dead_letters(amqp.clone())?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut side_jobs = Vec::new();
    if let Some(addr) = config.metrics_addr {
        let listener = health::bind(addr)
            .await
            .map_err(|source| MainError::Bind { addr, source })?;
        tracing::info!(%addr, "serving /metrics and /ping");
        let readiness = health::Readiness {
            messenger: messenger.clone(),
            consumer: consumer.clone(),
        };
        side_jobs.push(tokio::spawn(health::serve(listener, readiness, stopped())));
        let probe = QueueProbe::new(amqp)?;
        side_jobs.push(tokio::spawn(operations::probe_queues(probe, stopped())));
    }
    let options = WorkerOptions {
        concurrency: config.concurrency,
        drain_timeout: config.shared.server.shutdown_timeout,
        ..WorkerOptions::default()
    };
    Worker::new(messenger, consumer, options)
        .with_dead_letters(dead_letters)
        .run(shutdown_signal())
        .await;
    stop_tx.send_replace(true);
    for job in side_jobs {
        let _ = job.await;
    }
    Ok(())
}

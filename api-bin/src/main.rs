//! The `messenger-api` binary: reads the configuration, then serves (the default), checks
//! health, or migrates. `main` only wires; errors are printed and end the process with
//! status 1.

use clap::Parser;
use messenger_api::cli::{self, Cli, Command};
use messenger_api::{config, healthcheck, logging, App, Config, Overrides};
use std::process::ExitCode;
use std::time::Duration;

/// Anything that stops the binary.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Config(#[from] messenger_api::ConfigError),
    #[error(transparent)]
    Logging(#[from] logging::LoggingError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Start(#[from] messenger_api::StartError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("unhealthy: {0}")]
    Health(#[from] healthcheck::HealthError),
    #[error(transparent)]
    Migrate(#[from] cli::MigrateError),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Also to the log when it is up (JSON collectors read stdout).
            tracing::error!(error = %e, "messenger-api stopped");
            eprintln!("messenger-api: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), MainError> {
    // `.env` first, so its values are part of the environment clap reads.
    config::load_dotenv()?;
    let cli = Cli::parse();
    let config = Config::from_raw(cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Healthcheck => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(MainError::Runtime)?;
            rt.block_on(healthcheck::check(&config, Duration::from_secs(3)))?;
            Ok(())
        }
        Command::Migrate { action } => {
            logging::init(&config.logging)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(MainError::Runtime)?;
            rt.block_on(cli::migrate(&config, action))?;
            Ok(())
        }
    }
}

fn serve(config: Config) -> Result<(), MainError> {
    logging::init(&config.logging)?;
    // The first line says where everything lives (in memory by default: data is lost).
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "messenger-api: {}",
        config.describe()
    );
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.server.workers_num {
        builder.worker_threads(n);
    }
    let runtime = builder.enable_all().build().map_err(MainError::Runtime)?;
    runtime.block_on(async move {
        let app = App::build(config, Overrides::default()).await?;
        tracing::info!(
            addr = %app.local_addr(),
            "serving on http://{} (docs at /docs)",
            app.local_addr()
        );
        app.run(shutdown_signal()).await.map_err(MainError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM (SIGINT only where there is no SIGTERM).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down, draining in-flight requests"),
        () = terminate => tracing::info!("SIGTERM: shutting down, draining in-flight requests"),
    }
}

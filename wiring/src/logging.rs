//! Logging: `tracing` to stdout, as text or one JSON object per line (`LOG_FORMAT`),
//! filtered by `RUST_LOG`. Access lines use the target `access` (turn them off with
//! `RUST_LOG=info,access=off`).

use crate::config::{LogFormat, Logging};
use tracing_subscriber::EnvFilter;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG: invalid filter {filter:?}: {reason}")]
    Filter {
        /// The filter.
        filter: String,
        /// Why.
        reason: String,
    },
    /// A subscriber was already installed.
    #[error("logging was already initialised")]
    AlreadySet,
}

/// Installs the global subscriber.
///
/// # Errors
/// A bad `RUST_LOG`, or a second initialisation.
pub fn init(config: &Logging) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|e| LoggingError::Filter {
        filter: config.filter.clone(),
        reason: e.to_string(),
    })?;
    // Colours only for a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|_| LoggingError::AlreadySet)
}

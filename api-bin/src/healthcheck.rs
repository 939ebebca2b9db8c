//! `messenger-api healthcheck`: one `GET /ping` on the configured port, for a container's
//! health check (the probe is the wiring's, shared with `messenger-worker healthcheck`).

pub use messenger_wiring::healthcheck::HealthError;
use messenger_wiring::Config;
use std::net::SocketAddr;
use std::time::Duration;

/// Asks the server configured by `config` for `GET /ping` within `timeout`.
///
/// # Errors
/// [`HealthError`] when it does not answer 200.
pub async fn check(config: &Config, timeout: Duration) -> Result<(), HealthError> {
    let addr = SocketAddr::new(config.server.host, config.server.port);
    messenger_wiring::healthcheck::ping(addr, timeout).await
}

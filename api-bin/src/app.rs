//! The application: built from a configuration (adapters connected, background jobs
//! started, listener bound), then run until a shutdown signal.

use crate::http::{self, gate::GateSettings, metrics::Metrics};
use messenger_ports::Messenger;
use messenger_wiring::{wire_api, Background, Config, ConfigError, Overrides, StartError};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{endpoint::BoxEndpoint, EndpointExt, Response, Server};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A built service, listening but not yet serving.
pub struct App {
    messenger: Messenger,
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    endpoint: BoxEndpoint<'static, Response>,
    background: Background,
    shutdown_timeout: Duration,
    closing: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Connects the configured adapters, starts the background jobs, and binds the
    /// listener (port 0 picks a free port: see [`App::local_addr`]). The port opens only
    /// once the service can answer.
    ///
    /// # Errors
    /// A [`StartError`] naming what could not be set up.
    pub async fn build(config: Config, overrides: Overrides) -> Result<App, StartError> {
        let auth_header = config.auth.header.parse().map_err(|_| {
            StartError::Config(ConfigError::Invalid {
                var: "AUTH_HEADER",
                value: format!("{:?}", config.auth.header),
                expected: "a header name",
            })
        })?;
        let wired = wire_api(&config, overrides).await?;
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        let endpoint = http::endpoint(GateSettings {
            messenger: wired.messenger.clone(),
            limiter: wired.request_limiter.clone(),
            auth_header,
            auth_scheme: config.auth.scheme.clone(),
            legacy: config.auth.disabled,
            trusted_proxies: config.server.trusted_proxies.clone(),
            request_timeout: config.server.request_timeout,
            dependency_timeout: config.server.dependency_timeout,
            metrics: Arc::new(Metrics::new()),
            api: crate::api::ApiOptions {
                rendered_page_bytes: config.cache.rendered_page_bytes(),
                streams_per_account: config.events.streams_per_account,
                closing: closing_rx,
            },
        })
        .boxed();
        let addr = SocketAddr::new(config.server.host, config.server.port);
        let acceptor = TcpListener::bind(addr)
            .into_acceptor()
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(addr);
        Ok(App {
            messenger: wired.messenger,
            acceptor,
            local_addr,
            endpoint,
            background: wired.background,
            shutdown_timeout: config.server.shutdown_timeout,
            closing,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The use cases, over the same ports the server uses (tests drive them directly).
    pub fn messenger(&self) -> &Messenger {
        &self.messenger
    }

    /// Serves until `shutdown` resolves, then stops accepting, ends the open event streams
    /// (their clients reconnect elsewhere), lets in-flight requests finish (at most the
    /// shutdown timeout, 30 s by default), and stops the background jobs.
    ///
    /// # Errors
    /// When the server fails to accept connections.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let closing = self.closing;
        let shutdown = async move {
            shutdown.await;
            let _ = closing.send(true);
        };
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(self.shutdown_timeout))
            .await;
        self.background.stop().await;
        result
    }

    /// The generated OpenAPI document, as served at `/openapi.json`.
    pub fn openapi_json() -> String {
        crate::api::spec_json(&crate::api::service(
            &messenger_wiring::spec_messenger(),
            crate::api::ApiOptions::for_spec(),
        ))
    }
}

//! The worker's own small HTTP endpoint (hyper, no web framework): `GET /metrics` (the
//! Prometheus text of the process) and `GET /ping` (200 when the broker subscription is up
//! and PostgreSQL and the task store answer, else 503), on `HOST:WORKER_METRICS_PORT`; and
//! `messenger-worker healthcheck`, which asks `/ping` for a container's health check.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Method, Request, Response};
use hyper_util::rt::TokioIo;
use messenger_ports::Messenger;
use messenger_rabbitmq::AmqpTaskConsumer;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long `/ping` waits for the stores before answering 503.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/ping` looks at.
#[derive(Clone)]
pub struct Readiness {
    /// The use cases, for their store checks.
    pub messenger: Messenger,
    /// The task consumer, whose subscription must be up.
    pub consumer: Arc<AmqpTaskConsumer>,
}

impl Readiness {
    /// `None` when ready, else what is not.
    pub async fn problem(&self) -> Option<&'static str> {
        if !self.consumer.is_connected() {
            return Some("the broker subscription is down");
        }
        let stores = async {
            if self.messenger.check_store().await.is_err() {
                return Some("PostgreSQL does not answer");
            }
            if self.messenger.check_task_store().await.is_err() {
                return Some("the task store does not answer");
            }
            None
        };
        tokio::time::timeout(PING_TIMEOUT, stores)
            .await
            .unwrap_or(Some("the stores do not answer in time"))
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn route(req: Request<Incoming>, readiness: Readiness) -> Answer {
    let text = "text/plain; charset=utf-8";
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => answer(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            messenger_wiring::metrics::render(),
        ),
        (&Method::GET, "/ping") => match readiness.problem().await {
            None => answer(200, text, ""),
            Some(why) => answer(503, text, why),
        },
        (_, "/metrics" | "/ping") => answer(405, text, "method not allowed"),
        _ => answer(404, text, "not found"),
    }
}

/// Binds `addr` (so a bad port stops start-up at once).
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `/metrics` and `/ping` on `listener` until `shutdown` resolves.
pub async fn serve<S>(listener: TcpListener, readiness: Readiness, shutdown: S)
where
    S: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let readiness = readiness.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let readiness = readiness.clone();
                async move { Ok::<_, std::convert::Infallible>(route(req, readiness).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // A scraper that never finishes its request is cut off.
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(30), conn).await {
                tracing::debug!(error = %e, "metrics endpoint: connection failed");
            }
        });
    }
}

/// Why `messenger-worker healthcheck` failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The endpoint is switched off.
    #[error("WORKER_METRICS_PORT is 0: the worker serves no /ping to check")]
    Disabled,
    /// No 200 from `/ping`.
    #[error(transparent)]
    Ping(#[from] messenger_wiring::healthcheck::HealthError),
}

/// Asks the worker's `/ping` at `addr` (an unspecified address is reached on loopback)
/// for a 200 within `timeout`.
///
/// # Errors
/// [`HealthError`] when it does not answer 200.
pub async fn check(addr: Option<SocketAddr>, timeout: Duration) -> Result<(), HealthError> {
    let addr = addr.ok_or(HealthError::Disabled)?;
    Ok(messenger_wiring::healthcheck::ping(addr, timeout).await?)
}

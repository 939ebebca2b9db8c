//! The gate: the middleware in front of every route. It knows the route table, so it can
//! answer in the contract's order before poem-openapi parses anything:
//! route (404/405) → authentication (401) → throttling (429) → body limit (400); then the
//! handler. It also gives each request an id, bounds its time (the whole request, and its
//! store calls together: [`Budget`]), and writes the access log.

use super::client_addr::{client_ip, peer_ip, ClientAddress};
use super::errors::{error_response, method_not_allowed, reduce};
use super::metrics::Metrics;
use super::payload::hex32;
use super::routes::{self, RouteMatch, RouteSpec, MAX_BODY_BYTES};
use super::security::{credentials, Credentials};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Limited};
use ipnet::IpNet;
use messenger_domain::{Caller, Error};
use messenger_ports::{Budget, Messenger, RateDecision, RateLimiter};
use poem::http::{header, HeaderName, HeaderValue};
use poem::{Endpoint, Request, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The request-id header (accepted from the client, always echoed).
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the gate needs.
pub struct GateSettings {
    /// The use cases (for `authenticate`).
    pub messenger: Messenger,
    /// The request throttle; `None` when in-app throttling is off.
    pub limiter: Option<Arc<dyn RateLimiter>>,
    /// The header holding the session.
    pub auth_header: HeaderName,
    /// The scheme word before the token.
    pub auth_scheme: String,
    /// Legacy mode: the header is ignored, every caller is the anonymous account.
    pub legacy: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Deadline for a whole request.
    pub request_timeout: Duration,
    /// The time one request may spend in store calls, all of them together.
    pub dependency_timeout: Duration,
    /// Request counts and latencies.
    pub metrics: Arc<Metrics>,
    /// What the routes need beyond the use cases.
    pub api: crate::api::ApiOptions,
}

/// The middleware around the API's router.
pub struct Gate<E> {
    inner: E,
    settings: GateSettings,
    ids: RequestIds,
}

impl<E> Gate<E> {
    /// Wraps `inner`.
    pub fn new(inner: E, settings: GateSettings) -> Self {
        Self {
            inner,
            settings,
            ids: RequestIds::new(),
        }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for Gate<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let start = Instant::now();
        let request_id = self.ids.for_request(&req);
        let method = req.method().clone();
        let route = routes::table().find(&method, req.uri().path());
        let timed = matches!(route, RouteMatch::Found(spec) if spec.deadline);
        let mut resp = if timed {
            // One budget for the request: its store calls share the dependency timeout and
            // none outlives the request's own deadline.
            let s = &self.settings;
            let budget = Budget::new(s.dependency_timeout, Some(s.request_timeout));
            let answer =
                tokio::time::timeout(s.request_timeout, budget.within(self.handle(req, route)));
            match answer.await {
                Ok(resp) => resp,
                Err(_) => {
                    tracing::warn!(request_id = ?request_id, "request timed out; answering 503");
                    error_response(&Error::ServiceUnavailable)
                }
            }
        } else {
            self.handle(req, route).await
        };
        resp.headers_mut()
            .insert(X_REQUEST_ID.clone(), request_id.clone());
        let latency = start.elapsed();
        let (template, logged, spec) = match route {
            RouteMatch::Found(spec) => (spec.template, spec.logged, Some(spec)),
            RouteMatch::MethodNotAllowed { template, .. } => (template, true, None),
            RouteMatch::NotFound => ("<unknown>", true, None),
        };
        self.settings.metrics.record(spec, resp.status(), latency);
        if logged {
            // Route templates only: a raw path would log chat ids, which are invitations.
            tracing::info!(
                target: "access",
                method = %method,
                route = template,
                status = resp.status().as_u16(),
                latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                request_id = request_id.to_str().unwrap_or_default(),
            );
        }
        Ok(resp)
    }
}

impl<E: Endpoint<Output = Response>> Gate<E> {
    async fn handle(&self, mut req: Request, route: RouteMatch<'_>) -> Response {
        let spec: &RouteSpec = match route {
            RouteMatch::Found(spec) => spec,
            RouteMatch::NotFound => return error_response(&Error::NotFound),
            RouteMatch::MethodNotAllowed { allow, .. } => return method_not_allowed(allow),
        };
        let s = &self.settings;

        let caller = if !spec.auth {
            None
        } else if s.legacy {
            Some(s.messenger.anonymous_caller())
        } else {
            match self.authenticate(&req).await {
                Ok(caller) => Some(caller),
                Err(e) => return error_response(&e),
            }
        };

        // The client's address keys throttling without a session, and the per-address
        // limits of register and login (the API routes without a session); health and
        // documentation never need it.
        let account = caller.filter(|c| c.session.is_some()).map(|c| c.account_id);
        let limiter = s.limiter.as_ref().filter(|_| spec.throttled);
        let public_api = spec.throttled && !spec.auth;
        let client =
            (public_api || (limiter.is_some() && account.is_none())).then(|| self.client(&req));
        if let Some(limiter) = limiter {
            let key = match (account, &client) {
                (Some(account), _) => format!("account:{account}"),
                (None, Some(client)) => format!("address:{}", client.as_str()),
                (None, None) => String::from("address:unknown"),
            };
            if let Some(e) = throttle(limiter.as_ref(), &key).await {
                return error_response(&e);
            }
        }

        if spec.template.contains('{') {
            if let Some(path) = routes::fill_empty_ids(req.uri().path()) {
                if let Some(uri) = with_path(req.uri(), &path) {
                    *req.uri_mut() = uri;
                }
            }
        }

        if spec.body {
            match read_body(&mut req).await {
                Ok(body) => req.set_body(body),
                Err(()) => return error_response(&Error::BadParameters),
            }
        }

        if let Some(client) = client {
            req.extensions_mut().insert(client);
        }
        if let Some(caller) = caller {
            req.extensions_mut().insert(caller);
        }
        match self.inner.call(req).await {
            Ok(resp) => resp,
            // Path parameters are strings, so the only path error is one the router could
            // not decode (`%FF`): an id that does not parse, so the resource's 404. Only
            // the gate knows the route, hence here rather than with the other catchers.
            Err(e)
                if e.is::<poem::error::ParsePathError>()
                    || e.is::<poem_openapi::error::ParsePathError>() =>
            {
                error_response(&spec.unknown_id())
            }
            Err(e) => {
                // The typed catchers turned every expected framework error into its
                // answer; anything reaching here is a bug to look at.
                tracing::error!(error = %e, status = %e.status(), route = spec.template, "unexpected error from the router; answering 500");
                error_response(&Error::InternalError)
            }
        }
    }

    /// The caller of a route that requires a session.
    async fn authenticate(&self, req: &Request) -> Result<Caller, Error> {
        let s = &self.settings;
        let value = req
            .headers()
            .get(&s.auth_header)
            .and_then(|v| v.to_str().ok());
        match credentials(value, &s.auth_scheme) {
            Credentials::Missing | Credentials::OtherScheme => Err(Error::AuthFailed),
            Credentials::Token(token) => s.messenger.authenticate(token).await.map_err(reduce),
        }
    }

    fn client(&self, req: &Request) -> ClientAddress {
        let Some(peer) = peer_ip(req.remote_addr()) else {
            return ClientAddress(Arc::from("unknown"));
        };
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        ClientAddress::of(client_ip(peer, forwarded, &self.settings.trusted_proxies))
    }
}

/// Counts the request against `key`'s budget (the account with a valid session, else the
/// client's address); `Some` error when over it. A limiter that cannot answer lets the
/// request through: throttling protects the service, and refusing everything while its
/// store is down would be the outage it is meant to prevent.
async fn throttle(limiter: &dyn RateLimiter, key: &str) -> Option<Error> {
    match limiter.check(key).await {
        Ok(RateDecision::Allowed) => None,
        Ok(RateDecision::Limited { retry_after }) => Some(Error::RequestLimitExceeded {
            retry_after_secs: whole_seconds_up(retry_after),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; letting the request through");
            None
        }
    }
}

/// `uri` with another path (the query kept).
fn with_path(uri: &poem::http::Uri, path: &str) -> Option<poem::http::Uri> {
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    poem::http::Uri::builder()
        .path_and_query(path_and_query)
        .build()
        .ok()
}

/// `Retry-After`: whole seconds, rounded up, at least 1.
fn whole_seconds_up(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`] — also when no
/// `Content-Length` was sent (poem's `SizeLimit` answers 411 then; the contract says 400).
async fn read_body(req: &mut Request) -> Result<Bytes, ()> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(());
    }
    let body: BoxBody<Bytes, std::io::Error> = req.take_body().into();
    Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| ())
}

/// Request ids: the client's `X-Request-Id` when it is 1–128 visible ASCII characters,
/// else a process prefix and a counter (unique, cheap, no RNG per request).
struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut seed = [0u8; 8];
        // Without OS randomness the ids are still unique within the process.
        let _ = getrandom::fill(&mut seed);
        Self {
            prefix: u64::from_le_bytes(seed),
            next: AtomicU64::new(1),
        }
    }

    fn for_request(&self, req: &Request) -> HeaderValue {
        if let Some(v) = req.headers().get(&X_REQUEST_ID) {
            let b = v.as_bytes();
            if (1..=128).contains(&b.len()) && b.iter().all(u8::is_ascii_graphic) {
                return v.clone();
            }
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = hex32((u128::from(self.prefix) << 64) | u128::from(n));
        HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("unknown"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_at_least_one() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn request_ids_are_taken_when_sane_and_generated_otherwise() {
        let ids = RequestIds::new();
        let req = Request::builder()
            .header("x-request-id", "abc-123")
            .finish();
        assert_eq!(ids.for_request(&req), "abc-123");
        let req = Request::builder()
            .header("x-request-id", "has space")
            .finish();
        let generated = ids.for_request(&req);
        assert_eq!(generated.len(), 32);
        let again = ids.for_request(&Request::default());
        assert_ne!(generated, again);
    }
}

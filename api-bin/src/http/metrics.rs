//! Prometheus metrics at `/metrics`, kept with the `metrics` facade and rendered by
//! `metrics-exporter-prometheus`: requests by route template and status, latency histograms
//! by route, rate-limited requests, and, recorded by the port decorators of
//! `messenger-wiring`, cache hits and misses, search tasks by status and queue publish
//! failures.
//!
//! The `metrics` facade has one recorder per process: the first
//! [`messenger_wiring::metrics::install`] sets it, and every app built in the process shares
//! it. Per-request recording goes through handles
//! registered once per (route, status) and kept here, so a request costs an array index and
//! a few atomic operations, not a registry lookup.

use super::routes::{RouteSpec, ROUTES};
use ::metrics::{Counter, Histogram};
use messenger_wiring::metrics::install;
use poem::http::StatusCode;
use std::sync::{Once, OnceLock};
use std::time::Duration;

/// Requests answered, by `method`, `route` (the template) and `status`.
pub const REQUESTS: &str = "messenger_http_requests_total";
/// Time to answer in seconds, by `method` and `route`.
pub const DURATION: &str = "messenger_http_request_duration_seconds";
/// Requests refused with 429 (request budget or login limits), by `method` and `route`.
pub const RATE_LIMITED: &str = "messenger_http_rate_limited_total";

/// The statuses counted one by one; the others are counted as `other`.
const STATUSES: [(u16, &str); 10] = [
    (200, "200"),
    (201, "201"),
    (400, "400"),
    (401, "401"),
    (404, "404"),
    (405, "405"),
    (422, "422"),
    (429, "429"),
    (500, "500"),
    (503, "503"),
];

/// Describes the request metrics (once per process).
fn describe() {
    use ::metrics::{describe_counter, describe_histogram, Unit};
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        describe_counter!(REQUESTS, "Requests answered, by route template and status.");
        describe_histogram!(
            DURATION,
            Unit::Seconds,
            "Time to answer, by route template."
        );
        describe_counter!(
            RATE_LIMITED,
            "Requests refused with 429, by route template."
        );
    });
}

/// The handles of one route (or of the requests that matched none).
struct Series {
    method: &'static str,
    route: &'static str,
    by_status: [OnceLock<Counter>; STATUSES.len() + 1],
    duration: OnceLock<Histogram>,
    rate_limited: OnceLock<Counter>,
}

impl Series {
    fn new(method: &'static str, route: &'static str) -> Self {
        Self {
            method,
            route,
            by_status: Default::default(),
            duration: OnceLock::new(),
            rate_limited: OnceLock::new(),
        }
    }
}

/// Request metrics for every route of the table, plus one series for requests that matched
/// no route (404/405). Handles are registered on first use, so a route never called adds
/// no lines to `/metrics`.
pub struct Metrics {
    series: Vec<Series>,
}

impl Metrics {
    /// Installs the recorder if needed and prepares the per-route series.
    pub fn new() -> Self {
        install();
        describe();
        let mut series: Vec<Series> = ROUTES
            .iter()
            .map(|r| Series::new(method_label(r), r.template))
            .collect();
        series.push(Series::new("", "<unmatched>"));
        Self { series }
    }

    /// Counts one answered request.
    pub fn record(&self, route: Option<&RouteSpec>, status: StatusCode, latency: Duration) {
        let index = route
            .and_then(|r| ROUTES.iter().position(|x| std::ptr::eq(x, r)))
            .unwrap_or(ROUTES.len());
        let Some(s) = self.series.get(index) else {
            return;
        };
        let code = status.as_u16();
        let slot = STATUSES
            .iter()
            .position(|&(c, _)| c == code)
            .unwrap_or(STATUSES.len());
        let (method, route) = (s.method, s.route);
        if let Some(counter) = s.by_status.get(slot) {
            let label = STATUSES.get(slot).map_or("other", |&(_, l)| l);
            counter
                .get_or_init(|| ::metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => label))
                .increment(1);
        }
        s.duration
            .get_or_init(|| ::metrics::histogram!(DURATION, "method" => method, "route" => route))
            .record(latency.as_secs_f64());
        if code == 429 {
            s.rate_limited
                .get_or_init(
                    || ::metrics::counter!(RATE_LIMITED, "method" => method, "route" => route),
                )
                .increment(1);
        }
    }

    /// The Prometheus text exposition of everything recorded in this process.
    pub fn render(&self) -> String {
        messenger_wiring::metrics::render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The route's method as a static label.
fn method_label(r: &RouteSpec) -> &'static str {
    use poem::http::Method;
    match r.method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_wiring::metrics::LATENCY_BUCKETS as BUCKETS;
    use metrics_exporter_prometheus::PrometheusBuilder;

    /// Records into a recorder of the test's own (the process-wide one is shared by every
    /// test), and renders it.
    fn recorded(f: impl FnOnce(&Metrics)) -> String {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || f(&Metrics::new()));
        handle.render()
    }

    #[test]
    fn counts_by_route_template_and_status() {
        let text = recorded(|m| {
            m.record(Some(&ROUTES[0]), StatusCode::OK, Duration::from_micros(300));
            m.record(Some(&ROUTES[0]), StatusCode::OK, Duration::from_millis(3));
            m.record(None, StatusCode::NOT_FOUND, Duration::from_micros(10));
            m.record(None, StatusCode::IM_A_TEAPOT, Duration::from_micros(10));
        });
        let ping = format!("method=\"GET\",route=\"{}\"", ROUTES[0].template);
        assert_eq!(ROUTES[0].template, "/ping");
        assert!(
            text.contains(&format!("{REQUESTS}{{{ping},status=\"200\"}} 2")),
            "{text}"
        );
        let unmatched = "method=\"\",route=\"<unmatched>\"";
        assert!(
            text.contains(&format!("{REQUESTS}{{{unmatched},status=\"404\"}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{REQUESTS}{{{unmatched},status=\"other\"}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{DURATION}_bucket{{{ping},le=\"0.0005\"}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{DURATION}_bucket{{{ping},le=\"0.005\"}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{DURATION}_count{{{ping}}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {DURATION} histogram")),
            "{text}"
        );
        assert!(!text.contains(RATE_LIMITED), "nothing was refused: {text}");
    }

    #[test]
    fn refused_requests_are_counted_as_rate_limited() {
        let chats = ROUTES
            .iter()
            .find(|r| r.template == "/v1/chats" && r.method == poem::http::Method::POST)
            .unwrap();
        let text = recorded(|m| {
            for _ in 0..3 {
                m.record(
                    Some(chats),
                    StatusCode::TOO_MANY_REQUESTS,
                    Duration::from_micros(50),
                );
            }
            m.record(Some(chats), StatusCode::CREATED, Duration::from_micros(50));
        });
        let labels = "method=\"POST\",route=\"/v1/chats\"";
        assert!(
            text.contains(&format!("{RATE_LIMITED}{{{labels}}} 3")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{REQUESTS}{{{labels},status=\"429\"}} 3")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{REQUESTS}{{{labels},status=\"201\"}} 1")),
            "{text}"
        );
    }

    #[test]
    fn routes_never_called_add_no_lines() {
        let text = recorded(|m| {
            m.record(Some(&ROUTES[0]), StatusCode::OK, Duration::from_micros(1));
        });
        assert!(!text.contains("/v1/chats"), "{text}");
    }

    #[test]
    fn the_process_recorder_renders_what_apps_record() {
        let m = Metrics::new();
        m.record(
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            Duration::from_micros(1),
        );
        let text = m.render();
        assert!(
            text.contains(&format!("# TYPE {REQUESTS} counter")),
            "{text}"
        );
        assert!(
            text.contains("route=\"<unmatched>\",status=\"405\"}"),
            "{text}"
        );
    }
}

//! Prometheus metrics at `/metrics`: requests by route and status, and latency histograms
//! by route. Counters are plain atomics, indexed by the route table, so recording costs a
//! few relaxed additions per request.

use super::routes::{RouteSpec, ROUTES};
use poem::http::StatusCode;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The statuses counted one by one; others are counted as `other`.
const STATUSES: [u16; 10] = [200, 201, 400, 401, 404, 405, 422, 429, 500, 503];

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 9] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 500_000, 2_500_000,
];

#[derive(Default)]
struct Series {
    by_status: [AtomicU64; STATUSES.len() + 1],
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// Request counters for every route of the table, plus one series for requests that
/// matched no route (404/405).
pub struct Metrics {
    series: Vec<Series>,
}

impl Metrics {
    /// Zeroed counters.
    pub fn new() -> Self {
        Self {
            series: (0..=ROUTES.len()).map(|_| Series::default()).collect(),
        }
    }

    /// Counts one answered request.
    pub fn record(&self, route: Option<&RouteSpec>, status: StatusCode, latency: Duration) {
        let index = route
            .and_then(|r| ROUTES.iter().position(|x| std::ptr::eq(x, r)))
            .unwrap_or(ROUTES.len());
        let Some(s) = self.series.get(index) else {
            return;
        };
        let status_slot = STATUSES
            .iter()
            .position(|&c| c == status.as_u16())
            .unwrap_or(STATUSES.len());
        s.by_status[status_slot].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = BUCKETS_US.iter().position(|&le| us <= le) {
            s.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        s.count.fetch_add(1, Ordering::Relaxed);
        s.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let label = |i: usize| match ROUTES.get(i) {
            Some(r) => format!("method=\"{}\",route=\"{}\"", r.method, r.template),
            None => "method=\"\",route=\"<unmatched>\"".to_owned(),
        };
        out.push_str(
            "# HELP messenger_http_requests_total Requests answered, by route and status.\n",
        );
        out.push_str("# TYPE messenger_http_requests_total counter\n");
        for (i, s) in self.series.iter().enumerate() {
            for (slot, n) in s.by_status.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES
                    .get(slot)
                    .map_or("other".to_owned(), u16::to_string);
                let _ = writeln!(
                    out,
                    "messenger_http_requests_total{{{},status=\"{status}\"}} {n}",
                    label(i)
                );
            }
        }
        out.push_str("# HELP messenger_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE messenger_http_request_duration_seconds histogram\n");
        for (i, s) in self.series.iter().enumerate() {
            let count = s.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let l = label(i);
            let mut cumulative = 0;
            for (b, le) in BUCKETS_US.iter().enumerate() {
                cumulative += s.buckets[b].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "messenger_http_request_duration_seconds_bucket{{{l},le=\"{}\"}} {cumulative}",
                    *le as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "messenger_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "messenger_http_request_duration_seconds_sum{{{l}}} {}",
                s.sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "messenger_http_request_duration_seconds_count{{{l}}} {count}"
            );
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_status() {
        let m = Metrics::new();
        m.record(Some(&ROUTES[0]), StatusCode::OK, Duration::from_micros(300));
        m.record(Some(&ROUTES[0]), StatusCode::OK, Duration::from_millis(3));
        m.record(None, StatusCode::NOT_FOUND, Duration::from_micros(10));
        let text = m.render();
        assert!(
            text.contains(
                "messenger_http_requests_total{method=\"GET\",route=\"/ping\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("route=\"<unmatched>\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(text.contains("route=\"/ping\",le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains("route=\"/ping\",le=\"0.005\"} 2"), "{text}");
        assert!(text.contains(
            "messenger_http_request_duration_seconds_count{method=\"GET\",route=\"/ping\"} 2"
        ));
    }
}

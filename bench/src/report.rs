//! The plain-text result table.

use std::fmt::Write as _;

use crate::load::Outcome;

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The measurement.
    pub outcome: Outcome,
}

/// Renders the table: one row per measurement; the last column is its
/// throughput divided by `limit_ping` (the limit server's GET /ping req/s).
pub fn table(rows: &[Row], limit_ping: Option<f64>) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>6}  {:>10}  {:>8}  {:>8}  {:>14}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p99 ms", "vs limit /ping"
    );
    let _ = writeln!(out, "{}", "-".repeat(width + 69));
    for row in rows {
        let o = &row.outcome;
        let fraction = match limit_ping {
            Some(limit) if limit > 0.0 => format!("{:.3}", o.rate() / limit),
            Some(_) | None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>6}  {:>10.1}  {:>8.3}  {:>8.3}  {:>14}",
            row.name,
            o.ok,
            o.errors,
            o.rate(),
            o.quantile_ms(0.5),
            o.quantile_ms(0.99),
            fraction
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use std::time::Duration;

    fn outcome(ok: u64, secs: u64, micros: u64) -> Outcome {
        let mut latency = Histogram::new_with_bounds(1, 1_000_000, 3).unwrap();
        for _ in 0..ok {
            latency.record(micros).unwrap();
        }
        Outcome {
            ok,
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(secs),
            latency,
        }
    }

    #[test]
    fn rows_show_rate_latency_and_the_fraction_of_the_limit() {
        let rows = [
            Row {
                name: "limit GET /ping".into(),
                outcome: outcome(2000, 1, 100),
            },
            Row {
                name: "GET /ping".into(),
                outcome: outcome(1000, 1, 2000),
            },
        ];
        let text = table(&rows, Some(2000.0));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("scenario"));
        assert!(lines[2].ends_with("1.000"), "{}", lines[2]);
        let cells: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            cells[2..],
            ["1000", "0", "1000.0", "2.000", "2.000", "0.500"]
        );
    }

    #[test]
    fn without_a_limit_the_fraction_is_a_dash() {
        let rows = [Row {
            name: "GET /ping".into(),
            outcome: outcome(10, 1, 100),
        }];
        assert!(table(&rows, None).lines().nth(2).unwrap().ends_with('-'));
    }
}

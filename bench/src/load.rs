//! The load driver: a fixed set of workers, one connection each, running
//! closed-loop (each sends its next request when the previous answered) for
//! a warm-up and a measured period, or until a shared count is used up.
//!
//! Every worker records its own latencies in its own histogram (no shared
//! lock on the hot path); the histograms are merged at the end.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Barrier;

use crate::conn::Conn;
use crate::error::BenchError;
use crate::target::Target;

/// Latencies are recorded in microseconds, from 1 µs to this bound
/// (larger values saturate), with 3 significant digits.
const MAX_RECORDED_MICROS: u64 = 120_000_000;

/// One closed-loop client: each `step` is one measured operation (usually
/// one request; a search round trip is several).
pub trait Worker: Send + 'static {
    /// Performs one operation over `conn`.
    fn step(&mut self, conn: &mut Conn) -> impl Future<Output = Result<(), BenchError>> + Send;
}

/// How long the workers run.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// Unrecorded warm-up, then a measured period.
    Timed {
        /// Operations started before this much time are not recorded.
        warmup: Duration,
        /// Then operations are recorded for this long.
        measure: Duration,
    },
    /// Exactly `total` operations between all workers (each recorded),
    /// stopping early at `deadline` whatever is left.
    Count {
        /// Operations to perform.
        total: u64,
        /// The most time the run may take.
        deadline: Duration,
    },
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Recorded operations that succeeded.
    pub ok: u64,
    /// Recorded operations that failed.
    pub errors: u64,
    /// The first error seen, to explain a non-zero `errors`.
    pub first_error: Option<String>,
    /// The measured period (for a counted run, the time it took).
    pub elapsed: Duration,
    /// Latency of the successful operations, in microseconds.
    pub latency: Histogram<u64>,
}

impl Outcome {
    fn empty() -> Result<Self, BenchError> {
        Ok(Self {
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latency: new_histogram()?,
        })
    }

    /// Successful operations per second of the measured period.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn absorb(&mut self, other: Tally) -> Result<(), BenchError> {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency
            .add(&other.latency)
            .map_err(|e| BenchError::Option(format!("merging histograms: {e:?}")))
    }
}

fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_RECORDED_MICROS, 3)
        .map_err(|e| BenchError::Option(format!("histogram bounds: {e:?}")))
}

/// One worker's counts.
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

/// Decides, before each operation, whether to run it and whether to record it.
#[derive(Clone)]
enum Gate {
    Timed {
        record_from: Instant,
        end: Instant,
    },
    Count {
        remaining: Arc<AtomicU64>,
        end: Instant,
    },
}

enum Admit {
    Stop,
    Unrecorded,
    Recorded,
}

impl Gate {
    fn new(budget: Budget, start: Instant) -> Self {
        match budget {
            Budget::Timed { warmup, measure } => Self::Timed {
                record_from: start + warmup,
                end: start + warmup + measure,
            },
            Budget::Count { total, deadline } => Self::Count {
                remaining: Arc::new(AtomicU64::new(total)),
                end: start + deadline,
            },
        }
    }

    fn admit(&self, now: Instant) -> Admit {
        match self {
            Self::Timed { record_from, end } => {
                if now >= *end {
                    Admit::Stop
                } else if now >= *record_from {
                    Admit::Recorded
                } else {
                    Admit::Unrecorded
                }
            }
            Self::Count { remaining, end } => {
                if now >= *end {
                    return Admit::Stop;
                }
                let took = remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                if took.is_ok() {
                    Admit::Recorded
                } else {
                    Admit::Stop
                }
            }
        }
    }
}

/// Runs `workers` (one connection each) under `budget` and merges what they
/// measured. All connections are opened before the clock starts.
///
/// # Errors
/// A connection that cannot be opened at start, or a worker task that
/// panicked. Failed operations during the run are counted, not returned.
pub async fn drive<W: Worker>(
    target: &Arc<Target>,
    request_timeout: Duration,
    budget: Budget,
    workers: Vec<W>,
) -> Result<Outcome, BenchError> {
    let mut conns = Vec::with_capacity(workers.len());
    for _ in &workers {
        let mut conn = Conn::new(Arc::clone(target), request_timeout);
        conn.open().await?;
        conns.push(conn);
    }
    // The driver and every worker meet here, so the schedule starts when
    // all are ready.
    let barrier = Arc::new(Barrier::new(workers.len() + 1));
    let start_cell = Arc::new(std::sync::OnceLock::new());
    let mut tasks = Vec::with_capacity(workers.len());
    for (worker, conn) in workers.into_iter().zip(conns) {
        let barrier = Arc::clone(&barrier);
        let start_cell = Arc::clone(&start_cell);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let gate: Gate = match start_cell.get() {
                Some(gate) => Gate::clone(gate),
                None => return Err(BenchError::Option("run started without a schedule".into())),
            };
            run_worker(worker, conn, gate).await
        }));
    }
    let start = Instant::now();
    let _ = start_cell.set(Gate::new(budget, start));
    barrier.wait().await;

    let mut outcome = Outcome::empty()?;
    for task in tasks {
        outcome.absorb(task.await??)?;
    }
    outcome.elapsed = match budget {
        Budget::Timed { measure, .. } => measure,
        Budget::Count { .. } => start.elapsed(),
    };
    Ok(outcome)
}

async fn run_worker<W: Worker>(
    mut worker: W,
    mut conn: Conn,
    gate: Gate,
) -> Result<Tally, BenchError> {
    let mut tally = Tally {
        ok: 0,
        errors: 0,
        first_error: None,
        latency: new_histogram()?,
    };
    loop {
        let began = Instant::now();
        let recorded = match gate.admit(began) {
            Admit::Stop => break,
            Admit::Unrecorded => false,
            Admit::Recorded => true,
        };
        let result = worker.step(&mut conn).await;
        let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        match result {
            Ok(()) if recorded => {
                tally.ok += 1;
                tally.latency.saturating_record(micros.max(1));
            }
            Ok(()) => {}
            Err(error) => {
                if recorded {
                    tally.errors += 1;
                    if tally.first_error.is_none() {
                        tally.first_error = Some(error.to_string());
                    }
                }
                // A refused connection fails at once: pause briefly so a
                // down server is not hammered in a tight loop.
                if error.breaks_connection() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_gate_warms_up_then_records_then_stops() {
        let start = Instant::now();
        let gate = Gate::new(
            Budget::Timed {
                warmup: Duration::from_secs(1),
                measure: Duration::from_secs(2),
            },
            start,
        );
        assert!(matches!(gate.admit(start), Admit::Unrecorded));
        assert!(matches!(
            gate.admit(start + Duration::from_millis(1500)),
            Admit::Recorded
        ));
        assert!(matches!(
            gate.admit(start + Duration::from_secs(3)),
            Admit::Stop
        ));
    }

    #[test]
    fn a_counted_gate_admits_exactly_its_total_across_clones() {
        let start = Instant::now();
        let gate = Gate::new(
            Budget::Count {
                total: 3,
                deadline: Duration::from_secs(60),
            },
            start,
        );
        let other = gate.clone();
        let admitted = [&gate, &other, &gate, &other, &gate]
            .iter()
            .filter(|g| matches!(g.admit(start), Admit::Recorded))
            .count();
        assert_eq!(admitted, 3);
        assert!(matches!(other.admit(start), Admit::Stop));
    }

    #[test]
    fn a_counted_gate_stops_at_its_deadline() {
        let start = Instant::now();
        let gate = Gate::new(
            Budget::Count {
                total: 100,
                deadline: Duration::from_secs(1),
            },
            start,
        );
        assert!(matches!(
            gate.admit(start + Duration::from_secs(2)),
            Admit::Stop
        ));
    }

    #[test]
    fn rates_and_quantiles_come_from_the_merged_counts() {
        let mut outcome = Outcome::empty().unwrap();
        let mut latency = new_histogram().unwrap();
        for micros in 1..=100 {
            latency.record(micros * 1000).unwrap();
        }
        outcome
            .absorb(Tally {
                ok: 100,
                errors: 1,
                first_error: Some("x".into()),
                latency,
            })
            .unwrap();
        outcome.elapsed = Duration::from_secs(2);
        assert!((outcome.rate() - 50.0).abs() < 1e-9);
        assert!((outcome.quantile_ms(0.5) - 50.0).abs() < 0.1);
        assert!((outcome.quantile_ms(0.99) - 99.0).abs() < 0.1);
        assert_eq!(outcome.errors, 1);
    }
}

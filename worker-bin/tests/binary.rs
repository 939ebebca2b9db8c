//! The `messenger-worker` binary refuses to start without the services it needs, at once
//! and naming the missing variables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the binary with only `vars` set, from a directory without a `.env`.
fn run_with(vars: &[(&str, &str)]) -> (Output, Duration) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("worker-no-dotenv");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_messenger-worker"));
    cmd.env_clear().current_dir(&dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    (out, started.elapsed())
}

#[test]
fn without_any_service_it_exits_at_once_naming_all_three() {
    let (out, took) = run_with(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for var in ["AMQP_URL", "DATABASE_URL", "REDIS_URL"] {
        assert!(err.contains(var), "stderr should name {var}: {err}");
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn with_only_a_queue_it_names_the_missing_stores() {
    let (out, _) = run_with(&[("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATABASE_URL") && err.contains("REDIS_URL"),
        "{err}"
    );
    assert!(
        !err.contains("guest:guest"),
        "no credentials in errors: {err}"
    );
}

#[test]
fn a_bad_concurrency_is_named() {
    let (out, _) = run_with(&[
        ("AMQP_URL", "amqp://127.0.0.1:5672/%2f"),
        ("DATABASE_URL", "postgres://root@127.0.0.1:5432/test"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("WORKER_CONCURRENCY", "zero"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WORKER_CONCURRENCY"), "{err}");
}

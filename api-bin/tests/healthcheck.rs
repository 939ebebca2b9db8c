//! `messenger-api healthcheck`, as a container's health check runs it: against a running
//! `messenger-api` on the configured port it exits 0; against a port nobody listens on it
//! exits non-zero (and says why), within its few seconds.
//!
//! The service runs in memory: no backing service is needed.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test: failing loudly is the point

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_messenger-api");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// The binary with only the variables given (nothing from the test's environment).
fn command(port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn");
    cmd
}

/// A served `messenger-api`, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(port: u16) -> Server {
    let child = command(port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("messenger-api starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("messenger-api did not listen within 30 s");
}

fn healthcheck(port: u16) -> (Output, Duration) {
    let started = Instant::now();
    let output = command(port)
        .arg("healthcheck")
        .output()
        .expect("messenger-api healthcheck runs");
    (output, started.elapsed())
}

#[test]
fn healthcheck_exits_0_against_a_running_service_and_non_zero_against_a_closed_port() {
    let port = free_port();
    let _server = serve(port);
    let (ok, took) = healthcheck(port);
    assert!(
        ok.status.success(),
        "healthcheck against a running service: {:?}, stderr: {}",
        ok.status,
        String::from_utf8_lossy(&ok.stderr)
    );
    println!("healthcheck of a running service: {took:?}");

    let closed = free_port();
    let (failed, took) = healthcheck(closed);
    assert!(
        !failed.status.success(),
        "healthcheck against a closed port exited {:?}",
        failed.status
    );
    assert!(
        took < Duration::from_secs(10),
        "healthcheck against a closed port took {took:?}"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(&closed.to_string()),
        "the failure names the address it tried: {stderr}"
    );
}

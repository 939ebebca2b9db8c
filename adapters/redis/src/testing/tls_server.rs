//! A throw-away Redis that speaks TLS only (`--port 0`), for tests: a server certificate
//! for `localhost` signed by a CA made at run time, on a free port of 127.0.0.1, nothing
//! saved to disk. Stopped (SIGTERM, by its PID) and its directory removed when dropped.

use messenger_tls::testing::{free_port, ScratchDir, ServerProcess, TestCa};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A running TLS-only Redis. Field order matters: the server stops before its directory
/// is removed.
pub struct TlsRedis {
    server: ServerProcess,
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    /// The CA that signed the server's certificate (trust it to connect).
    pub ca_file: PathBuf,
    /// A CA that signed nothing here (trusting only it must fail).
    pub other_ca_file: PathBuf,
    dir: ScratchDir,
}

impl TlsRedis {
    /// Starts one, or returns `None` (after saying why the test is skipped) when
    /// `redis-server` is not installed or was built without TLS.
    ///
    /// # Panics
    /// When it does not listen within 20 s (with its log).
    pub fn start(test: &str) -> Option<Self> {
        let program = std::env::var_os("MESSENGER_TEST_REDIS_SERVER")
            .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from);
        if !supports_tls(&program) {
            println!(
                "skipped: {test} needs a redis-server built with TLS (set \
                 MESSENGER_TEST_REDIS_SERVER or install Redis 6 or later)"
            );
            return None;
        }
        let dir = ScratchDir::new("redis-tls");
        let ca = TestCa::new("messenger test CA");
        let ca_file = ca.write_cert(dir.path(), "ca.crt");
        let other_ca_file = TestCa::new("another CA").write_cert(dir.path(), "other-ca.crt");
        let (cert, key) = ca.issue(&["localhost"]).write(dir.path(), "server");
        let port = free_port();
        let mut command = std::process::Command::new(&program);
        command
            .args(["--port", "0", "--bind", "127.0.0.1", "--tls-port"])
            .arg(port.to_string())
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&ca_file)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path());
        let mut server = ServerProcess::start(command, dir.path().join("server.log"), "TERM");
        server.wait_for_port(port, Duration::from_secs(20));
        Some(Self {
            server,
            port,
            ca_file,
            other_ca_file,
            dir,
        })
    }

    /// A `rediss://` URL through `host` (`localhost` is the name in the certificate;
    /// `127.0.0.1` is not).
    pub fn url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.port)
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// The scratch directory (certificates, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Whether `program` runs and was built with TLS: given a TLS port without a key, a
/// build with TLS says it cannot configure TLS and exits; one without refuses the option
/// as unknown ("Bad directive").
fn supports_tls(program: &Path) -> bool {
    let Ok(mut child) = std::process::Command::new(program)
        .args(["--port", "0", "--tls-port", "1", "--save", ""])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return false;
    };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().is_ok_and(|o| {
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        text.contains("tls-key-file") || text.contains("configure TLS")
    })
}

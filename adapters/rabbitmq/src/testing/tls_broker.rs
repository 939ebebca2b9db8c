//! A throw-away RabbitMQ node that speaks TLS only, for tests: a second node beside the
//! machine's own (its own node name, distribution port, data and log directories in a
//! scratch directory, no plugins), `listeners.tcp = none` and one `listeners.ssl` on a
//! free port of 127.0.0.1 with a server certificate for `localhost` signed by a CA made at
//! run time. Its Erlang cookie is made in the scratch directory (its `HOME`). Stopped
//! (SIGTERM, by its PID) and its directory removed when dropped. Starting one takes some
//! seconds, so tests share one where they can.

use messenger_tls::testing::{free_port, ScratchDir, ServerProcess, TestCa};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A running TLS-only node. Field order matters: the node stops before its directory is
/// removed.
pub struct TlsBroker {
    server: ServerProcess,
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    /// The CA that signed the node's certificate (trust it to connect).
    pub ca_file: PathBuf,
    /// A CA that signed nothing here (trusting only it must fail).
    pub other_ca_file: PathBuf,
    dir: ScratchDir,
}

impl TlsBroker {
    /// Starts one, or returns `None` (after saying why the test is skipped) when the
    /// RabbitMQ server is not installed.
    ///
    /// # Panics
    /// When it does not listen within 90 s (with its log).
    pub fn start(test: &str) -> Option<Self> {
        let program = std::env::var_os("MESSENGER_TEST_RABBITMQ_SERVER").map_or_else(
            || PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server"),
            PathBuf::from,
        );
        if !program.exists() {
            println!(
                "skipped: {test} needs the RabbitMQ server ({}; set \
                 MESSENGER_TEST_RABBITMQ_SERVER to another path)",
                program.display()
            );
            return None;
        }
        static NODES: AtomicU64 = AtomicU64::new(0);
        let dir = ScratchDir::new("rabbitmq-tls");
        let ca = TestCa::new("messenger test CA");
        let ca_file = ca.write_cert(dir.path(), "ca.crt");
        let other_ca_file = TestCa::new("another CA").write_cert(dir.path(), "other-ca.crt");
        let (cert, key) = ca.issue(&["localhost"]).write(dir.path(), "server");
        let port = free_port();
        let config = format!(
            "listeners.tcp = none\n\
             listeners.ssl.default = 127.0.0.1:{port}\n\
             ssl_options.cacertfile = {}\n\
             ssl_options.certfile = {}\n\
             ssl_options.keyfile = {}\n\
             ssl_options.verify = verify_none\n\
             ssl_options.fail_if_no_peer_cert = false\n\
             loopback_users.guest = true\n",
            ca_file.display(),
            cert.display(),
            key.display()
        );
        write(&dir.path().join("rabbitmq.conf"), &config);
        write(&dir.path().join("enabled_plugins"), "[].\n");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("cannot create HOME: {e}"));
        let node = format!(
            "messenger-tls-{}-{}@localhost",
            std::process::id(),
            NODES.fetch_add(1, Ordering::Relaxed)
        );
        let mut command = std::process::Command::new(&program);
        command
            .current_dir(dir.path())
            .env("HOME", &home)
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_PORT", free_port().to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.path().join("rabbitmq"))
            .env(
                "RABBITMQ_ADVANCED_CONFIG_FILE",
                dir.path().join("advanced.config"),
            )
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                dir.path().join("enabled_plugins"),
            )
            .env("RABBITMQ_MNESIA_BASE", dir.path().join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.path().join("log"));
        // The script ends in `exec erl`, so the PID is the node's.
        let mut server = ServerProcess::start(command, dir.path().join("server.log"), "TERM");
        server.wait_for_port(port, Duration::from_secs(90));
        Some(Self {
            server,
            port,
            ca_file,
            other_ca_file,
            dir,
        })
    }

    /// An `amqps://` URL (guest, vhost `/`) through `host` (`localhost` is the name in the
    /// certificate; `127.0.0.1` is not).
    pub fn url(&self, host: &str) -> String {
        format!("amqps://guest:guest@{host}:{}/%2f", self.port)
    }

    /// The node's PID.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// The scratch directory (certificates, data, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

//! A throw-away PostgreSQL cluster that speaks TLS only, for tests: `initdb` into a scratch
//! directory, a server certificate for `localhost` signed by a CA made at run time,
//! `ssl = on`, and a `pg_hba.conf` whose only lines are `hostssl` (so a plain connection
//! is refused). It listens on a free port of 127.0.0.1 and is stopped (fast shutdown, by
//! its PID) and removed when dropped. PostgreSQL refuses to run as root, so under root it
//! runs as the `postgres` user.

use messenger_tls::testing::{command_as, free_port, give_to, ScratchDir, ServerProcess, TestCa};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The user the cluster runs as when the tests run as root.
const SERVER_USER: &str = "postgres";

/// A running TLS-only cluster. Field order matters: the server stops before its directory
/// is removed.
pub struct TlsCluster {
    server: ServerProcess,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The CA that signed the server's certificate (trust it to connect).
    pub ca_file: PathBuf,
    /// A CA that signed nothing here (trusting only it must fail).
    pub other_ca_file: PathBuf,
    dir: ScratchDir,
}

impl TlsCluster {
    /// Starts one, or returns `None` (after saying why the test is skipped) when the
    /// PostgreSQL server programs are not installed, or the tests run as root without a
    /// `postgres` user.
    ///
    /// # Panics
    /// When a step fails or the server does not listen within 30 s (with its log).
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = server_bin_dir() else {
            println!(
                "skipped: {test} needs PostgreSQL's server programs (initdb, postgres): \
                 set MESSENGER_TEST_PG_BIN or install them under /usr/lib/postgresql/<version>/bin"
            );
            return None;
        };
        if messenger_tls::testing::running_as_root() && !user_exists(SERVER_USER) {
            println!(
                "skipped: {test} runs as root and needs a `{SERVER_USER}` user to run PostgreSQL"
            );
            return None;
        }
        let dir = ScratchDir::new("pg-tls");
        let data = dir.path().join("data");
        let ca = TestCa::new("messenger test CA");
        let ca_file = ca.write_cert(dir.path(), "ca.crt");
        let other_ca_file = TestCa::new("another CA").write_cert(dir.path(), "other-ca.crt");
        give_to(SERVER_USER, dir.path());

        let init = command_as(SERVER_USER, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );

        ca.issue(&["localhost"]).write(&data, "server");
        let port = free_port();
        append(
            &data.join("postgresql.conf"),
            &format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
                 ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                 fsync = off\nmax_connections = 30\nshared_buffers = 16MB\n",
                dir.path().display()
            ),
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "# TLS only: a connection without it matches no line and is refused.\n\
             hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap_or_else(|e| panic!("cannot write pg_hba.conf: {e}"));
        give_to(SERVER_USER, dir.path());

        let mut postgres = command_as(SERVER_USER, &bin.join("postgres"));
        postgres.arg("-D").arg(&data);
        // SIGINT: PostgreSQL's fast shutdown.
        let mut server = ServerProcess::start(postgres, dir.path().join("server.log"), "INT");
        server.wait_for_port(port, Duration::from_secs(30));
        Some(Self {
            server,
            port,
            ca_file,
            other_ca_file,
            dir,
        })
    }

    /// A URL to the cluster's `postgres` database through `host` (`localhost` is the name
    /// in the certificate; `127.0.0.1` is not), with the query `params` (e.g.
    /// `sslmode=verify-full&sslrootcert=…`).
    pub fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// The scratch directory (certificates, data, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// `MESSENGER_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` that has
/// `initdb`.
fn server_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MESSENGER_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn user_exists(user: &str) -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

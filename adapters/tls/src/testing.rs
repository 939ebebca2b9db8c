//! A certificate authority made at run time, for tests against local TLS servers: its
//! certificate (the CA file a client trusts) and server certificates it signs for given
//! names; and what starting a throw-away server for such a test takes (a scratch
//! directory, a free port, running as the server's own user when root, stopping it by its
//! PID). Nothing here is meant for production.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A self-signed CA.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, both PEM.
#[derive(Clone)]
pub struct ServerCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl TestCa {
    /// A new CA whose certificate is named `name`.
    ///
    /// # Panics
    /// When rcgen cannot make a key or sign (a test set-up failure).
    #[allow(clippy::expect_used)]
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Self { issuer }
    }

    /// The CA's certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA's certificate to `dir/file` and returns the path.
    ///
    /// # Panics
    /// When the file cannot be written.
    #[allow(clippy::expect_used)]
    pub fn write_cert(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.cert_pem()).expect("write the CA file");
        path
    }

    /// A server certificate for `names` (host names, or IP addresses as text), signed by
    /// this CA.
    ///
    /// # Panics
    /// When rcgen cannot make a key or sign.
    #[allow(clippy::expect_used)]
    pub fn issue(&self, names: &[&str]) -> ServerCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl ServerCert {
    /// Writes `dir/<stem>.crt` and `dir/<stem>.key` (the key readable by its owner only)
    /// and returns their paths.
    ///
    /// # Panics
    /// When a file cannot be written.
    #[allow(clippy::expect_used)]
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write the certificate");
        std::fs::write(&key, &self.key_pem).expect("write the key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("key permissions");
        (cert, key)
    }

    /// rustls server settings presenting this certificate (for in-process TLS servers).
    ///
    /// # Panics
    /// When the PEM does not parse.
    #[allow(clippy::expect_used)]
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("key PEM");
        let config = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        Arc::new(config)
    }
}

/// A scratch directory, removed with everything in it when dropped (also when a test
/// fails).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory under the system's temporary directory, named after `what`.
    ///
    /// # Panics
    /// When it cannot be created.
    #[allow(clippy::expect_used)]
    pub fn new(what: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("messenger-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot be told to
/// pick one themselves).
///
/// # Panics
/// When no port can be bound.
#[allow(clippy::expect_used)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether this process runs as root (servers such as PostgreSQL refuse to, so tests
/// start them as their own user).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command running `program` as `user` when this process is root (through `setpriv`,
/// which replaces itself with the program, so the child's PID is the server's), else as
/// this process's user.
pub fn command_as(user: &str, program: &Path) -> std::process::Command {
    if running_as_root() {
        let mut c = std::process::Command::new("setpriv");
        c.arg(format!("--reuid={user}"))
            .arg(format!("--regid={user}"))
            .arg("--init-groups")
            .arg("--")
            .arg(program);
        c
    } else {
        std::process::Command::new(program)
    }
}

/// Gives `path` (recursively) to `user` when this process is root; otherwise nothing.
///
/// # Panics
/// When `chown` fails.
#[allow(clippy::expect_used)]
pub fn give_to(user: &str, path: &Path) {
    if running_as_root() {
        let ok = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(path)
            .status()
            .expect("run chown")
            .success();
        assert!(ok, "chown -R {user} {}", path.display());
    }
}

/// A server process started by a test: asked to stop (`signal`) when dropped, then killed
/// if it has not stopped within a few seconds. Only this process is signalled, by its PID.
pub struct ServerProcess {
    child: std::process::Child,
    signal: &'static str,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `command` with its output appended to `log`.
    ///
    /// # Panics
    /// When it cannot be started.
    #[allow(clippy::expect_used)]
    pub fn start(mut command: std::process::Command, log: PathBuf, signal: &'static str) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the server's log");
        let err = out.try_clone().expect("clone the log handle");
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the server");
        Self { child, signal, log }
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited already.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log (for a failure message).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until 127.0.0.1:`port` accepts connections, at most `limit`.
    ///
    /// # Panics
    /// When it does not, or the server exits first (with its log's tail).
    pub fn wait_for_port(&mut self, port: u16, limit: std::time::Duration) {
        let until = std::time::Instant::now() + limit;
        loop {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
                .is_ok()
            {
                return;
            }
            if self.has_exited() {
                panic!("the server exited before listening:\n{}", self.log_tail());
            }
            if std::time::Instant::now() > until {
                panic!(
                    "the server did not listen on {port} within {limit:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.has_exited() {
            return;
        }
        let _ = std::process::Command::new("kill")
            .arg("-s")
            .arg(self.signal)
            .arg(self.child.id().to_string())
            .status();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if self.has_exited() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

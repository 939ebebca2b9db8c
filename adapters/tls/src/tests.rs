//! Handshakes over an in-memory pipe against a server whose certificate a test CA signed.

use super::*;
use crate::testing::{ServerCert, TestCa};
use rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Runs one handshake: the client connects to `name` with `client`; the server presents
/// `cert`. Returns the client's error, if any.
async fn handshake(
    client: ClientConfig,
    name: &str,
    cert: &ServerCert,
) -> Result<(), std::io::Error> {
    let (c, s) = tokio::io::duplex(64 * 1024);
    let acceptor = TlsAcceptor::from(cert.server_config());
    let server = tokio::spawn(async move {
        // The server's side fails too when the client refuses; only the client's counts.
        let _ = acceptor.accept(s).await;
    });
    let name = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    let outcome = TlsConnector::from(Arc::new(client))
        .connect(name, c)
        .await
        .map(drop);
    server.abort();
    outcome
}

fn ca_file(ca: &TestCa) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let path = ca.write_cert(dir.path(), "ca.crt");
    (dir, path)
}

mod tempdir {
    /// A directory removed when dropped.
    pub(super) struct Dir(std::path::PathBuf);
    impl Dir {
        pub(super) fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "messenger-tls-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub(super) fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}

#[tokio::test]
async fn full_verification_accepts_the_right_ca_and_host() {
    let ca = TestCa::new("test CA");
    let cert = ca.issue(&["localhost"]);
    let (_dir, path) = ca_file(&ca);
    let client = client_config(Some(&path), Verify::Full).unwrap();
    handshake(client, "localhost", &cert).await.unwrap();
}

#[tokio::test]
async fn an_unknown_ca_is_named_as_such() {
    let ca = TestCa::new("test CA");
    let other = TestCa::new("another CA");
    let cert = other.issue(&["localhost"]);
    let (_dir, path) = ca_file(&ca);
    for verify in [Verify::Full, Verify::ChainOnly] {
        let client = client_config(Some(&path), verify).unwrap();
        let e = handshake(client, "localhost", &cert).await.unwrap_err();
        assert_eq!(
            handshake_failure(&e),
            Some(HandshakeFailure::UnknownCa),
            "{e}"
        );
        let said = handshake_failure(&e).unwrap().to_string();
        assert!(
            said.contains("TLS") && said.contains("unknown issuer"),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_wrong_host_is_refused_by_full_verification_only() {
    let ca = TestCa::new("test CA");
    let cert = ca.issue(&["localhost"]);
    let (_dir, path) = ca_file(&ca);
    let client = client_config(Some(&path), Verify::Full).unwrap();
    let e = handshake(client, "127.0.0.1", &cert).await.unwrap_err();
    let failure = handshake_failure(&e).unwrap();
    assert!(
        matches!(failure, HandshakeFailure::WrongHost(_)),
        "{failure:?}"
    );
    assert!(
        failure.to_string().contains("hostname mismatch"),
        "{failure}"
    );
    let client = client_config(Some(&path), Verify::ChainOnly).unwrap();
    handshake(client, "127.0.0.1", &cert).await.unwrap();
}

#[tokio::test]
async fn no_verification_accepts_any_certificate() {
    let cert = TestCa::new("nobody's CA").issue(&["elsewhere"]);
    let client = client_config(None, Verify::Nothing).unwrap();
    handshake(client, "localhost", &cert).await.unwrap();
}

#[tokio::test]
async fn a_handshake_check_names_the_refused_certificate() {
    let ca = TestCa::new("test CA");
    let cert = ca.issue(&["localhost"]);
    let (_dir, path) = ca_file(&ca);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(cert.server_config());
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    let client = Arc::new(client_config(Some(&path), Verify::Full).unwrap());
    let limit = std::time::Duration::from_secs(5);
    assert_eq!(
        handshake_check("localhost", port, client.clone(), limit).await,
        None
    );
    assert!(matches!(
        handshake_check("127.0.0.1", port, client, limit).await,
        Some(HandshakeFailure::WrongHost(_))
    ));
    let strange = Arc::new(client_config(Some(&path), Verify::Full).unwrap());
    server.abort();
    let _ = server.await;
    // Nobody listening: not a TLS failure.
    assert_eq!(
        handshake_check("127.0.0.1", port, strange, limit).await,
        None
    );
}

#[test]
fn unusable_ca_files_are_named() {
    let dir = tempdir::Dir::new();
    let missing = dir.path().join("missing.crt");
    let e = roots(Some(&missing)).unwrap_err();
    assert!(matches!(e, TlsError::CaFile { .. }), "{e}");
    assert!(e.to_string().contains("missing.crt"), "{e}");
    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = roots(Some(&empty)).unwrap_err();
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
    assert!(read_ca_pem(&empty).is_err());
}

#[test]
fn errors_without_tls_in_them_are_not_handshake_failures() {
    let e = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    assert_eq!(handshake_failure(&e), None);
}

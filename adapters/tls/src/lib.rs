//! TLS for the clients of the backing services (PostgreSQL, Redis, RabbitMQ): rustls with
//! the ring provider, so nothing links OpenSSL and nothing needs cmake.
//!
//! Why one crate: the three adapters must agree on what "verified" means, where trusted
//! roots come from (a CA file given by the operator, else the system's store through
//! `rustls-native-certs`), and how a failed handshake is told apart from an unreachable
//! server. An unknown CA or a certificate for another host never heals by waiting, so the
//! adapters turn it into an error of its own at start-up instead of retrying until a
//! timeout; [`handshake_failure`] finds it in a driver's error chain.
//!
//! Layout: this file (roots, client settings, [`HandshakeFailure`]), `verify` (the
//! verifiers of the weaker modes), `testing` (feature `testing`: a CA made at run time).

#[cfg(feature = "testing")]
pub mod testing;
mod verify;

pub use rustls;
pub use tokio_rustls;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How much of the server's identity a client checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// The certificate chains to a trusted root and names the host connected to.
    Full,
    /// The certificate chains to a trusted root; the name in it is not checked
    /// (PostgreSQL's `verify-ca`).
    ChainOnly,
    /// Encrypted, but the certificate is not checked at all (PostgreSQL's `prefer` and
    /// `require` without a CA): protects against eavesdroppers, not impostors.
    Nothing,
}

/// Why TLS settings could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The CA file cannot be read or does not parse as PEM.
    #[error("TLS: cannot read the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The CA file holds no usable certificate.
    #[error("TLS: the CA file {path} holds no usable certificate (expected PEM `BEGIN CERTIFICATE` blocks)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No CA file was given and the system's store has no usable root.
    #[error("TLS: the system's certificate store has no usable root ({0}); give a CA file")]
    NoSystemRoots(String),
    /// rustls refused the settings.
    #[error("TLS: {0}")]
    Setup(String),
}

/// Why a TLS handshake failed, read from the driver's error (see [`handshake_failure`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeFailure {
    /// The server's certificate does not chain to a trusted root.
    #[error(
        "TLS: the server's certificate is not signed by a trusted CA (unknown issuer); \
         give the CA that signed it as the CA file"
    )]
    UnknownCa,
    /// The certificate is trusted but names another host.
    #[error(
        "TLS: the server's certificate is not valid for the host name connected to \
         (hostname mismatch{0})"
    )]
    WrongHost(String),
    /// The certificate has expired or is not valid yet.
    #[error("TLS: the server's certificate has expired or is not valid yet")]
    Expired,
    /// Any other certificate problem.
    #[error("TLS: the server's certificate is refused: {0}")]
    BadCertificate(String),
    /// The server ended the handshake (e.g. it wants a client certificate).
    #[error("TLS: the server refused the handshake ({0})")]
    RefusedByServer(String),
    /// Anything else rustls refused.
    #[error("TLS: the handshake failed: {0}")]
    Other(String),
}

/// The crypto provider every client uses: ring (set explicitly, so the choice does not
/// depend on which features other crates turn on).
///
/// rustls marks ring's provider deprecated because it lacks post-quantum key exchange;
/// the alternative, aws-lc-rs, needs cmake and a long C build on every machine that builds
/// the service. Classical key exchange is what the managed services offer today.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file (a CA bundle).
///
/// # Errors
/// [`TlsError::CaFile`] when it cannot be read or parsed, [`TlsError::NoCertificate`]
/// when it holds none.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::CaFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CaFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The text of a CA file, checked to hold at least one certificate (for drivers that take
/// PEM text).
///
/// # Errors
/// As [`read_certificates`].
pub fn read_ca_pem(path: &Path) -> Result<String, TlsError> {
    read_certificates(path)?;
    std::fs::read_to_string(path).map_err(|e| TlsError::CaFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The trusted roots: exactly the certificates of `ca_file` when given (as libpq's
/// `sslrootcert`: a private CA replaces the public ones), else the system's store.
///
/// # Errors
/// [`TlsError`] when the file is unusable or the system has no root.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_certificates(path)? {
                store.add(cert).map_err(|e| TlsError::CaFile {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(TlsError::NoSystemRoots(why));
            }
        }
    }
    Ok(store)
}

/// Client settings that check the server as `verify` says, trusting `ca_file` (else the
/// system's roots). With [`Verify::Nothing`] no roots are loaded.
///
/// # Errors
/// [`TlsError`] when the roots cannot be had.
pub fn client_config(ca_file: Option<&Path>, verify: Verify) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let config = match verify {
        Verify::Full => builder
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth(),
        Verify::ChainOnly => {
            let verifier = verify::ChainOnly::new(roots(ca_file)?, provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::Nothing::new(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// The TLS failure somewhere in `error`'s chain of causes, if any: rustls's error itself,
/// or one wrapped in an `io::Error` (as tokio-rustls and the drivers hand it on).
pub fn handshake_failure(error: &(dyn std::error::Error + 'static)) -> Option<HandshakeFailure> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(classify(tls));
        }
        // `io::Error::source` skips the error it wraps: look inside it.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(found) = handshake_failure(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// Opens a TCP connection to `host:port` and runs one TLS handshake with `config`, naming
/// `host` as the server, within `limit`: the refused certificate when the handshake fails
/// for that reason, `None` when it succeeds or the server cannot be reached (for drivers
/// whose own errors do not keep the cause).
pub async fn handshake_check(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    limit: std::time::Duration,
) -> Option<HandshakeFailure> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).ok()?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let outcome = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await;
        match outcome {
            Ok(_) => None,
            Err(e) => handshake_failure(&e),
        }
    };
    tokio::time::timeout(limit, attempt).await.ok().flatten()
}

fn classify(e: &rustls::Error) -> HandshakeFailure {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => HandshakeFailure::UnknownCa,
            CertificateError::NotValidForName => HandshakeFailure::WrongHost(String::new()),
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => HandshakeFailure::WrongHost(format!(
                ": connected to {expected:?}, the certificate names {}",
                presented.join(", ")
            )),
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => HandshakeFailure::Expired,
            other => HandshakeFailure::BadCertificate(format!("{other:?}")),
        },
        rustls::Error::AlertReceived(alert) => {
            HandshakeFailure::RefusedByServer(format!("{alert:?}"))
        }
        other => HandshakeFailure::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests;

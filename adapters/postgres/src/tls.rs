//! TLS to PostgreSQL: libpq's `sslmode` levels over rustls (see `messenger_tls`), and the
//! connector tokio-postgres drives.
//!
//! What each mode means here, as in libpq: `disable` never encrypts; `prefer` (the
//! default) encrypts when the server offers it and checks nothing; `require` insists on
//! encryption and checks the certificate's chain only when a CA file is given; `verify-ca`
//! checks the chain; `verify-full` checks the chain and that the certificate names the
//! host connected to. The trusted roots are the CA file's certificates
//! (`sslrootcert`), else the system's store (also `sslrootcert=system`).

use messenger_tls::rustls::pki_types::ServerName;
use messenger_tls::rustls::ClientConfig;
use messenger_tls::tokio_rustls::{client::TlsStream as RustlsStream, TlsConnector};
use messenger_tls::{TlsError, Verify};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// How much TLS a connection asks for: libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, nothing checked (libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection; the chain is checked only when a CA file is given.
    Require,
    /// TLS, and the certificate chains to a trusted root.
    VerifyCa,
    /// TLS, the certificate chains to a trusted root and names the host.
    VerifyFull,
}

impl SslMode {
    /// The words libpq accepts.
    pub const WORDS: &'static str = "disable, prefer, require, verify-ca or verify-full";

    /// From libpq's word for it.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told: whether TLS is tried, and whether it is a must.
    pub(crate) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            SslMode::Disable => Driver::Disable,
            SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }

    /// What is checked of the server's certificate, given whether a CA file is set.
    fn verify(self, has_ca_file: bool) -> Verify {
        match self {
            SslMode::Disable | SslMode::Prefer => Verify::Nothing,
            // libpq: "require" with a root certificate file behaves as "verify-ca".
            SslMode::Require if has_ca_file => Verify::ChainOnly,
            SslMode::Require => Verify::Nothing,
            SslMode::VerifyCa => Verify::ChainOnly,
            SslMode::VerifyFull => Verify::Full,
        }
    }
}

/// The TLS connector handed to tokio-postgres (and the pool). Cheap to clone.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    /// The connector for `mode`, trusting `ca_file` (else the system's roots).
    pub(crate) fn new(mode: SslMode, ca_file: Option<&Path>) -> Result<Self, TlsError> {
        let config = messenger_tls::client_config(ca_file, mode.verify(ca_file.is_some()))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

/// `sslrootcert`'s value as a CA file: `system` means the system's store, as in libpq.
pub(crate) fn ca_file_of(value: &str) -> Option<PathBuf> {
    match value {
        "" | "system" => None,
        path => Some(PathBuf::from(path)),
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        // The driver asks for a connector before it knows whether TLS will be used (and
        // with an empty name for a Unix socket): a name that cannot be checked fails only
        // when a handshake is really attempted.
        Ok(RustlsConnect {
            config: self.config.clone(),
            name: ServerName::try_from(domain.to_owned()).ok(),
            domain: domain.to_owned(),
        })
    }
}

/// One connection's handshake.
pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: Option<ServerName<'static>>,
    domain: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PgTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let Some(name) = self.name else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "TLS: {:?} is not a host name a certificate can be checked against",
                        self.domain
                    ),
                ));
            };
            let stream = TlsConnector::from(self.config)
                .connect(name, stream)
                .await?;
            Ok(PgTlsStream(stream))
        })
    }
}

/// An encrypted connection to the server.
pub(crate) struct PgTlsStream<S>(RustlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM's channel binding (`tls-server-end-point`) is optional for the client; not
        // offering it keeps the plain SCRAM exchange.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Takes libpq's TLS parameters (`sslmode`, `sslrootcert`) out of a connection string,
/// which tokio-postgres would refuse (it knows only `disable|prefer|require` and no root
/// certificate). Returns the rest, and the two values when present.
///
/// Both forms are read: a URL (`postgres://…?sslmode=verify-full&sslrootcert=/ca.pem`,
/// values percent-encoded) and `key=value` pairs (values may be single-quoted).
pub(crate) fn take_tls_params(conn: &str) -> Result<TlsParams, String> {
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        take_from_url(conn)
    } else {
        take_from_pairs(conn)
    }
}

/// A connection string without its TLS parameters, and their values.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsParams {
    pub(crate) rest: String,
    pub(crate) sslmode: Option<String>,
    pub(crate) sslrootcert: Option<String>,
}

fn take_from_url(url: &str) -> Result<TlsParams, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(TlsParams {
            rest: url.to_owned(),
            ..TlsParams::default()
        });
    };
    let mut out = TlsParams::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(key)?.as_str() {
            "sslmode" => out.sslmode = Some(percent_decode(value)?),
            "sslrootcert" => out.sslrootcert = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    out.rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(out)
}

fn take_from_pairs(conn: &str) -> Result<TlsParams, String> {
    let mut out = TlsParams::default();
    let mut kept: Vec<&str> = Vec::new();
    let mut rest = conn.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected key=value near {:?}", cut(rest)))?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let (value, used) = pair_value(after)?;
        let consumed = rest.len() - after.len() + used;
        let token = &rest[..consumed];
        match key {
            "sslmode" => out.sslmode = Some(value),
            "sslrootcert" => out.sslrootcert = Some(value),
            _ => kept.push(token.trim()),
        }
        rest = rest[consumed..].trim_start();
    }
    out.rest = kept.join(" ");
    Ok(out)
}

/// A `key=value` string's value: bare up to whitespace, or single-quoted with `\` escapes.
/// Returns it and the bytes it took.
fn pair_value(s: &str) -> Result<(String, usize), String> {
    let Some(quoted) = s.strip_prefix('\'') else {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        return Ok((s[..end].to_owned(), end));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    value.push(next);
                }
            }
            '\'' => return Ok((value, i + 2)),
            c => value.push(c),
        }
    }
    Err("a quoted value is not closed".into())
}

fn cut(s: &str) -> &str {
    s.get(..20).unwrap_or(s)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "a bad percent-escape in the URL's parameters".to_owned())?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's parameters are not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_a_url() {
        let p = take_tls_params(
            "postgres://u:p@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(p.rest, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let p = take_tls_params("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!(
            (p.rest.as_str(), p.sslrootcert),
            ("postgresql://h/db", None)
        );
        let p = take_tls_params("postgres://h/db").unwrap();
        assert_eq!((p.rest.as_str(), p.sslmode), ("postgres://h/db", None));
    }

    #[test]
    fn tls_parameters_are_taken_out_of_key_value_pairs() {
        let p = take_tls_params("host=h sslmode=verify-ca user=me sslrootcert='/a dir/c\\'a.pem'")
            .unwrap();
        assert_eq!(p.rest, "host=h user=me");
        assert_eq!(p.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/a dir/c'a.pem"));
        assert!(take_tls_params("host=h sslrootcert='open").is_err());
    }

    #[test]
    fn modes_are_libpq_words() {
        for word in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            assert_eq!(SslMode::parse(word).map(SslMode::as_str), Some(word));
        }
        assert_eq!(SslMode::parse("allow"), None);
        assert_eq!(SslMode::default(), SslMode::Prefer);
        assert_eq!(SslMode::Require.verify(true), Verify::ChainOnly);
        assert_eq!(SslMode::Require.verify(false), Verify::Nothing);
        assert_eq!(ca_file_of("system"), None);
    }
}

//! The server under load: a base URL that must name this machine.
//!
//! The tool generates real load, so it refuses any host but the loopback
//! interface: a typo can never turn it against another machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hyper::header::HeaderValue;
use hyper::Uri;

use crate::error::BenchError;

/// Where to send requests: the socket address and the `Host` header value.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, for the report.
    pub url: String,
    /// The loopback address and port to connect to.
    pub addr: SocketAddr,
    /// The `Host` header every request carries.
    pub host: HeaderValue,
}

impl Target {
    /// Parses `http://127.0.0.1:PORT` (also `localhost`, `[::1]`, any
    /// `127.x.y.z`); the path, if any, must be `/`.
    ///
    /// # Errors
    /// [`BenchError::Target`] for another scheme, host, a path or a bad URL.
    pub fn parse(url: &str) -> Result<Self, BenchError> {
        let refuse = |reason| BenchError::Target {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| refuse("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(refuse("only http:// is supported"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(refuse("give the base URL only, without a path"));
        }
        let host = uri.host().ok_or_else(|| refuse("no host"))?;
        let ip = loopback_ip(host).ok_or_else(|| {
            refuse("only 127.0.0.1, localhost or [::1] may be loaded by this tool")
        })?;
        let port = uri.port_u16().unwrap_or(80);
        let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| refuse("bad host"))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            addr: SocketAddr::new(ip, port),
            host,
        })
    }
}

/// The loopback address `host` names, or `None` when it names anything else.
fn loopback_ip(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Some(ip),
        Ok(_) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn loopback_urls_are_accepted() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
        let t = Target::parse("http://localhost:9/").unwrap();
        assert_eq!(t.addr, "127.0.0.1:9".parse().unwrap());
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(t.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        let t = Target::parse("http://127.1.2.3").unwrap();
        assert_eq!(t.addr.port(), 80);
    }

    #[test]
    fn other_hosts_schemes_and_paths_are_refused() {
        for url in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://0.0.0.0:8080",
            "https://127.0.0.1:8443",
            "http://127.0.0.1:8080/v1",
            "127.0.0.1:8080",
            "http://localhost.example.com",
        ] {
            assert!(
                matches!(Target::parse(url), Err(BenchError::Target { .. })),
                "{url} should be refused"
            );
        }
    }
}

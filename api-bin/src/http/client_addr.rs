//! Who the client is, by address: the peer, or — only when the peer is a trusted proxy —
//! the right-most untrusted address of `X-Forwarded-For`. IPv6 clients are grouped by
//! their /64 (one host usually holds a whole /64, so per-address limits would be void).

use ipnet::IpNet;
use poem::{web::RemoteAddr, FromRequest, Request, RequestBody};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// The client's address as limits key it: an IPv4 address, or an IPv6 /64 prefix.
/// The gate puts it into the request's extensions; handlers that limit per address
/// (register, login) take it as a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub Arc<str>);

impl ClientAddress {
    /// The key for `ip`.
    pub fn of(ip: IpAddr) -> Self {
        Self(key_of(ip).into())
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The limits key of an address.
fn key_of(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// The client's IP: the peer's, unless the peer is a trusted proxy; then the right-most
/// address of `X-Forwarded-For` that is not a trusted proxy (the left part of the header is
/// whatever the client wrote, so it is not believed). An unparseable entry ends the walk at
/// the last trusted hop.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&ip.to_canonical()));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last = peer;
    for entry in header.rsplit(',') {
        let Some(ip) = parse_entry(entry.trim()) else {
            return last;
        };
        if !is_trusted(&ip) {
            return ip;
        }
        last = ip;
    }
    last
}

/// An `X-Forwarded-For` entry: an IP, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

/// The peer's IP, when the connection has one (TCP always does).
pub fn peer_ip(remote: &RemoteAddr) -> Option<IpAddr> {
    remote.as_socket_addr().map(|sa| sa.ip())
}

impl<'a> FromRequest<'a> for ClientAddress {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        if let Some(c) = req.extensions().get::<ClientAddress>() {
            return Ok(c.clone());
        }
        // Outside the gate (never in the service): the peer itself.
        Ok(match peer_ip(req.remote_addr()) {
            Some(ip) => ClientAddress::of(ip),
            None => ClientAddress(Arc::from("unknown")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("1.2.3.4"), Some("5.6.7.8"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("5.6.7.8"), &[]),
            ip("10.0.0.1")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), None, &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                Some("6.6.6.6, 5.6.7.8, 192.168.1.1"),
                &trusted
            ),
            ip("5.6.7.8")
        );
        // Everything trusted: the left-most hop.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("10.1.1.1, 192.168.1.1"), &trusted),
            ip("10.1.1.1")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("5.6.7.8, junk, 10.2.2.2"), &trusted),
            ip("10.2.2.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("[2001:db8::1]:443"), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("5.6.7.8:1234"), &trusted),
            ip("5.6.7.8")
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(ClientAddress::of(ip("1.2.3.4")).as_str(), "1.2.3.4");
        assert_eq!(
            ClientAddress::of(ip("2001:db8:1:2:3:4:5:6")).as_str(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            ClientAddress::of(ip("2001:db8:1:2:ffff::1")),
            ClientAddress::of(ip("2001:db8:1:2::9"))
        );
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(ClientAddress::of(ip("::ffff:1.2.3.4")).as_str(), "1.2.3.4");
    }
}

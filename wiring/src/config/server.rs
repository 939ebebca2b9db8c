//! Where the API listens and the deadlines it keeps: `HOST`, `PORT`, `WORKERS_NUM`,
//! `REQUEST_TIMEOUT_MS`, `DEPENDENCY_TIMEOUT_MS`, `SHUTDOWN_TIMEOUT_SECS`,
//! `TRUSTED_PROXIES`. The worker reads `WORKERS_NUM`, `DEPENDENCY_TIMEOUT_MS` and
//! `SHUTDOWN_TIMEOUT_SECS` too.

use super::parse::{invalid, millis_or, num_or, positive_at_most, secs_or, value};
use super::ConfigError;
use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Duration;

const HOST: &str = "127.0.0.1";
const PORT: &str = "8080";
const REQUEST_TIMEOUT_MS: &str = "10000";
const DEPENDENCY_TIMEOUT_MS: &str = "1000";
const SHUTDOWN_TIMEOUT_SECS: &str = "30";

/// The server's variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct ServerVars {
    /// Address to listen on (the container sets 0.0.0.0).
    #[arg(long, env = "HOST", default_value = HOST, help_heading = "Server")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, env = "PORT", default_value = PORT, help_heading = "Server")]
    pub port: Option<String>,
    /// Runtime worker threads [default: one per core].
    #[arg(long, env = "WORKERS_NUM", help_heading = "Server")]
    pub workers_num: Option<String>,
    /// Whole-request deadline in ms; past it, 503.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value = REQUEST_TIMEOUT_MS, help_heading = "Server")]
    pub request_timeout_ms: Option<String>,
    /// Deadline in ms for all store calls of one request.
    #[arg(long, env = "DEPENDENCY_TIMEOUT_MS", default_value = DEPENDENCY_TIMEOUT_MS, help_heading = "Server")]
    pub dependency_timeout_ms: Option<String>,
    /// Seconds shutdown waits for in-flight requests (the worker: for the tasks it holds).
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = SHUTDOWN_TIMEOUT_SECS, help_heading = "Server")]
    pub shutdown_timeout_secs: Option<String>,
    /// Proxies whose X-Forwarded-For is believed: comma-separated CIDRs or addresses.
    #[arg(long, env = "TRUSTED_PROXIES", help_heading = "Server")]
    pub trusted_proxies: Option<String>,
}

/// Where the API listens and the deadlines it keeps.
#[derive(Debug, Clone)]
pub struct Server {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// Runtime worker threads (`None`: one per core).
    pub workers_num: Option<usize>,
    /// Deadline for a whole request (then 503).
    pub request_timeout: Duration,
    /// Deadline for all store calls of one request (and each Redis command).
    pub dependency_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Server {
    pub(super) fn from_vars(v: &ServerVars) -> Result<Self, ConfigError> {
        let host = value(&v.host)
            .unwrap_or(HOST)
            .parse()
            .map_err(|_| invalid("HOST", &v.host, "an IP address such as 0.0.0.0"))?;
        let trusted_proxies = match value(&v.trusted_proxies) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            invalid(
                                "TRUSTED_PROXIES",
                                &v.trusted_proxies,
                                "comma-separated addresses or CIDRs such as 10.0.0.0/8",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let workers_num = positive_at_most("WORKERS_NUM", &v.workers_num, None, usize::MAX)?;
        Ok(Self {
            host,
            port: num_or("PORT", &v.port, PORT, "a port number (0-65535)")?,
            workers_num,
            request_timeout: millis_or(
                "REQUEST_TIMEOUT_MS",
                &v.request_timeout_ms,
                REQUEST_TIMEOUT_MS,
            )?,
            dependency_timeout: millis_or(
                "DEPENDENCY_TIMEOUT_MS",
                &v.dependency_timeout_ms,
                DEPENDENCY_TIMEOUT_MS,
            )?,
            shutdown_timeout: secs_or(
                "SHUTDOWN_TIMEOUT_SECS",
                &v.shutdown_timeout_secs,
                SHUTDOWN_TIMEOUT_SECS,
            )?,
            trusted_proxies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn defaults_are_loopback_8080() {
        let c = Server::from_vars(&ServerVars::default()).unwrap();
        assert_eq!((c.host, c.port), (IpAddr::V4(Ipv4Addr::LOCALHOST), 8080));
        assert_eq!(c.workers_num, None);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.dependency_timeout, Duration::from_secs(1));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
    }

    #[test]
    fn numbers_and_names_of_the_original() {
        let c = Server::from_vars(&ServerVars {
            host: s("0.0.0.0"),
            port: s("9000"),
            workers_num: s("3"),
            dependency_timeout_ms: s("250"),
            trusted_proxies: s("10.0.0.0/8, 192.168.1.1"),
            ..ServerVars::default()
        })
        .unwrap();
        assert_eq!(c.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.port, 9000);
        assert_eq!(c.workers_num, Some(3));
        assert_eq!(c.dependency_timeout, Duration::from_millis(250));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[1].contains(&"192.168.1.1".parse::<IpAddr>().unwrap()));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, var) in [
            (
                ServerVars {
                    port: s("80800"),
                    ..ServerVars::default()
                },
                "PORT",
            ),
            (
                ServerVars {
                    workers_num: s("0"),
                    ..ServerVars::default()
                },
                "WORKERS_NUM",
            ),
            (
                ServerVars {
                    host: s("localhost:80"),
                    ..ServerVars::default()
                },
                "HOST",
            ),
            (
                ServerVars {
                    trusted_proxies: s("10.0.0.0/8,nope"),
                    ..ServerVars::default()
                },
                "TRUSTED_PROXIES",
            ),
        ] {
            let e = Server::from_vars(&vars).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}:")), "{e}");
        }
    }
}

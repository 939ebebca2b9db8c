//! Where sessions, limits, task state (and, with `CACHE_TYPE=redis`, pages) are shared:
//! this process, or Redis (`REDIS_URL`, with the original's `REDIS_PWD` as its password
//! when the URL has none; `REDIS_KEY_PREFIX`). `rediss://` is TLS, the certificate's chain
//! and host name always checked, against `REDIS_CA_FILE` or else the system's roots. A
//! build without the `redis` feature reads the same variables and refuses a configured
//! Redis ([`ConfigError::NotBuiltIn`]).

use super::parse::{encode, url, value};
use super::ConfigError;
#[cfg(feature = "redis")]
use messenger_redis::RedisConfig;
#[cfg(feature = "redis")]
use std::path::PathBuf;
use std::time::Duration;

const REDIS_KEY_PREFIX: &str = "messenger:";

/// The Redis variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct SharedStateVars {
    /// Redis URL: shared sessions, limits, task state [default: in this process].
    #[arg(
        long,
        env = "REDIS_URL",
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_url: Option<String>,
    /// Redis password, used when REDIS_URL has none.
    #[arg(
        long,
        env = "REDIS_PWD",
        hide_env_values = true,
        help_heading = "Redis"
    )]
    pub redis_pwd: Option<String>,
    /// PEM file of the CA(s) trusted for Redis's certificate with rediss:// [default: the
    /// system's roots].
    #[arg(long, env = "REDIS_CA_FILE", help_heading = "Redis")]
    pub redis_ca_file: Option<String>,
    /// Prefix of every Redis key.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = REDIS_KEY_PREFIX, help_heading = "Redis")]
    pub redis_key_prefix: Option<String>,
}

/// Where the state every instance must see is kept.
#[derive(Debug, Clone)]
pub enum SharedState {
    /// In this process (one instance only).
    InProcess,
    /// Redis (a build with the `redis` feature).
    #[cfg(feature = "redis")]
    Redis(RedisConfig),
}

impl SharedState {
    /// Redis at `url` with the declared defaults (tests build it so).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when the URL's scheme is not Redis's.
    #[cfg(feature = "redis")]
    pub fn redis(url: &str) -> Result<Self, ConfigError> {
        Self::from_vars(
            &SharedStateVars {
                redis_url: Some(url.to_owned()),
                ..SharedStateVars::default()
            },
            RedisConfig::new("").command_timeout,
            RedisConfig::new("").local_page_messages,
        )
    }

    /// The Redis settings, when it is used.
    #[cfg(feature = "redis")]
    pub fn redis_config(&self) -> Option<&RedisConfig> {
        match self {
            SharedState::InProcess => None,
            SharedState::Redis(r) => Some(r),
        }
    }

    /// Mutable Redis settings (tests give each run a key prefix of its own).
    #[cfg(feature = "redis")]
    pub fn redis_config_mut(&mut self) -> Option<&mut RedisConfig> {
        match self {
            SharedState::InProcess => None,
            SharedState::Redis(r) => Some(r),
        }
    }

    /// `dependency_timeout` bounds each command and connection attempt;
    /// `local_page_messages` sizes the in-process layer in front of Redis's page cache.
    pub(super) fn from_vars(
        v: &SharedStateVars,
        dependency_timeout: Duration,
        local_page_messages: u64,
    ) -> Result<Self, ConfigError> {
        let Some(url) = redis_url(v)? else {
            if value(&v.redis_ca_file).is_some() {
                return Err(ConfigError::Combination(
                    "REDIS_CA_FILE is set but REDIS_URL is not: set a rediss:// REDIS_URL".into(),
                ));
            }
            return Ok(SharedState::InProcess);
        };
        if value(&v.redis_ca_file).is_some() && !url.starts_with("rediss") {
            return Err(ConfigError::Combination(
                "REDIS_CA_FILE is set but REDIS_URL is not rediss:// (TLS)".into(),
            ));
        }
        redis(v, url, dependency_timeout, local_page_messages)
    }
}

/// Redis at `url`, with the other variables' settings.
#[cfg(feature = "redis")]
fn redis(
    v: &SharedStateVars,
    url: String,
    dependency_timeout: Duration,
    local_page_messages: u64,
) -> Result<SharedState, ConfigError> {
    let ca_file = value(&v.redis_ca_file).map(PathBuf::from);
    let mut redis = RedisConfig::new(url);
    redis.ca_file = ca_file;
    redis.key_prefix = value(&v.redis_key_prefix)
        .unwrap_or(REDIS_KEY_PREFIX)
        .to_owned();
    redis.command_timeout = dependency_timeout;
    redis.connect_timeout = dependency_timeout;
    redis.local_page_messages = local_page_messages;
    Ok(SharedState::Redis(redis))
}

/// A build without Redis: the Redis that is configured cannot be used, and start-up says
/// so.
#[cfg(not(feature = "redis"))]
fn redis(
    _v: &SharedStateVars,
    _url: String,
    _dependency_timeout: Duration,
    _local_page_messages: u64,
) -> Result<SharedState, ConfigError> {
    Err(ConfigError::NotBuiltIn {
        variable: "REDIS_URL",
        backend: "Redis",
        feature: "redis",
    })
}

/// `REDIS_URL`, with `REDIS_PWD` as its password when the URL has none.
fn redis_url(v: &SharedStateVars) -> Result<Option<String>, ConfigError> {
    let Some(u) = value(&v.redis_url) else {
        if value(&v.redis_pwd).is_some() {
            return Err(ConfigError::Combination(
                "REDIS_PWD is set but REDIS_URL is not: set REDIS_URL".into(),
            ));
        }
        return Ok(None);
    };
    let u = url(
        "REDIS_URL",
        u,
        &["redis://", "rediss://"],
        "a URL starting with redis:// or rediss://",
    )?;
    let Some(pwd) = value(&v.redis_pwd) else {
        return Ok(Some(u));
    };
    let (scheme, rest) = u.split_once("://").unwrap_or(("redis", &u));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    if rest[..authority_end].contains('@') {
        // The URL carries its own credentials: they win.
        return Ok(Some(u));
    }
    Ok(Some(format!("{scheme}://:{}@{rest}", encode(pwd))))
}

#[cfg(test)]
#[cfg(feature = "redis")]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn url_of(vars: SharedStateVars) -> Result<String, ConfigError> {
        match SharedState::from_vars(&vars, Duration::from_millis(300), 7)? {
            SharedState::Redis(r) => {
                assert_eq!(r.command_timeout, Duration::from_millis(300));
                assert_eq!(r.local_page_messages, 7);
                assert_eq!(r.key_prefix, "messenger:");
                Ok(r.url)
            }
            SharedState::InProcess => Ok(String::new()),
        }
    }

    #[test]
    fn a_ca_file_goes_with_rediss_only() {
        let shared = SharedState::from_vars(
            &SharedStateVars {
                redis_url: s("rediss://cache.example:6380"),
                redis_ca_file: s("/etc/ca.pem"),
                ..SharedStateVars::default()
            },
            Duration::from_secs(1),
            7,
        )
        .unwrap();
        let redis = shared.redis_config().unwrap();
        assert_eq!(
            redis.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        for url in [s("redis://cache:6379"), None] {
            let e = SharedState::from_vars(
                &SharedStateVars {
                    redis_url: url,
                    redis_ca_file: s("/etc/ca.pem"),
                    ..SharedStateVars::default()
                },
                Duration::from_secs(1),
                7,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("REDIS_CA_FILE") && e.contains("rediss://"),
                "{e}"
            );
        }
    }

    #[test]
    fn redis_password_goes_into_the_url() {
        assert_eq!(
            url_of(SharedStateVars {
                redis_url: s("redis://cache:6379/0"),
                redis_pwd: s("s3cret!"),
                ..SharedStateVars::default()
            })
            .unwrap(),
            "redis://:s3cret%21@cache:6379/0"
        );
        assert_eq!(
            url_of(SharedStateVars {
                redis_url: s("redis://:own@cache:6379"),
                redis_pwd: s("other"),
                ..SharedStateVars::default()
            })
            .unwrap(),
            "redis://:own@cache:6379"
        );
        let e = url_of(SharedStateVars {
            redis_pwd: s("x"),
            ..SharedStateVars::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("REDIS_URL"));
    }
}

#[cfg(test)]
#[cfg(not(feature = "redis"))]
mod without_redis {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn shared(vars: SharedStateVars) -> Result<SharedState, ConfigError> {
        SharedState::from_vars(&vars, Duration::from_secs(1), 7)
    }

    #[test]
    fn a_configured_redis_is_refused_naming_the_feature() {
        let e = shared(SharedStateVars {
            redis_url: s("redis://cache:6379"),
            redis_pwd: s("x"),
            ..SharedStateVars::default()
        })
        .unwrap_err();
        assert_eq!(
            e,
            ConfigError::NotBuiltIn {
                variable: "REDIS_URL",
                backend: "Redis",
                feature: "redis"
            }
        );
        assert!(e.to_string().contains("`--features redis`"), "{e}");
    }

    #[test]
    fn the_variables_are_read_as_with_redis() {
        assert!(matches!(
            shared(SharedStateVars::default()),
            Ok(SharedState::InProcess)
        ));
        for vars in [
            SharedStateVars {
                redis_url: s("http://cache"),
                ..SharedStateVars::default()
            },
            SharedStateVars {
                redis_pwd: s("x"),
                ..SharedStateVars::default()
            },
            SharedStateVars {
                redis_url: s("redis://cache:6379"),
                redis_ca_file: s("/etc/ca.pem"),
                ..SharedStateVars::default()
            },
        ] {
            let e = shared(vars).unwrap_err();
            assert!(!matches!(e, ConfigError::NotBuiltIn { .. }), "{e}");
        }
    }
}

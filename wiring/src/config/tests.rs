//! The configuration as a whole: defaults, `--help`, the variables read together.

use super::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn nothing_set_is_everything_in_memory_on_8080() {
    let c = Config::from_raw(RawConfig::default()).unwrap();
    assert_eq!(c.server.port, 8080);
    assert!(c.is_in_memory());
    assert!(c.limits.throttling && !c.auth.disabled && c.cache.page_cache && c.search.enabled);
    assert_eq!(c.cache.cache_type, CacheType::Memory);
    assert_eq!(c.session_cache_ttl(), Duration::from_secs(300));
    assert!(c.describe().starts_with("running fully in memory"));
    assert_eq!(c.settings().session_ttl, Duration::from_secs(3600));
}

#[test]
fn a_backend_left_out_is_named_with_its_feature() {
    let e = ConfigError::NotBuiltIn {
        variable: "DATABASE_URL",
        backend: "PostgreSQL",
        feature: "postgres",
    };
    assert_eq!(
        e.to_string(),
        "DATABASE_URL is set, but this messenger-api was built without PostgreSQL support: \
         build it with the default features (or `--features postgres`)"
    );
}

/// Without RabbitMQ, a queue is refused as not built in, not as missing PostgreSQL and
/// Redis (the variables are read before the combinations are checked).
#[cfg(not(feature = "rabbitmq"))]
#[test]
fn a_queue_without_rabbitmq_is_not_built_in() {
    let e = Config::from_raw(RawConfig {
        queue: QueueVars {
            amqp_url: s("amqp://b"),
            ..QueueVars::default()
        },
        ..RawConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::NotBuiltIn {
                variable: "AMQP_URL",
                ..
            }
        ),
        "{e}"
    );
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_without_redis_caches_sessions_for_a_second() {
    let c = Config::from_raw(RawConfig {
        storage: StorageVars {
            postgres_hosts: s("db1"),
            ..StorageVars::default()
        },
        ..RawConfig::default()
    })
    .unwrap();
    assert_eq!(c.session_cache_ttl(), Duration::from_secs(1));
    assert!(!c.is_in_memory());
}

#[cfg(all(feature = "postgres", feature = "redis", feature = "rabbitmq"))]
#[test]
fn a_queue_needs_postgres_and_redis() {
    let queue = QueueVars {
        rmq_url: s("amqp://b"),
        ..QueueVars::default()
    };
    let e = Config::from_raw(RawConfig {
        queue: queue.clone(),
        ..RawConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("DATABASE_URL") && e.contains("REDIS_URL"), "{e}");
    let c = Config::from_raw(RawConfig {
        queue,
        storage: StorageVars {
            database_url: s("postgres://h/db"),
            ..StorageVars::default()
        },
        shared_state: SharedStateVars {
            redis_url: s("redis://h"),
            ..SharedStateVars::default()
        },
        ..RawConfig::default()
    })
    .unwrap();
    assert!(c.describe().contains("RabbitMQ"), "{}", c.describe());
}

#[test]
fn redis_page_cache_needs_redis() {
    let e = Config::from_raw(RawConfig {
        cache: CacheVars {
            cache_type: s("redis"),
            ..CacheVars::default()
        },
        ..RawConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("CACHE_TYPE") && e.contains("REDIS_URL"), "{e}");
}

#[test]
fn help_lists_every_variable_with_its_default() {
    use clap::CommandFactory;
    let help = RawConfig::command().render_long_help().to_string();
    for var in [
        "HOST",
        "PORT",
        "WORKERS_NUM",
        "AUTH_DISABLED",
        "NGINX_THROTTLING",
        "CACHE_TYPE",
        "PAGE_CACHE",
        "POOL_SIZE",
        "POSTGRES_WRITE_LANES",
        "POSTGRES_HOSTS",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PWD",
        "DATABASE_URL",
        "DATABASE_SSLMODE",
        "DATABASE_CA_FILE",
        "REDIS_URL",
        "REDIS_PWD",
        "REDIS_CA_FILE",
        "RMQ_URL",
        "AMQP_URL",
        "AMQP_CA_FILE",
        "AUTH_HEADER",
        "AUTH_SCHEME",
        "RATE_LIMIT_PER_SEC",
        "RATE_LIMIT_BURST",
        "SESSION_TTL_SECS",
        "TRUSTED_PROXIES",
        "DEPENDENCY_TIMEOUT_MS",
        "SEARCH",
        "SEARCH_HIT_CAP",
        "LOG_FORMAT",
        "RUST_LOG",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from --help"
        );
    }
    assert!(help.contains("[default: 8080]"), "{help}");
    assert!(help.contains("[default: messenger.search_tasks]"), "{help}");
}

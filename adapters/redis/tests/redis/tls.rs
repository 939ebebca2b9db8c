//! `rediss://` against a throw-away TLS-only Redis with a CA made at run time: the host
//! name in the certificate with its CA works (and the adapters do); a certificate for
//! another host name and a CA that signed nothing each stop the connect at once with an
//! error that says so; a plain `redis://` client gets nowhere.

use messenger_redis::testing::{redis_url, TlsRedis};
use messenger_redis::{RedisConfig, RedisError, RedisStore};
use std::time::{Duration, Instant};

/// The server, when the real-Redis tests run and redis-server has TLS.
fn server(test: &str) -> Option<TlsRedis> {
    redis_url(test)?;
    TlsRedis::start(test)
}

fn config(url: String, ca_file: Option<std::path::PathBuf>) -> RedisConfig {
    let mut c = RedisConfig::new(url);
    c.ca_file = ca_file;
    c.connect_timeout = Duration::from_secs(2);
    c.command_timeout = Duration::from_secs(2);
    c
}

#[tokio::test]
async fn rediss_with_the_servers_ca_and_name_connects() {
    let Some(redis) = server("rediss_with_the_servers_ca_and_name_connects") else {
        return;
    };
    let store = RedisStore::connect(&config(redis.url("localhost"), Some(redis.ca_file.clone())))
        .await
        .unwrap();
    assert!(store.is_up());
    store.ping().await.unwrap();
    store.quit().await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_a_hostname_mismatch() {
    let Some(redis) = server("a_certificate_for_another_host_is_a_hostname_mismatch") else {
        return;
    };
    let started = Instant::now();
    let e = RedisStore::connect(&config(redis.url("127.0.0.1"), Some(redis.ca_file.clone())))
        .await
        .unwrap_err();
    assert!(matches!(e, RedisError::Handshake(_)), "{e:?}");
    let said = e.to_string();
    assert!(
        said.contains("TLS") && said.contains("hostname mismatch"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_named_as_such() {
    let Some(redis) = server("a_certificate_from_an_unknown_ca_is_named_as_such") else {
        return;
    };
    for ca_file in [Some(redis.other_ca_file.clone()), None] {
        let e = RedisStore::connect(&config(redis.url("localhost"), ca_file.clone()))
            .await
            .unwrap_err();
        let said = e.to_string();
        assert!(
            said.contains("TLS") && said.contains("unknown issuer"),
            "{ca_file:?}: {said}"
        );
    }
}

#[tokio::test]
async fn a_plain_client_of_a_tls_only_server_gets_no_answer() {
    let Some(redis) = server("a_plain_client_of_a_tls_only_server_gets_no_answer") else {
        return;
    };
    // A plain client is not refused by a handshake of its own: it just gets no answer, so
    // the adapter starts on its fallbacks and says Redis is down.
    let store = RedisStore::connect(&config(format!("redis://localhost:{}", redis.port), None))
        .await
        .unwrap();
    assert!(!store.is_up());
    assert!(store.ping().await.is_err());
    store.quit().await;
}

#[test]
fn a_ca_file_without_rediss_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = runtime
        .block_on(RedisStore::connect(&config(
            "redis://127.0.0.1:1".into(),
            Some("/tmp/ca.pem".into()),
        )))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("REDIS_CA_FILE") && e.contains("rediss://"),
        "{e}"
    );
}

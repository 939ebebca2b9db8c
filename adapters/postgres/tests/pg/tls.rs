//! TLS against a throw-away cluster that accepts TLS only, with a CA made at run time:
//! `verify-full` connects; a certificate for another host name, a CA that signed nothing,
//! and `sslmode=disable` are each refused at once with an error that says so (not after
//! the start-up wait, as an unreachable database would be).

use crate::helpers::database_url;
use messenger_postgres::testing::TlsCluster;
use messenger_postgres::{MigrateError, PgConfig, PgError, PgStore, SslMode};
use std::time::{Duration, Instant};

/// The cluster, when the real-database tests run and the server programs are there.
fn cluster(test: &str) -> Option<TlsCluster> {
    database_url(test)?;
    TlsCluster::start(test)
}

/// Connects (and migrates) with `config`, waiting at most 10 s for the database.
async fn connect(config: &PgConfig) -> (Result<PgStore, PgError>, Duration) {
    let started = Instant::now();
    let outcome = PgStore::connect(config, Duration::from_secs(10)).await;
    (outcome, started.elapsed())
}

#[tokio::test]
async fn verify_full_connects_to_a_tls_only_server() {
    let Some(pg) = cluster("verify_full_connects_to_a_tls_only_server") else {
        return;
    };
    let ca = pg.ca_file.display().to_string();
    let config = PgConfig::from_url(&pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap();
    assert_eq!(config.ssl_mode(), SslMode::VerifyFull);
    let (store, _) = connect(&config).await;
    let store = store.unwrap();
    store.ping().await.unwrap();
    // verify-ca checks the chain only: the address is not the certificate's name, and
    // that is accepted; `require` without a CA encrypts without checking.
    for params in [
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        "sslmode=require".to_owned(),
    ] {
        let config = PgConfig::from_url(&pg.url("127.0.0.1", &params)).unwrap();
        let (store, _) = connect(&config).await;
        store
            .unwrap_or_else(|e| panic!("{params}: {e}"))
            .ping()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_as_a_hostname_mismatch() {
    let Some(pg) = cluster("a_certificate_for_another_host_is_refused_as_a_hostname_mismatch")
    else {
        return;
    };
    let params = format!("sslmode=verify-full&sslrootcert={}", pg.ca_file.display());
    // The certificate names `localhost` only.
    let config = PgConfig::from_url(&pg.url("127.0.0.1", &params)).unwrap();
    let (outcome, took) = connect(&config).await;
    let e = outcome.unwrap_err();
    assert!(
        matches!(e, PgError::Migrate(MigrateError::Handshake(_))),
        "{e:?}"
    );
    let said = e.to_string();
    assert!(
        said.contains("TLS") && said.contains("hostname mismatch"),
        "{said}"
    );
    assert!(
        took < Duration::from_secs(5),
        "refused at once, not retried: {took:?}"
    );
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_as_such() {
    let Some(pg) = cluster("a_certificate_from_an_unknown_ca_is_refused_as_such") else {
        return;
    };
    let config = PgConfig::from_url(&pg.url("localhost", "sslmode=verify-full"))
        .unwrap()
        .with_tls(SslMode::VerifyFull, Some(pg.other_ca_file.clone()));
    let (outcome, took) = connect(&config).await;
    let said = outcome.unwrap_err().to_string();
    assert!(
        said.contains("TLS") && said.contains("unknown issuer"),
        "{said}"
    );
    assert!(
        took < Duration::from_secs(5),
        "refused at once, not retried: {took:?}"
    );
    // Without a CA file the system's roots are trusted, and they do not know it either.
    let config = PgConfig::from_url(&pg.url("localhost", "sslmode=verify-full")).unwrap();
    let said = connect(&config).await.0.unwrap_err().to_string();
    assert!(said.contains("unknown issuer"), "{said}");
}

#[tokio::test]
async fn a_tls_only_server_refuses_a_plain_connection() {
    let Some(pg) = cluster("a_tls_only_server_refuses_a_plain_connection") else {
        return;
    };
    let config = PgConfig::from_url(&pg.url("localhost", "sslmode=disable")).unwrap();
    let (outcome, took) = connect(&config).await;
    let said = outcome.unwrap_err().to_string();
    assert!(
        said.contains("no pg_hba.conf entry") && said.contains("no encryption"),
        "{said}"
    );
    assert!(
        took < Duration::from_secs(5),
        "refused at once, not retried: {took:?}"
    );
}

use super::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn the_declared_schema_is_the_adapters_default() {
    assert_eq!(DATABASE_SCHEMA, PgConfig::DEFAULT_SCHEMA);
}

#[test]
fn postgres_variables_of_the_original_build_a_url() {
    let vars = StorageVars {
        postgres_hosts: s("db1:5433,db2"),
        postgres_db: s("messenger"),
        postgres_user: s("app"),
        postgres_pwd: s("p@ss:w/rd"),
        pool_size: s("5"),
        ..StorageVars::default()
    };
    assert_eq!(
        database_url(&vars).unwrap().as_deref(),
        Some("postgresql://app:p%40ss%3Aw%2Frd@db1:5433,db2/messenger")
    );
    let storage = Storage::from_vars(&vars, Duration::from_secs(1)).unwrap();
    let pg = storage.pg().unwrap();
    assert_eq!((pg.pool_size(), pg.schema()), (5, "messenger"));
    assert!(!format!("{storage:?}").contains("p@ss"), "{storage:?}");
}

#[test]
fn write_lanes_reach_the_adapter_with_their_default() {
    let url = |lanes: Option<String>| StorageVars {
        database_url: s("postgres://u@h/db"),
        postgres_write_lanes: lanes,
        ..StorageVars::default()
    };
    let lanes = |v| {
        let storage = Storage::from_vars(&v, Duration::from_secs(1)).unwrap();
        storage.pg().unwrap().write_lanes()
    };
    assert_eq!(lanes(url(None)), PgConfig::DEFAULT_WRITE_LANES);
    assert_eq!(
        POSTGRES_WRITE_LANES,
        PgConfig::DEFAULT_WRITE_LANES.to_string()
    );
    assert_eq!(lanes(url(s("7"))), 7);
}

#[test]
fn database_url_wins_over_postgres_variables() {
    let vars = StorageVars {
        database_url: s("postgres://u@h/db"),
        postgres_hosts: s("other"),
        ..StorageVars::default()
    };
    assert_eq!(
        database_url(&vars).unwrap().as_deref(),
        Some("postgres://u@h/db")
    );
}

#[test]
fn tls_settings_fill_in_what_the_url_leaves_out() {
    let storage = Storage::from_vars(
        &StorageVars {
            postgres_hosts: s("db1"),
            database_sslmode: s("Require"),
            ..StorageVars::default()
        },
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(storage.pg().unwrap().ssl_mode(), SslMode::Require);
    let storage = Storage::from_vars(
        &StorageVars {
            database_url: s("postgres://u@h/db?sslmode=disable"),
            database_sslmode: s("verify-full"),
            ..StorageVars::default()
        },
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        storage.pg().unwrap().ssl_mode(),
        SslMode::Disable,
        "the URL wins"
    );
    let e = Storage::from_vars(
        &StorageVars {
            database_url: s("postgres://u@h/db"),
            database_sslmode: s("allow"),
            ..StorageVars::default()
        },
        Duration::from_secs(1),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("DATABASE_SSLMODE:"), "{e}");
    let e = Storage::from_vars(
        &StorageVars {
            database_url: s("postgres://u@h/db"),
            database_sslmode: s("verify-full"),
            database_ca_file: s("/no/such/ca.pem"),
            ..StorageVars::default()
        },
        Duration::from_secs(1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("PostgreSQL:") && e.contains("/no/such/ca.pem"),
        "{e}"
    );
}

#[test]
fn a_bad_schema_is_named() {
    let e = Storage::from_vars(
        &StorageVars {
            database_url: s("postgres://u@h/db"),
            database_schema: s("no such; schema"),
            ..StorageVars::default()
        },
        Duration::from_secs(1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("PostgreSQL:") && e.contains("DATABASE_SCHEMA"),
        "{e}"
    );
}

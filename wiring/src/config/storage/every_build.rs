//! What storage configuration refuses the same way whether PostgreSQL is built in or not:
//! a build without it still reads and checks every variable.

use super::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// The error `vars` give, as the operator reads it.
fn refusal(vars: StorageVars) -> String {
    match Storage::from_vars(&vars, Duration::from_secs(1)) {
        Ok(storage) => panic!("accepted: {storage:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_variables_are_refused_by_name_without_their_secrets() {
    assert!(matches!(
        Storage::from_vars(&StorageVars::default(), Duration::from_secs(1)),
        Ok(Storage::Memory)
    ));
    let e = refusal(StorageVars {
        database_url: s("mysql://secret@h/db"),
        ..StorageVars::default()
    });
    assert!(
        e.starts_with("DATABASE_URL:") && !e.contains("secret"),
        "{e}"
    );
    let e = refusal(StorageVars {
        postgres_db: s("x"),
        ..StorageVars::default()
    });
    assert!(e.contains("POSTGRES_HOSTS"), "{e}");
    let e = refusal(StorageVars {
        pool_size: s("0"),
        ..StorageVars::default()
    });
    assert!(e.starts_with("POOL_SIZE:"), "{e}");
    for lanes in ["0", "many"] {
        let e = refusal(StorageVars {
            postgres_write_lanes: s(lanes),
            ..StorageVars::default()
        });
        assert!(e.starts_with("POSTGRES_WRITE_LANES:"), "{e}");
    }
}

use super::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn storage(vars: StorageVars) -> Result<Storage, ConfigError> {
    Storage::from_vars(&vars, Duration::from_secs(1))
}

#[test]
fn a_configured_database_is_refused_naming_its_variable_and_the_feature() {
    for (vars, variable) in [
        (
            StorageVars {
                database_url: s("postgres://u@h/db"),
                postgres_hosts: s("other"),
                ..StorageVars::default()
            },
            "DATABASE_URL",
        ),
        (
            StorageVars {
                postgres_hosts: s("db1"),
                ..StorageVars::default()
            },
            "POSTGRES_HOSTS",
        ),
    ] {
        let e = storage(vars).unwrap_err();
        assert_eq!(
            e,
            ConfigError::NotBuiltIn {
                variable,
                backend: "PostgreSQL",
                feature: "postgres"
            }
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{variable} is set, but this messenger-api"))
                && text.contains("`--features postgres`"),
            "{text}"
        );
    }
}

//! The migration runner: up from empty, down to empty, again; checksums; concurrency.

use crate::helpers::TestSchema;
use messenger_postgres::{DownSteps, MigrateError, Migrator, MIGRATIONS};
use std::collections::BTreeSet;
use std::time::Duration;

/// Every object in the schema other than the runner's own ledger (and its index).
async fn objects(schema: &TestSchema) -> Vec<String> {
    let client = schema.client().await;
    let rows = client
        .query(
            "SELECT c.relname || ':' || c.relkind::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname NOT IN ('schema_migrations', 'schema_migrations_pkey') \
             UNION ALL SELECT 'type:' || t.typname FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 AND t.typname NOT IN ('schema_migrations', '_schema_migrations') \
             UNION ALL SELECT 'function:' || p.proname FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 \
             ORDER BY 1",
            &[&schema.name],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

fn all_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

#[tokio::test]
async fn up_from_empty_down_to_empty_and_up_again() {
    let Some(schema) = TestSchema::new("up_from_empty_down_to_empty_and_up_again") else {
        return;
    };
    let migrator = Migrator::new(&schema.config());
    let status = migrator.status().await.unwrap();
    assert!(status.iter().all(|s| s.applied_at.is_none()), "{status:?}");

    assert_eq!(migrator.up().await.unwrap(), all_versions());
    assert!(objects(&schema).await.iter().any(|o| o == "messages:r"));
    assert!(migrator
        .status()
        .await
        .unwrap()
        .iter()
        .all(|s| s.applied_at.is_some() && s.known && !s.changed));
    assert!(
        migrator.up().await.unwrap().is_empty(),
        "a second up applies nothing"
    );

    let last = *all_versions().last().unwrap();
    assert_eq!(migrator.down(DownSteps::One).await.unwrap(), [last]);
    let status = migrator.status().await.unwrap();
    assert!(status
        .iter()
        .find(|s| s.version == last)
        .unwrap()
        .applied_at
        .is_none());
    assert_eq!(migrator.up().await.unwrap(), [last]);

    let mut reversed = all_versions();
    reversed.reverse();
    assert_eq!(migrator.down(DownSteps::All).await.unwrap(), reversed);
    assert_eq!(
        objects(&schema).await,
        Vec::<String>::new(),
        "down to empty leaves nothing"
    );
    assert!(migrator.down(DownSteps::All).await.unwrap().is_empty());

    assert_eq!(migrator.up().await.unwrap(), all_versions());
    // The store works on the re-created schema.
    schema.store().await.ping().await.unwrap();
}

#[test]
fn every_migration_file_is_embedded_and_every_up_has_a_down() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut ups = BTreeSet::new();
    let mut downs = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".up.sql") {
            ups.insert(stem.to_owned());
        } else if let Some(stem) = name.strip_suffix(".down.sql") {
            downs.insert(stem.to_owned());
        } else {
            panic!("unexpected file in migrations/: {name}");
        }
    }
    assert_eq!(ups, downs, "every up has a down and every down an up");
    let embedded: BTreeSet<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect();
    assert_eq!(
        ups, embedded,
        "every file is embedded under its number and name"
    );
    for pair in MIGRATIONS.windows(2) {
        assert!(pair[0].version < pair[1].version, "versions increase");
    }
    for m in MIGRATIONS {
        let stem = format!("{:04}_{}", m.version, m.name);
        assert_eq!(
            m.up,
            std::fs::read_to_string(dir.join(format!("{stem}.up.sql"))).unwrap()
        );
        assert_eq!(
            m.down,
            std::fs::read_to_string(dir.join(format!("{stem}.down.sql"))).unwrap()
        );
        assert!(!m.down.trim().is_empty(), "{stem} has an empty down step");
    }
}

#[tokio::test]
async fn two_runners_at_once_apply_each_migration_once() {
    let Some(schema) = TestSchema::new("two_runners_at_once_apply_each_migration_once") else {
        return;
    };
    let a = Migrator::new(&schema.config());
    let b = Migrator::new(&schema.config());
    let (ra, rb) = tokio::join!(a.up(), b.up());
    let mut applied = ra.unwrap();
    applied.extend(rb.unwrap());
    applied.sort_unstable();
    assert_eq!(
        applied,
        all_versions(),
        "each migration applied by exactly one runner"
    );
    assert!(a
        .status()
        .await
        .unwrap()
        .iter()
        .all(|s| s.applied_at.is_some()));
}

#[tokio::test]
async fn a_changed_migration_is_refused_and_the_lock_is_released() {
    let Some(schema) = TestSchema::new("a_changed_migration_is_refused_and_the_lock_is_released")
    else {
        return;
    };
    let migrator = Migrator::new(&schema.config());
    migrator.up().await.unwrap();
    let client = schema.client().await;
    client
        .execute(
            "UPDATE schema_migrations SET checksum = '\\x00' WHERE version = 1",
            &[],
        )
        .await
        .unwrap();
    for _ in 0..2 {
        // A held lock would make the second run wait forever.
        let r = tokio::time::timeout(Duration::from_secs(5), migrator.up())
            .await
            .expect("the migration lock was left held");
        assert!(
            matches!(r, Err(MigrateError::ChecksumMismatch { version: 1, .. })),
            "{r:?}"
        );
    }
    assert!(matches!(
        migrator.down(DownSteps::One).await,
        Err(MigrateError::ChecksumMismatch { version: 1, .. })
    ));
    let status = migrator.status().await.unwrap();
    assert!(status.iter().find(|s| s.version == 1).unwrap().changed);
    // Nobody holds the schema's lock now.
    let free: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            &[&0x4d53_4731_i32, &schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(free);
}

#[tokio::test]
async fn a_migration_applied_by_a_newer_binary_is_reported_and_not_reverted() {
    let Some(schema) =
        TestSchema::new("a_migration_applied_by_a_newer_binary_is_reported_and_not_reverted")
    else {
        return;
    };
    let migrator = Migrator::new(&schema.config());
    migrator.up().await.unwrap();
    let client = schema.client().await;
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', '\\x00')",
            &[],
        )
        .await
        .unwrap();
    assert!(migrator.up().await.unwrap().is_empty(), "up still works");
    let status = migrator.status().await.unwrap();
    assert!(status.iter().any(|s| s.version == 9999 && !s.known));
    assert!(matches!(
        migrator.down(DownSteps::One).await,
        Err(MigrateError::Unknown { version: 9999 })
    ));
}

/// Migration 0005 on a store with data: members are numbered in joining order, every
/// account's part is recorded with everything read so far, and the chats and their
/// messages keep working; down forgets members that left.
#[tokio::test]
async fn conversations_migration_fills_in_existing_chats() {
    let Some(schema) = TestSchema::new("conversations_migration_fills_in_existing_chats") else {
        return;
    };
    let migrator = Migrator::new(&schema.config());
    migrator.up().await.unwrap();
    down_to_before(&migrator, 5).await;
    let client = schema.client().await;
    // A chat with two messages and two members of one account (0004's shape).
    client
        .batch_execute(
            "INSERT INTO chats (id, name, creator, created_at, last_seq, last_created_at) \
             VALUES ('00000000-0000-0000-0000-00000000000c', 'old', \
                     '00000000-0000-0000-0000-0000000000a1', 10, 2, 30); \
             INSERT INTO members (chat_id, id, account_id, name, joined_at, name_owner) VALUES \
             ('00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-0000000000b2', \
              '00000000-0000-0000-0000-0000000000a2', 'second', 20, true), \
             ('00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-0000000000b1', \
              '00000000-0000-0000-0000-0000000000a2', 'first', 15, true); \
             INSERT INTO messages (chat_id, seq, id, user_id, user_name, text, created_at, words) \
             VALUES ('00000000-0000-0000-0000-00000000000c', 1, gen_random_uuid(), \
                     '00000000-0000-0000-0000-0000000000b1', 'first', 'a', 25, ''), \
                    ('00000000-0000-0000-0000-00000000000c', 2, gen_random_uuid(), \
                     '00000000-0000-0000-0000-0000000000b1', 'first', 'b', 30, '');",
        )
        .await
        .unwrap();
    assert_eq!(migrator.up().await.unwrap().first(), Some(&5));
    let rows = client
        .query(
            "SELECT id::text, join_seq FROM members ORDER BY join_seq",
            &[],
        )
        .await
        .unwrap();
    let order: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        order,
        [
            ("00000000-0000-0000-0000-0000000000b1".to_owned(), 1),
            ("00000000-0000-0000-0000-0000000000b2".to_owned(), 2)
        ],
        "members are numbered in joining order"
    );
    let rows = client
        .query(
            "SELECT account_id::text, is_creator, identities, read_seq FROM participants \
             ORDER BY account_id",
            &[],
        )
        .await
        .unwrap();
    let parts: Vec<(String, bool, i32, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        parts,
        [
            (
                "00000000-0000-0000-0000-0000000000a1".to_owned(),
                true,
                0,
                2
            ),
            (
                "00000000-0000-0000-0000-0000000000a2".to_owned(),
                false,
                2,
                2
            )
        ],
        "the creator and the member's account take part, with everything read"
    );
    let row = client
        .query_one("SELECT activity, member_seq, member_count FROM chats", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (30, 2, 2)
    );
    // One member leaves; down forgets it and everything 0005 added.
    client
        .batch_execute(
            "UPDATE members SET active = false, name_owner = false \
             WHERE id = '00000000-0000-0000-0000-0000000000b2'",
        )
        .await
        .unwrap();
    down_to_before(&migrator, 5).await;
    let left: i64 = client
        .query_one("SELECT count(*) FROM members", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "down forgets members that left");
    assert_eq!(migrator.up().await.unwrap().first(), Some(&5));
}

/// Migration 0009 keeps the word index's pending list small (every search reads it whole),
/// and its down returns the index to the server's default.
#[tokio::test]
async fn the_word_index_keeps_a_small_pending_list() {
    let Some(schema) = TestSchema::new("the_word_index_keeps_a_small_pending_list") else {
        return;
    };
    let migrator = Migrator::new(&schema.config());
    migrator.up().await.unwrap();
    let client = schema.client().await;
    let options = || async {
        client
            .query_one(
                "SELECT coalesce(c.reloptions, '{}') FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = 'messages_words_idx'",
                &[&schema.name],
            )
            .await
            .unwrap()
            .get::<_, Vec<String>>(0)
    };
    assert_eq!(options().await, ["gin_pending_list_limit=256"]);
    down_to_before(&migrator, 9).await;
    assert!(options().await.is_empty(), "down resets the limit");
}

/// Reverts migrations one at a time, newest first, until `version` is reverted.
async fn down_to_before(migrator: &Migrator, version: i64) {
    loop {
        let reverted = migrator.down(DownSteps::One).await.unwrap();
        assert_eq!(reverted.len(), 1, "one step reverts one migration");
        if reverted[0] <= version {
            assert_eq!(reverted[0], version, "{version} was applied");
            return;
        }
    }
}

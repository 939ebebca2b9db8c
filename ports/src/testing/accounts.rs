//! [`Accounts`]: stored accounts are found by exactly their name; names are unique
//! case-sensitively, also under concurrent inserts.

use super::support::{account_named, ok, unique_name, unique_u128};
use crate::{Accounts, PortError};
use futures_util::future::join_all;
use messenger_domain::{Account, AccountId};

/// Runs every check of [`Accounts`]:
/// - a stored account is found by its name, field for field; an unknown name is `None`;
/// - names are matched exactly: case, surrounding spaces and Unicode normalisation form
///   make different names, each stored and found on its own; SQL-looking and long
///   (255-character, multi-byte) names round-trip;
/// - a second account with a taken name is a `Conflict` and changes nothing;
/// - of eight concurrent inserts of one name, exactly one succeeds, the others are
///   `Conflict`, and the name then finds the winner;
/// - an account is found by its id; setting its password hash changes only that; an
///   unknown id finds nothing and cannot take a password (`NotFound`).
pub async fn accounts_suite(accounts: &dyn Accounts) {
    account_by_id_and_password_change(accounts).await;
    stored_account_is_found_by_name(accounts).await;
    names_are_exact(accounts).await;
    duplicate_name_is_a_conflict(accounts).await;
    concurrent_inserts_of_one_name_store_one(accounts).await;
}

/// A stored account is found by its name with every field as stored; an unknown name
/// finds nothing.
pub async fn stored_account_is_found_by_name(accounts: &dyn Accounts) {
    let account = account_named(&unique_name("alice-"));
    ok(accounts.insert_account(&account).await, "insert_account");
    let found = ok(
        accounts.account_by_name(&account.name).await,
        "account_by_name",
    );
    assert_eq!(
        found.as_ref(),
        Some(&account),
        "account_by_name must return the stored account, field for field"
    );
    let unknown = unique_name("nobody-");
    let found = ok(accounts.account_by_name(&unknown).await, "account_by_name");
    assert_eq!(found, None, "an unknown name must find no account");
}

/// Names are compared exactly: names that differ only in case, surrounding spaces or
/// Unicode normalisation are different accounts; odd names round-trip verbatim.
pub async fn names_are_exact(accounts: &dyn Accounts) {
    let suffix = unique_name("");
    let names = [
        format!("Carol-{suffix}"),
        format!("carol-{suffix}"),
        format!("CAROL-{suffix}"),
        format!(" carol-{suffix} "),
        // "Zoë" precomposed (U+00EB) and decomposed (e + U+0308): no normalisation.
        format!("Zo\u{eb}-{suffix}"),
        format!("Zoe\u{308}-{suffix}"),
        format!("o'brien\"; DROP TABLE accounts; -- \\ {suffix}"),
        format!("Łódź 東京 🙂 {suffix}"),
    ];
    let mut stored = Vec::new();
    for name in &names {
        let account = account_named(name);
        ok(
            accounts.insert_account(&account).await,
            &format!("insert_account({name:?}) (no other account has exactly this name)"),
        );
        stored.push(account);
    }
    // 255 characters of two bytes each: the longest valid name.
    let long = {
        let mut s = unique_name("x");
        while s.chars().count() < 255 {
            s.push('é');
        }
        s
    };
    let account = account_named(&long);
    ok(
        accounts.insert_account(&account).await,
        "insert_account(255-character name)",
    );
    stored.push(account);

    for account in &stored {
        let found = ok(
            accounts.account_by_name(&account.name).await,
            "account_by_name",
        );
        assert_eq!(
            found.as_ref(),
            Some(account),
            "account_by_name({:?}) must find exactly the account of that name",
            account.name
        );
    }
    let never_stored = format!("cAROL-{suffix}");
    let found = ok(
        accounts.account_by_name(&never_stored).await,
        "account_by_name",
    );
    assert_eq!(
        found, None,
        "names are case-sensitive: {never_stored:?} was never stored"
    );
}

/// A second account with a name already taken is a `Conflict`, and the name still finds
/// the first account.
pub async fn duplicate_name_is_a_conflict(accounts: &dyn Accounts) {
    let first = account_named(&unique_name("dave-"));
    ok(accounts.insert_account(&first).await, "insert_account");
    let second = account_named(&first.name);
    let result = accounts.insert_account(&second).await;
    assert_eq!(
        result,
        Err(PortError::Conflict),
        "inserting a second account named {:?} must be a Conflict",
        first.name
    );
    let found = ok(
        accounts.account_by_name(&first.name).await,
        "account_by_name",
    );
    assert_eq!(
        found.map(|a| a.id),
        Some(first.id),
        "a refused duplicate must not replace the first account"
    );
}

/// Eight concurrent inserts of one name (different ids): exactly one succeeds, the others
/// are `Conflict`, and the name finds the one that succeeded.
pub async fn concurrent_inserts_of_one_name_store_one(accounts: &dyn Accounts) {
    let name = unique_name("erin-");
    let candidates: Vec<_> = (0..8).map(|_| account_named(&name)).collect();
    let results = join_all(candidates.iter().map(|a| accounts.insert_account(a))).await;
    let mut winners = Vec::new();
    for (account, result) in candidates.iter().zip(&results) {
        match result {
            Ok(()) => winners.push(account.id),
            Err(PortError::Conflict) => {}
            Err(e) => {
                panic!("a racing insert of one name must succeed or be a Conflict, got {e:?}")
            }
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 8 concurrent inserts of {name:?} must succeed; results: {results:?}"
    );
    let found = ok(accounts.account_by_name(&name).await, "account_by_name");
    assert_eq!(
        found.map(|a| a.id),
        Some(winners[0]),
        "the name must find the account whose insert succeeded"
    );
}

/// An account is found by its id; a new password hash replaces only the hash (by id and
/// by name alike); an unknown id finds nothing, and setting its hash is `NotFound`.
pub async fn account_by_id_and_password_change(accounts: &dyn Accounts) {
    let account = account_named(&unique_name("frank-"));
    let neighbour = account_named(&unique_name("grace-"));
    ok(accounts.insert_account(&account).await, "insert_account");
    ok(accounts.insert_account(&neighbour).await, "insert_account");
    let found = ok(accounts.account_by_id(account.id).await, "account_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&account),
        "account_by_id must return the stored account, field for field"
    );
    let unknown = AccountId::from_u128(unique_u128());
    let found = ok(accounts.account_by_id(unknown).await, "account_by_id");
    assert_eq!(found, None, "an unknown id must find no account");

    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g";
    ok(
        accounts.set_password_hash(account.id, new_hash).await,
        "set_password_hash",
    );
    let changed = Account {
        password_hash: new_hash.to_owned(),
        ..account.clone()
    };
    let by_id = ok(accounts.account_by_id(account.id).await, "account_by_id");
    let by_name = ok(
        accounts.account_by_name(&account.name).await,
        "account_by_name",
    );
    assert_eq!(
        (by_id.as_ref(), by_name.as_ref()),
        (Some(&changed), Some(&changed)),
        "set_password_hash must replace the hash and nothing else"
    );
    let other = ok(accounts.account_by_id(neighbour.id).await, "account_by_id");
    assert_eq!(
        other.as_ref(),
        Some(&neighbour),
        "set_password_hash must not touch another account"
    );
    assert_eq!(
        accounts.set_password_hash(unknown, new_hash).await,
        Err(PortError::NotFound),
        "set_password_hash of an unknown account must be NotFound"
    );
}

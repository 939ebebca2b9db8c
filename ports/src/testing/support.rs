//! What every suite shares: unique ids and names, fixtures, and assertion helpers that
//! turn a port error into a failure naming the step.

use crate::{Accounts, PortResult};
use messenger_domain::{Account, AccountId, Chat, ChatId, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A 128-bit value never returned before, by this or any other process on this machine:
/// wall-clock nanoseconds (high 64 bits), the process id and a per-process counter (low
/// 64 bits). Two processes share a pid only one after the other, when the clock has moved
/// on; within a process the counter differs. No randomness is needed.
pub fn unique_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let low = (u64::from(std::process::id()) << 32) ^ count;
    ((nanos as u64 as u128) << 64) | u128::from(low)
}

/// `prefix` followed by a unique suffix of lowercase hex (letters and digits only, so it
/// is a single word for the search tokenizer and a safe key or queue name).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{:032x}", unique_u128())
}

/// The wall-clock time, in microseconds (fixtures' timestamps).
pub(crate) fn wall_now() -> Timestamp {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
}

/// The value of a port call that must succeed, or a failure naming the step.
#[track_caller]
pub(crate) fn ok<T>(result: PortResult<T>, step: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{step}: the port failed unexpectedly: {e:?}"),
    }
}

/// The value that must be present, or a failure naming the step.
#[track_caller]
pub(crate) fn some<T>(value: Option<T>, step: &str) -> T {
    match value {
        Some(v) => v,
        None => panic!("{step}: expected a value, got None"),
    }
}

/// A new account (unique id, the given name), not yet stored.
pub(crate) fn account_named(name: &str) -> Account {
    Account {
        id: AccountId::from_u128(unique_u128()),
        name: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        created_at: wall_now(),
    }
}

/// Stores a new account with a unique name and returns its id. Suites that only need an
/// account id still store the account, so adapters that enforce references pass too.
pub(crate) async fn fresh_account(accounts: &dyn Accounts) -> AccountId {
    let account = account_named(&unique_name("acct-"));
    ok(
        accounts.insert_account(&account).await,
        "storing a fresh account",
    );
    account.id
}

/// A new chat (unique id) created by `creator`, not yet stored.
pub(crate) fn chat_by(creator: AccountId, name: &str) -> Chat {
    Chat {
        id: ChatId::from_u128(unique_u128()),
        name: name.to_owned(),
        creator,
        created_at: wall_now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::tokenize;
    use std::collections::HashSet;

    #[test]
    fn unique_values_never_repeat_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..10_000).map(|_| unique_u128()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            for v in t.join().unwrap() {
                assert!(seen.insert(v), "unique_u128 repeated {v:#x}");
            }
        }
    }

    #[test]
    fn unique_names_are_one_search_word_and_differ() {
        let a = unique_name("marker");
        let b = unique_name("marker");
        assert_ne!(a, b);
        assert_eq!(tokenize(&a), vec![a.clone()]);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}

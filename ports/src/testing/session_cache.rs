//! [`SessionCache`]: put, get, remove, and the cache lifetime.

use super::support::{ok, unique_u128, wall_now};
use super::TimeTravel;
use crate::SessionCache;
use messenger_domain::{AccountId, Session, TokenHash};
use std::time::Duration;

/// Runs every check of [`SessionCache`] (`time` lets the cache lifetime pass; at most
/// 0.5 s of it in all):
/// - a put session is got back, field for field; an unknown hash is `None`; a second put
///   replaces the first;
/// - `remove` is seen at once by the next `get`; removing an unknown hash is fine;
/// - a session is still there before its `ttl` ends and gone after it.
pub async fn session_cache_suite(cache: &dyn SessionCache, time: &TimeTravel) {
    put_session_is_got_back(cache).await;
    removed_session_is_gone_at_once(cache).await;
    cached_session_expires_after_its_ttl(cache, time).await;
}

fn fresh_session() -> Session {
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(&unique_u128().to_be_bytes());
    hash[16..].copy_from_slice(&unique_u128().to_be_bytes());
    let now = wall_now();
    Session {
        token_hash: TokenHash(hash),
        account_id: AccountId::from_u128(unique_u128()),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        revoked: false,
        client_address: "2001:db8:1:2::/64".to_owned(),
        user_agent: Some("Mozilla/5.0 (X11) \"quoted\" Łódź".to_owned()),
    }
}

const LONG: Duration = Duration::from_secs(600);

/// A put session is got back as put; an unknown hash finds nothing; a second put of the
/// same hash replaces the first.
pub async fn put_session_is_got_back(cache: &dyn SessionCache) {
    let session = fresh_session();
    ok(cache.put(&session, LONG).await, "put");
    let got = ok(cache.get(&session.token_hash).await, "get");
    assert_eq!(
        got.as_ref(),
        Some(&session),
        "get must return the session as put"
    );
    let unknown = fresh_session();
    let got = ok(cache.get(&unknown.token_hash).await, "get");
    assert_eq!(got, None, "get of a hash never put must be None");

    let changed = Session {
        revoked: true,
        expires_at: session.expires_at.plus(Duration::from_secs(1)),
        user_agent: None,
        ..session.clone()
    };
    ok(cache.put(&changed, LONG).await, "put");
    let got = ok(cache.get(&session.token_hash).await, "get");
    assert_eq!(
        got.as_ref(),
        Some(&changed),
        "a second put must replace the first"
    );
}

/// After `remove` returns, `get` answers `None`; removing twice or an unknown hash is fine;
/// other sessions stay.
pub async fn removed_session_is_gone_at_once(cache: &dyn SessionCache) {
    let session = fresh_session();
    let other = fresh_session();
    ok(cache.put(&session, LONG).await, "put");
    ok(cache.put(&other, LONG).await, "put");
    ok(cache.remove(&session.token_hash).await, "remove");
    let got = ok(cache.get(&session.token_hash).await, "get");
    assert_eq!(got, None, "get right after remove must be None");
    ok(cache.remove(&session.token_hash).await, "remove (again)");
    ok(
        cache.remove(&fresh_session().token_hash).await,
        "remove (unknown)",
    );
    let got = ok(cache.get(&other.token_hash).await, "get");
    assert_eq!(
        got.as_ref(),
        Some(&other),
        "remove must not touch other sessions"
    );
}

/// A session put for 300 ms is there after 100 ms and gone after 400 ms, while one put for
/// longer stays.
pub async fn cached_session_expires_after_its_ttl(cache: &dyn SessionCache, time: &TimeTravel) {
    let short = fresh_session();
    let long = fresh_session();
    ok(cache.put(&short, Duration::from_millis(300)).await, "put");
    ok(cache.put(&long, LONG).await, "put");
    time.advance(Duration::from_millis(100)).await;
    let got = ok(cache.get(&short.token_hash).await, "get");
    assert_eq!(
        got.as_ref(),
        Some(&short),
        "a session must still be cached 100 ms into its 300 ms ttl"
    );
    time.advance(Duration::from_millis(300)).await;
    let got = ok(cache.get(&short.token_hash).await, "get");
    assert_eq!(
        got, None,
        "a session must be gone 400 ms after a put with a 300 ms ttl"
    );
    let got = ok(cache.get(&long.token_hash).await, "get");
    assert_eq!(
        got.as_ref(),
        Some(&long),
        "a session with a long ttl must stay"
    );
}

/// For caches shared by several instances (run it with two instances over one backend,
/// not part of [`session_cache_suite`]): a session put through one is got through the
/// other, and once `remove` returns on one, `get` on the other answers `None`.
pub async fn removal_is_seen_by_every_instance(
    first: &dyn SessionCache,
    second: &dyn SessionCache,
) {
    let session = fresh_session();
    ok(first.put(&session, LONG).await, "put (first instance)");
    let got = ok(
        second.get(&session.token_hash).await,
        "get (second instance)",
    );
    assert_eq!(
        got.as_ref(),
        Some(&session),
        "a session put through one instance must be got through another"
    );
    let got = ok(first.get(&session.token_hash).await, "get (first instance)");
    assert_eq!(
        got.as_ref(),
        Some(&session),
        "the first instance must get it too"
    );
    ok(
        second.remove(&session.token_hash).await,
        "remove (second instance)",
    );
    let got = ok(first.get(&session.token_hash).await, "get (first instance)");
    assert_eq!(
        got, None,
        "after remove returns on one instance, get on every other must answer None"
    );
}

//! [`Sessions`]: the durable record of logins — insert and find (by token hash and by
//! public id), an account's live sessions, idempotent revocation of one or of all of an
//! account's, purging by expiry.

use super::support::{fresh_account, ok, unique_u128, wall_now};
use crate::{Accounts, PortError, Sessions};
use messenger_domain::{AccountId, Session, Timestamp, TokenHash};
use std::time::Duration;

/// Runs every check of [`Sessions`] (`accounts` stores the sessions' owners, for adapters
/// that enforce the reference):
/// - a stored session is found by its hash, field for field; an unknown hash is `None`; a
///   second session with the same hash is a `Conflict`;
/// - revoking marks only that session revoked (other fields unchanged) and answers
///   `true`, again `true` when repeated; `false` for an unknown hash;
/// - purging deletes exactly the sessions whose `expires_at` is before the given time
///   (one microsecond before: deleted; at or after: kept, revoked or not) and counts them;
/// - a session is found by its public id (revoked too), an unknown public id is `None`;
/// - an account's live sessions are exactly its unrevoked, unexpired ones (expiring at
///   `now` is expired), newest first, ties by token hash descending, cut to the limit;
/// - revoking an account's sessions revokes every unrevoked one but the kept one,
///   returns exactly those hashes, touches no other account, and a repeat returns none.
pub async fn sessions_suite(accounts: &dyn Accounts, sessions: &dyn Sessions) {
    stored_session_is_found(accounts, sessions).await;
    revoking_is_idempotent(accounts, sessions).await;
    purge_removes_only_sessions_expired_before(accounts, sessions).await;
    session_is_found_by_public_id(accounts, sessions).await;
    live_sessions_are_the_accounts_newest_first(accounts, sessions).await;
    revoking_an_accounts_sessions_spares_the_kept_one(accounts, sessions).await;
}

/// A unique token hash.
fn fresh_hash() -> TokenHash {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&unique_u128().to_be_bytes());
    bytes[16..].copy_from_slice(&unique_u128().to_le_bytes());
    TokenHash(bytes)
}

fn session_of(account: AccountId, created_at: Timestamp, expires_at: Timestamp) -> Session {
    Session {
        token_hash: fresh_hash(),
        account_id: account,
        created_at,
        expires_at,
        revoked: false,
        client_address: "203.0.113.7".to_owned(),
        user_agent: Some("suite-agent/1.0 (Łódź; \"x\")".to_owned()),
    }
}

/// A stored session is found by its hash with every field as stored; an unknown hash
/// finds nothing; a second insert of the same hash is a `Conflict`.
pub async fn stored_session_is_found(accounts: &dyn Accounts, sessions: &dyn Sessions) {
    let owner = fresh_account(accounts).await;
    let now = wall_now();
    let session = session_of(owner, now, now.plus(Duration::from_secs(3600)));
    ok(sessions.insert_session(&session).await, "insert_session");
    let found = ok(sessions.session(&session.token_hash).await, "session");
    assert_eq!(
        found.as_ref(),
        Some(&session),
        "session() must return the stored session, field for field"
    );
    let found = ok(sessions.session(&fresh_hash()).await, "session");
    assert_eq!(found, None, "an unknown token hash must find no session");

    let anonymous_agent = Session {
        user_agent: None,
        client_address: "2001:db8:1:2::/64".to_owned(),
        ..session_of(owner, now, now.plus(Duration::from_secs(3600)))
    };
    ok(
        sessions.insert_session(&anonymous_agent).await,
        "insert_session",
    );
    let found = ok(
        sessions.session(&anonymous_agent.token_hash).await,
        "session",
    );
    assert_eq!(
        found.as_ref(),
        Some(&anonymous_agent),
        "a session without a user agent must come back without one"
    );

    let mut again = session_of(owner, now, now.plus(Duration::from_secs(60)));
    again.token_hash = session.token_hash;
    assert_eq!(
        sessions.insert_session(&again).await,
        Err(PortError::Conflict),
        "inserting a second session with the same hash must be a Conflict"
    );
    let found = ok(sessions.session(&session.token_hash).await, "session");
    assert_eq!(
        found.as_ref(),
        Some(&session),
        "a refused duplicate must not change the stored session"
    );
}

/// Revoking answers `true` and marks only that session revoked; revoking again answers
/// `true` again; an unknown hash answers `false`.
pub async fn revoking_is_idempotent(accounts: &dyn Accounts, sessions: &dyn Sessions) {
    let owner = fresh_account(accounts).await;
    let now = wall_now();
    let session = session_of(owner, now, now.plus(Duration::from_secs(3600)));
    let sibling = session_of(owner, now, now.plus(Duration::from_secs(3600)));
    ok(sessions.insert_session(&session).await, "insert_session");
    ok(sessions.insert_session(&sibling).await, "insert_session");

    assert!(
        ok(
            sessions.revoke_session(&session.token_hash).await,
            "revoke_session"
        ),
        "revoking an existing session must answer true"
    );
    let found = ok(sessions.session(&session.token_hash).await, "session");
    let expected = Session {
        revoked: true,
        ..session.clone()
    };
    assert_eq!(
        found.as_ref(),
        Some(&expected),
        "a revoked session must be kept, marked revoked, other fields unchanged"
    );
    assert!(
        ok(
            sessions.revoke_session(&session.token_hash).await,
            "revoke_session"
        ),
        "revoking an already revoked session must answer true again (idempotent)"
    );
    let found = ok(sessions.session(&session.token_hash).await, "session");
    assert_eq!(
        found.as_ref(),
        Some(&expected),
        "revoking twice changes nothing more"
    );

    let found = ok(sessions.session(&sibling.token_hash).await, "session");
    assert_eq!(
        found.as_ref(),
        Some(&sibling),
        "revoking one session must not touch another session of the same account"
    );
    assert!(
        !ok(
            sessions.revoke_session(&fresh_hash()).await,
            "revoke_session"
        ),
        "revoking an unknown session must answer false"
    );
}

/// Purging with a time deletes exactly the sessions that expired before it.
///
/// The sessions of this check expire two hours after the Unix epoch, so the purge cannot
/// touch anyone's real sessions on a shared store.
pub async fn purge_removes_only_sessions_expired_before(
    accounts: &dyn Accounts,
    sessions: &dyn Sessions,
) {
    let owner = fresh_account(accounts).await;
    let cutoff = Timestamp::from_micros(2 * 3600 * 1_000_000);
    let at = |offset_us: i64| {
        let expires = Timestamp::from_micros(cutoff.as_micros() + offset_us);
        session_of(owner, expires.minus(Duration::from_secs(3600)), expires)
    };
    let long_expired = at(-1_000_000);
    let just_expired = at(-1);
    let expiring_at_cutoff = at(0);
    let expiring_after = at(1);
    let mut revoked_live = session_of(
        owner,
        wall_now(),
        wall_now().plus(Duration::from_secs(3600)),
    );
    revoked_live.revoked = true;
    let live = session_of(
        owner,
        wall_now(),
        wall_now().plus(Duration::from_secs(3600)),
    );
    let all = [
        &long_expired,
        &just_expired,
        &expiring_at_cutoff,
        &expiring_after,
        &revoked_live,
        &live,
    ];
    for s in all {
        ok(sessions.insert_session(s).await, "insert_session");
    }

    let purged = ok(sessions.purge_sessions(cutoff).await, "purge_sessions");
    assert!(
        purged >= 2,
        "purge_sessions must count the sessions it deleted (at least this check's 2), got {purged}"
    );
    for gone in [&long_expired, &just_expired] {
        let found = ok(sessions.session(&gone.token_hash).await, "session");
        assert_eq!(
            found,
            None,
            "a session that expired at {} must be purged by purge_sessions({})",
            gone.expires_at.as_micros(),
            cutoff.as_micros()
        );
    }
    for kept in [&expiring_at_cutoff, &expiring_after, &revoked_live, &live] {
        let found = ok(sessions.session(&kept.token_hash).await, "session");
        assert_eq!(
            found.as_ref(),
            Some(kept),
            "a session expiring at {} (revoked: {}) must survive purge_sessions({}): only \
             sessions expired strictly before the time are deleted",
            kept.expires_at.as_micros(),
            kept.revoked,
            cutoff.as_micros()
        );
    }
}

/// A session is found by its public id, revoked or not; an unknown public id finds none.
pub async fn session_is_found_by_public_id(accounts: &dyn Accounts, sessions: &dyn Sessions) {
    let owner = fresh_account(accounts).await;
    let now = wall_now();
    let session = session_of(owner, now, now.plus(Duration::from_secs(3600)));
    let other = session_of(owner, now, now.plus(Duration::from_secs(3600)));
    ok(sessions.insert_session(&session).await, "insert_session");
    ok(sessions.insert_session(&other).await, "insert_session");
    let found = ok(
        sessions.session_by_public_id(session.public_id()).await,
        "session_by_public_id",
    );
    assert_eq!(
        found.as_ref(),
        Some(&session),
        "session_by_public_id must find the session whose public id it is, field for field"
    );
    let found = ok(
        sessions
            .session_by_public_id(fresh_hash().public_id())
            .await,
        "session_by_public_id",
    );
    assert_eq!(found, None, "an unknown public id must find no session");
    ok(
        sessions.revoke_session(&session.token_hash).await,
        "revoke_session",
    );
    let found = ok(
        sessions.session_by_public_id(session.public_id()).await,
        "session_by_public_id",
    );
    assert_eq!(
        found.map(|s| (s.token_hash, s.revoked)),
        Some((session.token_hash, true)),
        "a revoked session is still found by its public id, marked revoked"
    );
}

/// An account's live sessions: only its own, unrevoked and unexpired, newest first (ties
/// by token hash descending), at most the limit.
pub async fn live_sessions_are_the_accounts_newest_first(
    accounts: &dyn Accounts,
    sessions: &dyn Sessions,
) {
    let owner = fresh_account(accounts).await;
    let stranger = fresh_account(accounts).await;
    let now = wall_now();
    let hour = Duration::from_secs(3600);
    let oldest = session_of(owner, now.minus(3 * hour), now.plus(hour));
    let middle = session_of(owner, now.minus(2 * hour), now.plus(hour));
    let mut twin_a = session_of(owner, now.minus(hour), now.plus(hour));
    let mut twin_b = session_of(owner, now.minus(hour), now.plus(hour));
    if twin_a.token_hash.0 < twin_b.token_hash.0 {
        std::mem::swap(&mut twin_a, &mut twin_b);
    }
    let mut revoked = session_of(owner, now.minus(hour / 2), now.plus(hour));
    revoked.revoked = true;
    let expired = session_of(
        owner,
        now.minus(hour / 3),
        now.minus(Duration::from_secs(1)),
    );
    let expiring_now = session_of(owner, now.minus(hour / 4), now);
    let strangers = session_of(stranger, now, now.plus(hour));
    for s in [
        &oldest,
        &twin_b,
        &middle,
        &revoked,
        &twin_a,
        &expired,
        &expiring_now,
        &strangers,
    ] {
        ok(sessions.insert_session(s).await, "insert_session");
    }
    let live = ok(
        sessions.live_sessions(owner, now, 100).await,
        "live_sessions",
    );
    let expected = vec![
        twin_a.clone(),
        twin_b.clone(),
        middle.clone(),
        oldest.clone(),
    ];
    assert_eq!(
        live, expected,
        "live_sessions must give exactly the account's unrevoked sessions expiring after \
         now, newest first (equal times: token hash descending), field for field"
    );
    let first_two = ok(sessions.live_sessions(owner, now, 2).await, "live_sessions");
    assert_eq!(
        first_two,
        expected[..2].to_vec(),
        "live_sessions must stop at the limit, keeping the newest"
    );
    let theirs = ok(
        sessions.live_sessions(stranger, now, 100).await,
        "live_sessions",
    );
    assert_eq!(
        theirs,
        vec![strangers],
        "another account's list holds only its own session"
    );
    let nobody = ok(
        sessions
            .live_sessions(AccountId::from_u128(unique_u128()), now, 100)
            .await,
        "live_sessions",
    );
    assert!(nobody.is_empty(), "an account without sessions lists none");
}

/// Revoking an account's sessions but one: every unrevoked session of the account except
/// the kept one is revoked (expired ones too) and returned; nothing else changes; a repeat
/// returns nothing; without a kept one, the last one goes too.
pub async fn revoking_an_accounts_sessions_spares_the_kept_one(
    accounts: &dyn Accounts,
    sessions: &dyn Sessions,
) {
    let owner = fresh_account(accounts).await;
    let stranger = fresh_account(accounts).await;
    let now = wall_now();
    let hour = Duration::from_secs(3600);
    let kept = session_of(owner, now, now.plus(hour));
    let second = session_of(owner, now, now.plus(hour));
    let third = session_of(owner, now.minus(hour), now.plus(hour));
    let expired = session_of(owner, now.minus(2 * hour), now.minus(hour));
    let mut already = session_of(owner, now, now.plus(hour));
    already.revoked = true;
    let strangers = session_of(stranger, now, now.plus(hour));
    for s in [&kept, &second, &third, &expired, &already, &strangers] {
        ok(sessions.insert_session(s).await, "insert_session");
    }
    let mut ended = ok(
        sessions
            .revoke_account_sessions(owner, Some(&kept.token_hash))
            .await,
        "revoke_account_sessions",
    );
    ended.sort_by_key(|h| h.0);
    let mut expected = vec![second.token_hash, third.token_hash, expired.token_hash];
    expected.sort_by_key(|h| h.0);
    assert_eq!(
        ended, expected,
        "revoke_account_sessions must return exactly the sessions it revoked: every \
         unrevoked one of the account (expired too) except the kept one"
    );
    for s in [&second, &third, &expired, &already] {
        let found = ok(sessions.session(&s.token_hash).await, "session");
        assert_eq!(
            found,
            Some(Session {
                revoked: true,
                ..s.clone()
            }),
            "after revoke_account_sessions every other session of the account is revoked, \
             other fields unchanged"
        );
    }
    for s in [&kept, &strangers] {
        let found = ok(sessions.session(&s.token_hash).await, "session");
        assert_eq!(
            found.as_ref(),
            Some(s),
            "revoke_account_sessions must leave the kept session and other accounts' alone"
        );
    }
    let again = ok(
        sessions
            .revoke_account_sessions(owner, Some(&kept.token_hash))
            .await,
        "revoke_account_sessions",
    );
    assert!(
        again.is_empty(),
        "a repeated revoke_account_sessions revokes nothing more, got {again:?}"
    );
    let last = ok(
        sessions.revoke_account_sessions(owner, None).await,
        "revoke_account_sessions",
    );
    assert_eq!(
        last,
        vec![kept.token_hash],
        "without a kept session, the last live one is revoked too"
    );
    let found = ok(sessions.session(&strangers.token_hash).await, "session");
    assert_eq!(
        found.as_ref(),
        Some(&strangers),
        "another account's session stays"
    );
}

//! [`Sessions`]: the durable record of logins — insert and find, idempotent revocation,
//! purging by expiry.

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
///   (one microsecond before: deleted; at or after: kept, revoked or not) and counts them.
pub async fn sessions_suite(accounts: &dyn Accounts, sessions: &dyn Sessions) {
    stored_session_is_found(accounts, sessions).await;
    revoking_is_idempotent(accounts, sessions).await;
    purge_removes_only_sessions_expired_before(accounts, sessions).await;
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

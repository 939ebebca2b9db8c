//! Account safety: changing the password (which ends every other session), signing out
//! everywhere, and the owner's list of sessions with ending one of them.
//!
//! Every ended session is marked revoked in the durable record first, then removed from
//! the session cache, so it is refused at once on every instance that shares the cache
//! (Redis), and within the in-process cache's short lifetime otherwise.
//!
//! Legacy mode (auth off): the calls act for the anonymous account, which has no password
//! and no sessions — the list is empty, signing out everywhere ends nothing (200), ending
//! a session answers `session-not-found`, and a password change answers `bad-password`
//! (no current password can be right).

use super::Messenger;
use crate::AppError;
use futures_util::future::try_join_all;
use messenger_domain::{Caller, Error, Password, Session, SessionPublicId, TokenHash};

/// Most sessions the list shows (an account rarely has more than a handful live).
pub const MAX_LISTED_SESSIONS: u32 = 1000;

/// One of the caller's live sessions, as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// The session (its token hash stays inside: show [`Session::public_id`]).
    pub session: Session,
    /// Whether it is the session making the request.
    pub current: bool,
}

impl Messenger {
    /// Changes the caller's password after checking the current one, then ends every other
    /// session of the account; the calling session stays. A wrong current password counts
    /// as a failed login for the failed-login limits (per account and client address, and
    /// per account), which are checked before any hashing. The new password is hashed with
    /// the same hasher (and permits) as registration.
    ///
    /// # Errors
    /// `bad-password` (also always in legacy mode), `request-limit-exceeded`,
    /// `invalid-session-id` when the account is gone, unavailable.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: Password,
        new: Password,
        client: &str,
    ) -> Result<(), AppError> {
        if caller.session.is_none() {
            return Err(Error::BadPassword.into());
        }
        let account = self
            .ports
            .accounts
            .account_by_id(caller.account_id)
            .await?
            .ok_or(Error::InvalidSessionId)?;
        let account = match self
            .check_password_limited(&account.name, &current, client)
            .await
        {
            Err(AppError::Domain(Error::UserNotFound)) => {
                return Err(Error::InvalidSessionId.into())
            }
            other => other?,
        };
        let hash = self.ports.hasher.hash(&new).await?;
        self.ports
            .accounts
            .set_password_hash(account.id, &hash)
            .await?;
        let ended = self
            .ports
            .sessions
            .revoke_account_sessions(account.id, caller.session.as_ref())
            .await?;
        self.forget_sessions(&ended).await
    }

    /// Ends every session of the caller's account, the calling one included. A no-op in
    /// legacy mode.
    ///
    /// # Errors
    /// Unavailable when the durable record or a shared session cache cannot be written.
    pub async fn logout_all(&self, caller: &Caller) -> Result<(), AppError> {
        if caller.session.is_none() {
            return Ok(());
        }
        let ended = self
            .ports
            .sessions
            .revoke_account_sessions(caller.account_id, None)
            .await?;
        self.forget_sessions(&ended).await?;
        // The calling session was live a moment ago; if it was already revoked by a racing
        // call it is not in `ended`, and the cache is told anyway.
        if let Some(hash) = caller.session {
            self.ports.session_cache.remove(&hash).await?;
        }
        Ok(())
    }

    /// The caller's live sessions (not revoked, not expired), newest first, at most
    /// [`MAX_LISTED_SESSIONS`], with the calling one marked. Empty in legacy mode.
    ///
    /// # Errors
    /// Unavailable when the durable record cannot be read.
    pub async fn list_sessions(&self, caller: &Caller) -> Result<Vec<ListedSession>, AppError> {
        if caller.session.is_none() {
            return Ok(Vec::new());
        }
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .sessions
            .live_sessions(caller.account_id, now, MAX_LISTED_SESSIONS)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| ListedSession {
                current: Some(session.token_hash) == caller.session,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions (the calling one too, if named) by its public id.
    /// `None` is an id that did not parse.
    ///
    /// # Errors
    /// `session-not-found` when the id is malformed or names no live session of the
    /// caller's account (unknown, ended, expired, or another account's; always in legacy
    /// mode); unavailable.
    pub async fn end_session(
        &self,
        caller: &Caller,
        id: Option<SessionPublicId>,
    ) -> Result<(), AppError> {
        let (Some(id), Some(_)) = (id, caller.session) else {
            return Err(Error::SessionNotFound.into());
        };
        let session = self
            .ports
            .sessions
            .session_by_public_id(id)
            .await?
            .filter(|s| {
                s.account_id == caller.account_id
                    && !s.revoked
                    && s.expires_at > self.ports.clock.now()
            })
            .ok_or(Error::SessionNotFound)?;
        self.ports
            .sessions
            .revoke_session(&session.token_hash)
            .await?;
        self.forget_sessions(&[session.token_hash]).await
    }

    /// Tells the session cache that these sessions ended. The durable record already says
    /// so; a shared cache that cannot be told is an error (another instance could still
    /// accept a token), as for logout.
    async fn forget_sessions(&self, ended: &[TokenHash]) -> Result<(), AppError> {
        let cache = &self.ports.session_cache;
        try_join_all(ended.iter().map(|hash| cache.remove(hash))).await?;
        Ok(())
    }
}

//! Accounts and sessions: register, login, authenticate, logout, purge.

use super::{Messenger, ANONYMOUS_ACCOUNT};
use crate::{AppError, PortError, RateDecision};
use messenger_domain::{
    Account, AccountId, Caller, Error, Password, Session, SessionToken, TokenHash, UserName,
};
use std::time::Duration;

/// Whole seconds, rounded up, at least 1 (the `Retry-After` rule).
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl Messenger {
    /// Registers an account. `client` is the caller's address (registrations are limited
    /// per address).
    ///
    /// # Errors
    /// `user-already-exists`; `request-limit-exceeded`; unavailable when hashing capacity
    /// or the store is.
    pub async fn register(
        &self,
        name: UserName,
        password: Password,
        client: &str,
    ) -> Result<(), AppError> {
        if let RateDecision::Limited { retry_after } =
            self.ports.register_limiter.check(client).await?
        {
            return Err(Error::RequestLimitExceeded {
                retry_after_secs: retry_after_secs(retry_after),
            }
            .into());
        }
        // Cheap check first, so a taken name costs no hash; the insert stays the authority.
        if self
            .ports
            .accounts
            .account_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(Error::UserAlreadyExists.into());
        }
        let password_hash = self.ports.hasher.hash(&password).await?;
        let account = Account {
            id: AccountId::from_u128(self.ports.ids.new_id()),
            name: name.into_string(),
            password_hash,
            created_at: self.ports.clock.now(),
        };
        match self.ports.accounts.insert_account(&account).await {
            Ok(()) => Ok(()),
            Err(PortError::Conflict) => Err(Error::UserAlreadyExists.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Logs in and returns a new session token. Failed logins are limited per
    /// (account, client address) and per account, checked before any hashing.
    ///
    /// # Errors
    /// `user-not-found`, `bad-password`, `request-limit-exceeded`, unavailable.
    pub async fn login(
        &self,
        name: UserName,
        password: Password,
        client: &str,
    ) -> Result<SessionToken, AppError> {
        self.login_with_agent(name, password, client, None).await
    }

    /// [`Messenger::login`], recording the client's `User-Agent` with the session (cleaned
    /// and capped by [`Session::user_agent_from`]) beside its address, for the owner's list
    /// of sessions.
    ///
    /// # Errors
    /// As [`Messenger::login`].
    pub async fn login_with_agent(
        &self,
        name: UserName,
        password: Password,
        client: &str,
        user_agent: Option<&str>,
    ) -> Result<SessionToken, AppError> {
        let account = self
            .check_password_limited(name.as_str(), &password, client)
            .await?;
        let token = SessionToken::from_random(self.ports.ids.token_bytes());
        let now = self.ports.clock.now();
        let session = Session {
            token_hash: token.hash(),
            account_id: account.id,
            created_at: now,
            expires_at: now.plus(self.settings.session_ttl),
            revoked: false,
            client_address: client.to_owned(),
            user_agent: user_agent.and_then(Session::user_agent_from),
        };
        self.ports.sessions.insert_session(&session).await?;
        Ok(token)
    }

    /// Checks `password` against the account named `name` under the failed-login limits
    /// (per (account, client address) and per account, checked before any hashing) and
    /// returns the account. A failure counts against both windows; a success resets the
    /// (account, address) count. Login and the password change share it.
    ///
    /// # Errors
    /// `user-not-found`, `bad-password`, `request-limit-exceeded`, unavailable.
    pub(crate) async fn check_password_limited(
        &self,
        name: &str,
        password: &Password,
        client: &str,
    ) -> Result<Account, AppError> {
        let limits = self.settings.login_limits;
        let client_key = format!("{}\u{1f}{}", name, client);
        let account_key = name.to_owned();
        let counter = &self.ports.login_attempts;
        for (key, max) in [
            (&client_key, limits.per_client),
            (&account_key, limits.per_account),
        ] {
            let w = counter.failures(key).await?;
            if w.count >= max {
                return Err(Error::RequestLimitExceeded {
                    retry_after_secs: retry_after_secs(w.resets_in),
                }
                .into());
            }
        }
        // Count this attempt against the (account, address) window before the password is
        // checked, so guesses sent at once cannot all pass the check above: the count holds
        // the attempts not proven right, and a success resets it.
        let attempts = counter
            .record_failure(&client_key, limits.per_client_window)
            .await?;
        if attempts > limits.per_client {
            let w = counter.failures(&client_key).await?;
            return Err(Error::RequestLimitExceeded {
                retry_after_secs: retry_after_secs(w.resets_in),
            }
            .into());
        }
        let account = self.ports.accounts.account_by_name(name).await?;
        let failure = match &account {
            None => Some(Error::UserNotFound),
            Some(a) if !self.ports.hasher.verify(password, &a.password_hash).await? => {
                Some(Error::BadPassword)
            }
            Some(_) => None,
        };
        let (Some(account), None) = (account, failure.clone()) else {
            counter
                .record_failure(&account_key, limits.per_account_window)
                .await?;
            return Err(failure.unwrap_or(Error::InternalError).into());
        };
        counter.reset(&client_key).await?;
        Ok(account)
    }

    /// The caller in legacy mode (auth off).
    pub fn anonymous_caller(&self) -> Caller {
        Caller {
            account_id: ANONYMOUS_ACCOUNT,
            session: None,
        }
    }

    /// Resolves a presented token (what follows the scheme word) to the caller.
    ///
    /// # Errors
    /// `invalid-session-id` (malformed, unknown, revoked), `session-id-expired`,
    /// unavailable when neither the cache nor the durable record can answer.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        if self.settings.legacy_mode {
            return Ok(self.anonymous_caller());
        }
        let token = SessionToken::parse(token.trim()).ok_or(Error::InvalidSessionId)?;
        self.session_caller(token.hash()).await
    }

    /// Checks that the caller's session is still valid (not logged out, not expired): a
    /// long-lived answer such as an event stream asks again from time to time. Always
    /// valid in legacy mode.
    ///
    /// # Errors
    /// As [`Self::authenticate`].
    pub async fn check_session(&self, caller: &Caller) -> Result<(), AppError> {
        match caller.session {
            None => Ok(()),
            Some(hash) => self.session_caller(hash).await.map(|_| ()),
        }
    }

    /// The caller of the session with this token hash, through the session cache.
    async fn session_caller(&self, hash: TokenHash) -> Result<Caller, AppError> {
        let cached = match self.ports.session_cache.get(&hash).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "session cache unavailable; reading the durable record");
                None
            }
        };
        let session = match cached {
            Some(s) => s,
            None => {
                let s = self
                    .ports
                    .sessions
                    .session(&hash)
                    .await?
                    .ok_or(Error::InvalidSessionId)?;
                let now = self.ports.clock.now();
                if !s.revoked && s.expires_at > now {
                    let ttl = self.settings.session_cache_ttl.min(s.expires_at.since(now));
                    if let Err(e) = self.ports.session_cache.put(&s, ttl).await {
                        tracing::warn!(error = %e, "session cache put failed");
                    }
                }
                s
            }
        };
        if session.revoked {
            return Err(Error::InvalidSessionId.into());
        }
        if session.expires_at <= self.ports.clock.now() {
            return Err(Error::SessionIdExpired.into());
        }
        Ok(Caller {
            account_id: session.account_id,
            session: Some(hash),
        })
    }

    /// Ends the caller's session everywhere. A no-op in legacy mode.
    ///
    /// # Errors
    /// Unavailable when the durable record cannot be written.
    pub async fn logout(&self, caller: &Caller) -> Result<(), AppError> {
        let Some(hash) = caller.session else {
            return Ok(());
        };
        self.ports.sessions.revoke_session(&hash).await?;
        // The durable record decides; a cache that cannot be told is a bigger problem
        // (another instance could still accept the token), so it is an error.
        self.ports.session_cache.remove(&hash).await?;
        Ok(())
    }

    /// Deletes what has outlived its retention: expired session records and idempotency
    /// keys. Run periodically by the binary.
    ///
    /// # Errors
    /// As the stores'.
    pub async fn purge_expired(&self) -> Result<(u64, u64), AppError> {
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .sessions
            .purge_sessions(now.minus(self.settings.session_retention))
            .await?;
        let keys = self
            .ports
            .messages
            .purge_idempotency_keys(now.minus(self.settings.idempotency_ttl))
            .await?;
        Ok((sessions, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_at_least_one_second() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(900)), 900);
    }
}

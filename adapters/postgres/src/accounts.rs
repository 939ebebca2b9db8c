//! `Accounts` and `Sessions`.

use crate::convert::{uuid, RowExt};
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{Account, AccountId, Session, SessionPublicId, Timestamp, TokenHash};
use messenger_ports::{Accounts, PortError, PortResult, Sessions};
use tokio::time::timeout_at;
use tokio_postgres::Row;
use uuid::Uuid;

fn account_from(row: &Row) -> Result<Account, PortError> {
    Ok(Account {
        id: AccountId::from_u128(row.col::<Uuid>(0)?.as_u128()),
        name: row.col(1)?,
        password_hash: row.col(2)?,
        created_at: Timestamp::from_micros(row.col(3)?),
    })
}

fn token_hash_from(hash: Vec<u8>) -> Result<TokenHash, PortError> {
    Ok(TokenHash(hash.try_into().map_err(|_| {
        PortError::Internal("a stored token hash is not 32 bytes".into())
    })?))
}

fn session_from(row: &Row) -> Result<Session, PortError> {
    Ok(Session {
        token_hash: token_hash_from(row.col(0)?)?,
        account_id: AccountId::from_u128(row.col::<Uuid>(1)?.as_u128()),
        created_at: Timestamp::from_micros(row.col(2)?),
        expires_at: Timestamp::from_micros(row.col(3)?),
        revoked: row.col(4)?,
        client_address: row.col(5)?,
        user_agent: row.col(6)?,
    })
}

/// The columns [`session_from`] reads, in its order.
const SESSION_COLUMNS: &str =
    "token_hash, account_id, created_at, expires_at, revoked, client_address, user_agent";

#[async_trait]
impl Accounts for PgStore {
    async fn insert_account(&self, account: &Account) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "INSERT INTO accounts (id, name, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .await?;
            client
                .execute(
                    &st,
                    &[
                        &uuid(account.id.as_u128()),
                        &account.name,
                        &account.password_hash,
                        &account.created_at.as_micros(),
                    ],
                )
                .await
        })
        .await;
        match self.db.settle(client, outcome) {
            Ok(_) => Ok(()),
            Err(f) if f.is_unique_violation() => Err(PortError::Conflict),
            Err(f) => Err(f.into()),
        }
    }

    async fn account_by_name(&self, name: &str) -> PortResult<Option<Account>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "SELECT id, name, password_hash, created_at FROM accounts WHERE name = $1",
                )
                .await?;
            client.query_opt(&st, &[&name]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn account_by_id(&self, id: AccountId) -> PortResult<Option<Account>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "SELECT id, name, password_hash, created_at FROM accounts WHERE id = $1",
                )
                .await?;
            client.query_opt(&st, &[&uuid(id.as_u128())]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(account_from)
            .transpose()
    }

    async fn set_password_hash(&self, id: AccountId, password_hash: &str) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached("UPDATE accounts SET password_hash = $2 WHERE id = $1")
                .await?;
            client
                .execute(&st, &[&uuid(id.as_u128()), &password_hash])
                .await
        })
        .await;
        match self.db.settle(client, outcome)? {
            0 => Err(PortError::NotFound),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Sessions for PgStore {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, revoked, \
                     client_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .await?;
            client
                .execute(
                    &st,
                    &[
                        &&session.token_hash.0[..],
                        &uuid(session.account_id.as_u128()),
                        &session.created_at.as_micros(),
                        &session.expires_at.as_micros(),
                        &session.revoked,
                        &session.client_address,
                        &session.user_agent,
                    ],
                )
                .await
        })
        .await;
        match self.db.settle(client, outcome) {
            Ok(_) => Ok(()),
            Err(f) if f.is_unique_violation() => Err(PortError::Conflict),
            Err(f) => Err(f.into()),
        }
    }

    async fn session(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        self.session_where(SessionKey::TokenHash, &token_hash.0)
            .await
    }

    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached("UPDATE sessions SET revoked = true WHERE token_hash = $1")
                .await?;
            client.execute(&st, &[&&token_hash.0[..]]).await
        })
        .await;
        Ok(self.db.settle(client, outcome)? > 0)
    }

    async fn session_by_public_id(&self, id: SessionPublicId) -> PortResult<Option<Session>> {
        self.session_where(SessionKey::PublicId, &id.0).await
    }

    async fn live_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<Session>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     WHERE account_id = $1 AND NOT revoked AND expires_at > $2 \
                     ORDER BY created_at DESC, token_hash DESC LIMIT $3"
                ))
                .await?;
            client
                .query(
                    &st,
                    &[
                        &uuid(account.as_u128()),
                        &now.as_micros(),
                        &i64::from(limit),
                    ],
                )
                .await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .iter()
            .map(session_from)
            .collect()
    }

    async fn revoke_account_sessions(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> PortResult<Vec<TokenHash>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let keep: Option<&[u8]> = keep.map(|h| &h.0[..]);
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "UPDATE sessions SET revoked = true \
                     WHERE account_id = $1 AND NOT revoked AND token_hash IS DISTINCT FROM $2 \
                     RETURNING token_hash",
                )
                .await?;
            client.query(&st, &[&uuid(account.as_u128()), &keep]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .iter()
            .map(|row| token_hash_from(row.col(0)?))
            .collect()
    }

    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached("DELETE FROM sessions WHERE expires_at < $1")
                .await?;
            client.execute(&st, &[&expired_before.as_micros()]).await
        })
        .await;
        Ok(self.db.settle(client, outcome)?)
    }
}

/// The unique columns a session is found by.
#[derive(Clone, Copy)]
enum SessionKey {
    TokenHash,
    PublicId,
}

impl PgStore {
    /// The session whose `key` column holds `value`, revoked or expired ones included.
    async fn session_where(&self, key: SessionKey, value: &[u8]) -> PortResult<Option<Session>> {
        let sql = match key {
            SessionKey::TokenHash => {
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1")
            }
            SessionKey::PublicId => {
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE public_id = $1")
            }
        };
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(&sql).await?;
            client.query_opt(&st, &[&value]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(session_from)
            .transpose()
    }
}

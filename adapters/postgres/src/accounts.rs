//! `Accounts` and `Sessions`.

use crate::convert::{uuid, RowExt};
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{Account, AccountId, Session, Timestamp, TokenHash};
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

fn session_from(row: &Row) -> Result<Session, PortError> {
    let hash: Vec<u8> = row.col(0)?;
    let token_hash = TokenHash(
        hash.try_into()
            .map_err(|_| PortError::Internal("a stored token hash is not 32 bytes".into()))?,
    );
    Ok(Session {
        token_hash,
        account_id: AccountId::from_u128(row.col::<Uuid>(1)?.as_u128()),
        created_at: Timestamp::from_micros(row.col(2)?),
        expires_at: Timestamp::from_micros(row.col(3)?),
        revoked: row.col(4)?,
    })
}

#[async_trait]
impl Accounts for PgStore {
    async fn insert_account(&self, account: &Account) -> PortResult<()> {
        let deadline = self.db.deadline();
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
        let deadline = self.db.deadline();
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
}

#[async_trait]
impl Sessions for PgStore {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, revoked) \
                     VALUES ($1, $2, $3, $4, $5)",
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
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "SELECT token_hash, account_id, created_at, expires_at, revoked \
                     FROM sessions WHERE token_hash = $1",
                )
                .await?;
            client.query_opt(&st, &[&&token_hash.0[..]]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool> {
        let deadline = self.db.deadline();
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

    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        let deadline = self.db.deadline();
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

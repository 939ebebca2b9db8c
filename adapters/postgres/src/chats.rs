//! `Chats` and `Members`.
//!
//! Joins that reuse a name rely on a partial unique index: the first member of a (chat,
//! account, name) is its "name owner", and the index admits one owner per triple. A join
//! first tries to insert an owner (`ON CONFLICT … DO NOTHING`, which waits for a racing
//! insert to commit); when one exists, a reusing join returns it, and a legacy join stores
//! a further member that owns nothing. So two racing joins never make two owners, and
//! legacy mode still gets a new member each time.

use crate::convert::{uuid, RowExt};
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{AccountId, Chat, ChatId, Member, MemberId, Timestamp};
use messenger_ports::{ChatAccess, Chats, Members, PortError, PortResult};
use tokio::time::timeout_at;
use tokio_postgres::Row;
use uuid::Uuid;

fn chat_from(row: &Row) -> Result<Chat, PortError> {
    Ok(Chat {
        id: ChatId::from_u128(row.col::<Uuid>(0)?.as_u128()),
        name: row.col(1)?,
        creator: AccountId::from_u128(row.col::<Uuid>(2)?.as_u128()),
        created_at: Timestamp::from_micros(row.col(3)?),
    })
}

fn member_from(row: &Row) -> Result<Member, PortError> {
    Ok(Member {
        chat_id: ChatId::from_u128(row.col::<Uuid>(0)?.as_u128()),
        id: MemberId::from_u128(row.col::<Uuid>(1)?.as_u128()),
        account_id: AccountId::from_u128(row.col::<Uuid>(2)?.as_u128()),
        name: row.col(3)?,
        joined_at: Timestamp::from_micros(row.col(4)?),
    })
}

const MEMBER_COLUMNS: &str = "chat_id, id, account_id, name, joined_at";

#[async_trait]
impl Chats for PgStore {
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "INSERT INTO chats (id, name, creator, created_at) VALUES ($1, $2, $3, $4)",
                )
                .await?;
            client
                .execute(
                    &st,
                    &[
                        &uuid(chat.id.as_u128()),
                        &chat.name,
                        &uuid(chat.creator.as_u128()),
                        &chat.created_at.as_micros(),
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

    async fn chat(&self, id: ChatId) -> PortResult<Option<Chat>> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached("SELECT id, name, creator, created_at FROM chats WHERE id = $1")
                .await?;
            client.query_opt(&st, &[&uuid(id.as_u128())]).await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(chat_from)
            .transpose()
    }
}

#[async_trait]
impl Members for PgStore {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let id = uuid(member.id.as_u128());
        let chat = uuid(member.chat_id.as_u128());
        let account = uuid(member.account_id.as_u128());
        let joined_at = member.joined_at.as_micros();
        let outcome = timeout_at(deadline, async {
            let claim = client
                .prepare_cached(&format!(
                    "INSERT INTO members (chat_id, id, account_id, name, joined_at, name_owner) \
                     VALUES ($1, $2, $3, $4, $5, true) \
                     ON CONFLICT (chat_id, account_id, name) WHERE name_owner DO NOTHING \
                     RETURNING {MEMBER_COLUMNS}"
                ))
                .await?;
            let owner = client
                .prepare_cached(&format!(
                    "SELECT {MEMBER_COLUMNS} FROM members \
                     WHERE chat_id = $1 AND account_id = $2 AND name = $3 AND name_owner"
                ))
                .await?;
            let extra = client
                .prepare_cached(&format!(
                    "INSERT INTO members (chat_id, id, account_id, name, joined_at, name_owner) \
                     VALUES ($1, $2, $3, $4, $5, false) \
                     RETURNING {MEMBER_COLUMNS}"
                ))
                .await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&chat, &id, &account, &member.name, &joined_at];
            // The owner row is never deleted, so the loop ends on its second turn at most;
            // it is bounded anyway.
            for _ in 0..3 {
                if let Some(row) = client.query_opt(&claim, &params).await? {
                    return Ok(row);
                }
                if !reuse {
                    return client.query_one(&extra, &params).await;
                }
                if let Some(row) = client
                    .query_opt(&owner, &[&chat, &account, &member.name])
                    .await?
                {
                    return Ok(row);
                }
            }
            client.query_one(&claim, &params).await
        })
        .await;
        match self.db.settle(client, outcome) {
            Ok(row) => member_from(&row),
            // The chat does not exist (members refer to chats by foreign key).
            Err(f) if f.is_foreign_key_violation() => Err(PortError::NotFound),
            Err(f) => Err(f.into()),
        }
    }

    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(&format!(
                    "SELECT {MEMBER_COLUMNS} FROM members WHERE chat_id = $1 AND id = $2"
                ))
                .await?;
            client
                .query_opt(&st, &[&uuid(chat.as_u128()), &uuid(id.as_u128())])
                .await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(member_from)
            .transpose()
    }

    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        let deadline = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "SELECT c.creator = $2 OR EXISTS \
                     (SELECT 1 FROM members m WHERE m.account_id = $2 AND m.chat_id = c.id) \
                     FROM chats c WHERE c.id = $1",
                )
                .await?;
            client
                .query_opt(&st, &[&uuid(chat.as_u128()), &uuid(account.as_u128())])
                .await
        })
        .await;
        Ok(match self.db.settle(client, outcome)? {
            None => ChatAccess::NoChat,
            Some(row) if row.col::<bool>(0)? => ChatAccess::Participant,
            Some(_) => ChatAccess::Outsider,
        })
    }
}

//! `Chats`: storing and renaming chats; the chat list and summaries are in
//! `conversations`.
//!
//! A chat is stored together with its creator's row in `participants` and its
//! `chat.created` event (one statement), so the creator's list shows it at once. A rename
//! records `chat.renamed` in its transaction, under the chat's advisory lock.

use crate::convert::{uuid, RowExt};
use crate::events::lock_chat;
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{AccountId, Chat, ChatId, ChatListCursor, ChatSummary, Timestamp};
use messenger_ports::{ChatListPage, ChatViewer, Chats, PortError, PortResult};
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

const INSERT_CHAT: &str = "\
    WITH c AS (\
        INSERT INTO chats (id, name, creator, created_at) VALUES ($1, $2, $3, $4) \
        RETURNING id, creator, name), \
    p AS (INSERT INTO participants (account_id, chat_id, is_creator) \
          SELECT creator, id, true FROM c) \
    INSERT INTO events (pos, at, kind, chat_id, account_id, name, reads_before, reads_after) \
    SELECT event_pos(0), event_now(), 4, id, creator, name, false, true FROM c";

const RENAME_CHAT: &str = "\
    WITH c AS (UPDATE chats SET name = $2 WHERE id = $1 RETURNING id) \
    INSERT INTO events (pos, at, kind, chat_id, name) \
    SELECT event_pos(0), event_now(), 5, id, $2 FROM c";

#[async_trait]
impl Chats for PgStore {
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(INSERT_CHAT).await?;
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
        let (deadline, _call) = self.db.deadline();
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

    async fn rename_chat(&self, chat: ChatId, name: &str) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let mut client = self.db.checkout(deadline).await?;
        let chat = uuid(chat.as_u128());
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(RENAME_CHAT).await?;
            let tx = client.transaction().await?;
            lock_chat(&tx, chat).await?;
            let n = tx.execute(&st, &[&chat, &name]).await?;
            tx.commit().await?;
            Ok(n)
        })
        .await;
        match self.db.settle(client, outcome)? {
            0 => Err(PortError::NotFound),
            _ => Ok(()),
        }
    }

    async fn chat_summary(
        &self,
        chat: ChatId,
        viewer: ChatViewer,
    ) -> PortResult<Option<ChatSummary>> {
        self.summary_of(chat, viewer).await
    }

    async fn list_chats(
        &self,
        viewer: ChatViewer,
        from: ChatListCursor,
        limit: u32,
    ) -> PortResult<ChatListPage> {
        self.chat_list(viewer, from, limit).await
    }
}

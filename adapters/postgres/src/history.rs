//! Paging a chat backwards: the newest `limit` messages at or below a point, for
//! `Messages::page_before`. One keyset range read backwards on `(chat_id, seq)`, so the
//! end of a million-message chat is as fast to open as its start.
//!
//! Appends need nothing from here: the chat's activity is a generated column over
//! `last_created_at`, and the poster's read marker moves in the inserting statement
//! (`messages.rs`).

use crate::convert::{seq, seq_param, uuid, RowExt};
use crate::PgStore;
use messenger_domain::{ChatId, MemberId, Message, MessageId, Timestamp};
use messenger_ports::{MessagePage, PortResult};
use tokio::time::timeout_at;
use uuid::Uuid;

/// One statement, so `last_seq` and the messages come from the same snapshot. `$2` null
/// is the chat's end; a bound past the end reads as the end.
const PAGE_BEFORE: &str = "\
    SELECT c.last_seq, m.seq, m.id, m.user_id, m.user_name, m.text, m.created_at \
    FROM chats c \
    LEFT JOIN LATERAL (\
        SELECT seq, id, user_id, user_name, text, created_at FROM messages \
        WHERE chat_id = c.id AND seq <= least(coalesce($2, c.last_seq), c.last_seq) \
        ORDER BY seq DESC LIMIT $3) m ON true \
    WHERE c.id = $1 \
    ORDER BY m.seq";

impl PgStore {
    /// `Messages::page_before`.
    pub(crate) async fn messages_before(
        &self,
        chat: ChatId,
        before: Option<u64>,
        limit: u32,
    ) -> PortResult<MessagePage> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let before = before.map(seq_param);
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(PAGE_BEFORE).await?;
            client
                .query(&st, &[&uuid(chat.as_u128()), &before, &i64::from(limit)])
                .await
        })
        .await;
        let rows = self.db.settle(client, outcome)?;
        let mut last_seq = 0;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            last_seq = seq(row.col(0)?)?;
            // A chat with no message at or below the bound gives one row without one.
            let Some(s) = row.col::<Option<i64>>(1)? else {
                continue;
            };
            messages.push(Message {
                id: MessageId::from_u128(row.col::<Uuid>(2)?.as_u128()),
                chat_id: chat,
                seq: seq(s)?,
                user_id: MemberId::from_u128(row.col::<Uuid>(3)?.as_u128()),
                user_name: row.col(4)?,
                text: row.col(5)?,
                created_at: Timestamp::from_micros(row.col(6)?),
            });
        }
        Ok(MessagePage { messages, last_seq })
    }
}

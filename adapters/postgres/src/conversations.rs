//! The chat list and chat summaries, with the event log's head.
//!
//! A summary costs a fixed number of primary-key lookups whatever the chat's size: the
//! chat row (activity, last sequence number, member count), the viewer's `participants`
//! row (read marker), the last message by `(chat_id, last_seq)`, and the viewer's own
//! active members. The list of an account is its `participants` rows (a primary-key
//! range), each with its chat's activity by primary key, cut to the page by the activity
//! keyset (a top-N sort over the account's chats) before anything else is looked up; legacy
//! mode sorts every chat the same way.

use crate::convert::{seq, uuid, RowExt};
use crate::PgStore;
use messenger_domain::{
    AccountId, Chat, ChatId, ChatListCursor, ChatSummary, EventPosition, Member, MemberId, Message,
    MessageId, MessagePreview, Timestamp, PREVIEW_CHARS,
};
use messenger_ports::{ChatListPage, ChatViewer, PortError, PortResult};
use std::sync::LazyLock;
use tokio::time::timeout_at;
use tokio_postgres::Row;
use uuid::Uuid;

/// The summaries of the chats whose ids the subquery `source` gives, for the viewer `$1`,
/// in list order.
fn summaries_of(source: &str) -> String {
    format!(
        "SELECT c.id, c.name, c.creator, c.created_at, c.activity, c.member_count, \
                c.last_seq, coalesce(p.read_seq, 0), \
                lm.id, lm.user_id, lm.user_name, left(lm.text, {keep}), lm.created_at, \
                my.ids, my.names, my.joined \
         FROM ({source}) s \
         JOIN chats c ON c.id = s.id \
         LEFT JOIN participants p ON p.account_id = $1 AND p.chat_id = c.id \
         LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq \
         LEFT JOIN LATERAL (\
             SELECT array_agg(mm.id ORDER BY mm.join_seq) AS ids, \
                    array_agg(mm.name ORDER BY mm.join_seq) AS names, \
                    array_agg(mm.joined_at ORDER BY mm.join_seq) AS joined \
             FROM members mm \
             WHERE mm.chat_id = c.id AND mm.account_id = $1 AND mm.active) my ON true \
         ORDER BY c.activity DESC, c.id DESC",
        // One character more than a preview keeps, so the preview knows it was cut.
        keep = PREVIEW_CHARS + 1,
    )
}

static ONE_CHAT: LazyLock<String> = LazyLock::new(|| summaries_of("SELECT $2::uuid AS id"));

/// The account's chats are its `participants` rows, each chat's activity one primary-key
/// lookup (a scalar subquery, and `OFFSET 0` keeps it evaluated once per row): left to
/// itself the planner may prefer walking every chat, or hashing the whole chats table,
/// which grow with the store rather than with the account.
static ACCOUNT_LIST: LazyLock<String> = LazyLock::new(|| {
    summaries_of(
        "SELECT chat_id AS id FROM (\
             SELECT p.chat_id, \
                    (SELECT c.activity FROM chats c WHERE c.id = p.chat_id) AS activity \
             FROM participants p \
             WHERE p.account_id = $1 AND (p.is_creator OR p.identities > 0) \
             OFFSET 0) mine \
         WHERE activity <= $2 \
         ORDER BY activity DESC, chat_id DESC OFFSET $3 LIMIT $4",
    )
});

static EVERY_CHAT_LIST: LazyLock<String> = LazyLock::new(|| {
    summaries_of(
        "SELECT c.id FROM chats c WHERE c.activity <= $2 \
         ORDER BY c.activity DESC, c.id DESC OFFSET $3 LIMIT $4",
    )
});

/// The event log's head (see `events`).
const EVENT_POSITION: &str = "SELECT event_horizon() - 1";

fn summary_from(row: &Row, viewer: ChatViewer) -> Result<ChatSummary, PortError> {
    let chat = Chat {
        id: ChatId::from_u128(row.col::<Uuid>(0)?.as_u128()),
        name: row.col(1)?,
        creator: AccountId::from_u128(row.col::<Uuid>(2)?.as_u128()),
        created_at: Timestamp::from_micros(row.col(3)?),
    };
    let last_seq = seq(row.col(6)?)?;
    let last_message = match row.col::<Option<Uuid>>(8)? {
        None => None,
        Some(id) => Some(MessagePreview::of(Message {
            id: MessageId::from_u128(id.as_u128()),
            chat_id: chat.id,
            seq: last_seq,
            user_id: MemberId::from_u128(row.col::<Uuid>(9)?.as_u128()),
            user_name: row.col(10)?,
            text: row.col(11)?,
            created_at: Timestamp::from_micros(row.col(12)?),
        })),
    };
    let ids: Vec<Uuid> = row.col::<Option<Vec<Uuid>>>(13)?.unwrap_or_default();
    let names: Vec<String> = row.col::<Option<Vec<String>>>(14)?.unwrap_or_default();
    let joined: Vec<i64> = row.col::<Option<Vec<i64>>>(15)?.unwrap_or_default();
    let my_users = ids
        .into_iter()
        .zip(names)
        .zip(joined)
        .map(|((id, name), joined_at)| Member {
            id: MemberId::from_u128(id.as_u128()),
            chat_id: chat.id,
            account_id: viewer.account,
            name,
            joined_at: Timestamp::from_micros(joined_at),
        })
        .collect();
    let member_count = row.col::<i64>(5)?;
    Ok(ChatSummary {
        is_creator: viewer.every_chat || chat.creator == viewer.account,
        activity: Timestamp::from_micros(row.col(4)?),
        member_count: u64::try_from(member_count).unwrap_or(0),
        my_users,
        last_message,
        read_seq: seq(row.col(7)?)?,
        last_seq,
        chat,
    })
}

impl PgStore {
    /// `Chats::chat_summary`.
    pub(crate) async fn summary_of(
        &self,
        chat: ChatId,
        viewer: ChatViewer,
    ) -> PortResult<Option<ChatSummary>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(&ONE_CHAT).await?;
            client
                .query_opt(
                    &st,
                    &[&uuid(viewer.account.as_u128()), &uuid(chat.as_u128())],
                )
                .await
        })
        .await;
        self.db
            .settle(client, outcome)?
            .as_ref()
            .map(|row| summary_from(row, viewer))
            .transpose()
    }

    /// `Chats::list_chats`.
    pub(crate) async fn chat_list(
        &self,
        viewer: ChatViewer,
        from: ChatListCursor,
        limit: u32,
    ) -> PortResult<ChatListPage> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let list: &str = if viewer.every_chat {
            &EVERY_CHAT_LIST
        } else {
            &ACCOUNT_LIST
        };
        let outcome = timeout_at(deadline, async {
            let position = client.prepare_cached(EVENT_POSITION).await?;
            let st = client.prepare_cached(list).await?;
            // The position first: a change after it may or may not show in the page, but
            // nothing in the page is newer than what the stream replays after it.
            let events: i64 = client.query_one(&position, &[]).await?.try_get(0)?;
            let rows = client
                .query(
                    &st,
                    &[
                        &uuid(viewer.account.as_u128()),
                        &from.activity().as_micros(),
                        &i64::from(from.skip()),
                        &i64::from(limit),
                    ],
                )
                .await?;
            Ok((events, rows))
        })
        .await;
        let (events, rows) = self.db.settle(client, outcome)?;
        let chats = rows
            .iter()
            .map(|row| summary_from(row, viewer))
            .collect::<Result<_, _>>()?;
        Ok(ChatListPage {
            chats,
            events: EventPosition::new(seq(events)?),
        })
    }
}

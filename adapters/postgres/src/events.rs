//! `EventLog`: reading the `events` table below the commit horizon, and the helpers the
//! writers share (the chat's advisory lock, the event kinds).
//!
//! A position is `(xid8 << 20) | ordinal`: the recording transaction's id and the event's
//! place in it. Readers read only below `event_horizon()`, the oldest transaction id still
//! running (shifted alike): every transaction below it has ended, so no event can appear
//! there later. A chat's writers take the chat's advisory lock before their first write
//! (so before they get a transaction id), which makes a chat's transactions take their
//! ids in the order they commit. See the crate's README for why this design.

use crate::convert::{seq, uuid, RowExt};
use crate::PgStore;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use messenger_domain::{
    AccountId, ChatId, Event, EventPosition, LoggedEvent, MemberId, Message, MessageId, Timestamp,
};
use messenger_ports::{EventLog, EventsAfter, PortError, PortResult};
use std::collections::HashSet;
use tokio::time::timeout_at;
use tokio_postgres::Row;
use uuid::Uuid;

pub(crate) const MESSAGE_CREATED: i16 = 1;
pub(crate) const MEMBER_JOINED: i16 = 2;
pub(crate) const MEMBER_LEFT: i16 = 3;
pub(crate) const CHAT_CREATED: i16 = 4;
pub(crate) const CHAT_RENAMED: i16 = 5;
pub(crate) const READ_UPDATED: i16 = 6;

/// Takes the chat's transaction-scoped advisory lock: the first statement of every
/// transaction that records an event of an existing chat (it needs no transaction id).
pub(crate) async fn lock_chat<C: GenericClient + Sync>(
    client: &C,
    chat: Uuid,
) -> Result<(), tokio_postgres::Error> {
    let st = client.prepare_cached(LOCK_CHAT).await?;
    client.execute(&st, &[&lock_key(chat)]).await.map(drop)
}

/// The statement of [`lock_chat`], with [`lock_key`] as its parameter.
pub(crate) const LOCK_CHAT: &str = "SELECT pg_advisory_xact_lock($1)";

/// The advisory lock key of `chat`.
pub(crate) fn lock_key(chat: Uuid) -> i64 {
    let (hi, lo) = chat.as_u64_pair();
    (hi ^ lo) as i64
}

/// The events after `$1` below the horizon, at most `$2`, with their messages; one row
/// with the horizon and the floor even when there is none.
const EVENTS_AFTER: &str = "\
    WITH h AS (SELECT event_horizon() AS horizon, (SELECT pos FROM event_floor) AS floor) \
    SELECT h.horizon, h.floor, e.pos, e.kind, e.chat_id, e.account_id, e.user_id, e.name, \
           e.seq, e.unread, e.removed, e.reads_before, e.reads_after, \
           m.id, m.user_id, m.user_name, m.text, m.created_at \
    FROM h \
    LEFT JOIN LATERAL (\
        SELECT * FROM events \
        WHERE pos > $1 AND pos < h.horizon AND h.floor <= $1 \
        ORDER BY pos LIMIT $2) e ON true \
    LEFT JOIN messages m ON e.kind = 1 AND m.chat_id = e.chat_id AND m.seq = e.seq \
    ORDER BY e.pos";

const HEAD: &str = "SELECT event_horizon() - 1";

/// The floor, and the chats the account read right after `$2`: its current ones, with
/// those it has own membership events for after `$2` as they were before the first.
const READABLE_AT: &str = "\
    WITH first AS (\
        SELECT DISTINCT ON (chat_id) chat_id, reads_before FROM events \
        WHERE account_id = $1 AND kind IN (2, 3, 4) AND pos > $2 \
        ORDER BY chat_id, pos) \
    SELECT f.pos, ARRAY(\
        SELECT chat_id FROM participants \
        WHERE account_id = $1 AND (is_creator OR identities > 0) \
          AND chat_id NOT IN (SELECT chat_id FROM first) \
        UNION ALL \
        SELECT chat_id FROM first WHERE reads_before) \
    FROM event_floor f";

/// Deletes old events that every reader can already have read, and raises the floor.
const PURGE: &str = "\
    WITH d AS (DELETE FROM events WHERE at < $1 AND pos < event_horizon() RETURNING pos), \
    u AS (UPDATE event_floor SET pos = greatest(pos, (SELECT max(pos) FROM d)) \
          WHERE EXISTS (SELECT 1 FROM d)) \
    SELECT count(*) FROM d";

fn position(v: i64) -> Result<EventPosition, PortError> {
    Ok(EventPosition::new(seq(v)?))
}

fn id(row: &Row, idx: usize) -> Result<u128, PortError> {
    Ok(row.col::<Uuid>(idx)?.as_u128())
}

/// The event of a row of [`EVENTS_AFTER`] (columns from 2 on).
fn event_from(row: &Row) -> Result<Event, PortError> {
    let kind: i16 = row.col(3)?;
    let chat_id = ChatId::from_u128(id(row, 4)?);
    let account = || id(row, 5).map(AccountId::from_u128);
    let flag = |idx| row.col::<Option<bool>>(idx).map(|b| b.unwrap_or(false));
    Ok(match kind {
        MESSAGE_CREATED => {
            let message_id: Option<Uuid> = row.col(13)?;
            let Some(message_id) = message_id else {
                return Err(PortError::Internal("a logged message is missing".into()));
            };
            Event::MessageCreated {
                message: Message {
                    id: MessageId::from_u128(message_id.as_u128()),
                    chat_id,
                    seq: seq(row.col(8)?)?,
                    user_id: MemberId::from_u128(id(row, 14)?),
                    user_name: row.col(15)?,
                    text: row.col(16)?,
                    created_at: Timestamp::from_micros(row.col(17)?),
                },
            }
        }
        MEMBER_JOINED => Event::MemberJoined {
            chat_id,
            user_id: MemberId::from_u128(id(row, 6)?),
            user_name: row.col(7)?,
            account: account()?,
            reads_before: flag(11)?,
        },
        MEMBER_LEFT => Event::MemberLeft {
            chat_id,
            user_id: MemberId::from_u128(id(row, 6)?),
            removed: flag(10)?,
            account: account()?,
            reads_after: flag(12)?,
        },
        CHAT_CREATED => Event::ChatCreated {
            chat_id,
            chat_name: row.col(7)?,
            creator: account()?,
        },
        CHAT_RENAMED => Event::ChatRenamed {
            chat_id,
            chat_name: row.col(7)?,
        },
        READ_UPDATED => Event::ReadUpdated {
            chat_id,
            account: account()?,
            read_seq: seq(row.col(8)?)?,
            unread_count: seq(row.col(9)?)?,
        },
        other => return Err(PortError::Internal(format!("unknown event kind {other}"))),
    })
}

impl PgStore {
    async fn one_row(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> PortResult<Row> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(sql).await?;
            client.query_one(&st, params).await
        })
        .await;
        Ok(self.db.settle(client, outcome)?)
    }
}

#[async_trait]
impl EventLog for PgStore {
    async fn events_after(&self, after: EventPosition, limit: u32) -> PortResult<EventsAfter> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let from = i64::try_from(after.get()).unwrap_or(i64::MAX);
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(EVENTS_AFTER).await?;
            client.query(&st, &[&from, &i64::from(limit)]).await
        })
        .await;
        let rows = self.db.settle(client, outcome)?;
        let Some(first) = rows.first() else {
            return Err(PortError::Internal("the event read gave no row".into()));
        };
        let head = position(first.col::<i64>(0)? - 1)?;
        if from < first.col::<i64>(1)? {
            return Ok(EventsAfter::Expired { head });
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(pos) = row.col::<Option<i64>>(2)? else {
                continue;
            };
            events.push(LoggedEvent {
                position: position(pos)?,
                event: event_from(row)?,
            });
        }
        let next = match events.last() {
            Some(last) if events.len() as u32 >= limit => last.position,
            _ => head.max(after),
        };
        Ok(EventsAfter::Events { events, next })
    }

    async fn head(&self) -> PortResult<EventPosition> {
        position(self.one_row(HEAD, &[]).await?.col(0)?)
    }

    async fn replayable_from(&self) -> PortResult<EventPosition> {
        position(
            self.one_row("SELECT pos FROM event_floor", &[])
                .await?
                .col(0)?,
        )
    }

    async fn readable_chats_at(
        &self,
        account: AccountId,
        at: EventPosition,
    ) -> PortResult<Option<HashSet<ChatId>>> {
        let at = i64::try_from(at.get()).unwrap_or(i64::MAX);
        let row = self
            .one_row(READABLE_AT, &[&uuid(account.as_u128()), &at])
            .await?;
        if at < row.col::<i64>(0)? {
            return Ok(None);
        }
        let chats: Vec<Uuid> = row.col(1)?;
        Ok(Some(
            chats
                .into_iter()
                .map(|c| ChatId::from_u128(c.as_u128()))
                .collect(),
        ))
    }

    async fn purge_events(&self, before: Timestamp) -> PortResult<u64> {
        let n: i64 = self.one_row(PURGE, &[&before.as_micros()]).await?.col(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

//! `Members`: joining, leaving and removal, members in joining order, read markers.
//!
//! Every change of a chat's membership first updates the chat's row (join number, member
//! count), so the row lock orders a chat's joins and leaves, and every transaction takes
//! the chat row before any `participants` row (as appends do): no deadlocks. Joins that
//! reuse a name rely on a partial unique index: the first active member of a (chat,
//! account, name) is its "name owner"; a reusing join returns the owner, a legacy join
//! stores a further member that owns nothing, and leaving gives ownership up (a member
//! that left is never revived: joining again stores a new one).
//!
//! Each change records its event (`member.joined`, `member.left`, `read.updated`) in its
//! transaction, which begins with the chat's advisory lock (see `events`).

use crate::convert::{seq, seq_param, uuid, RowExt};
use crate::events::lock_chat;
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{AccountId, ChatId, Member, MemberId, Timestamp};
use messenger_ports::{
    ChatAccess, MemberEntry, Members, MembersPage, PortError, PortResult, ReadUpdate,
};
use tokio::time::timeout_at;
use tokio_postgres::Row;
use uuid::Uuid;

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

/// The current owner of a name; ownership ends when its member leaves.
const NAME_OWNER: &str = "\
    SELECT chat_id, id, account_id, name, joined_at FROM members \
    WHERE chat_id = $1 AND account_id = $2 AND name = $3 AND name_owner";

/// Takes the next join number and counts the member in; locks the chat row.
const TAKE_JOIN_SEQ: &str = "\
    UPDATE chats SET member_seq = member_seq + 1, member_count = member_count + 1 \
    WHERE id = $1 RETURNING member_seq, last_seq";

/// Whether the account is barred, and whether it reads the chat now.
const IS_BARRED: &str = "SELECT barred, is_creator OR identities > 0 FROM participants \
    WHERE account_id = $1 AND chat_id = $2";

const RECORD_JOINED: &str = "\
    INSERT INTO events (pos, at, kind, chat_id, account_id, user_id, name, reads_before, \
                        reads_after) \
    VALUES (event_pos(0), event_now(), 2, $1, $2, $3, $4, $5, true)";

const RECORD_LEFT: &str = "\
    INSERT INTO events (pos, at, kind, chat_id, account_id, user_id, removed, reads_before, \
                        reads_after) \
    VALUES (event_pos(0), event_now(), 3, $1, $2, $3, $4, true, $5)";

const INSERT_MEMBER: &str = "\
    INSERT INTO members (chat_id, id, account_id, name, joined_at, join_seq, name_owner) \
    SELECT $1, $2, $3, $4, $5, $6, NOT EXISTS (\
        SELECT 1 FROM members WHERE chat_id = $1 AND account_id = $3 AND name = $4 \
        AND name_owner) \
    RETURNING chat_id, id, account_id, name, joined_at";

/// Counts the identity in and puts the read marker at the chat's end.
const JOINED: &str = "\
    INSERT INTO participants (account_id, chat_id, identities, read_seq) VALUES ($1, $2, 1, $3) \
    ON CONFLICT (account_id, chat_id) DO UPDATE \
    SET identities = participants.identities + 1, \
        read_seq = greatest(participants.read_seq, EXCLUDED.read_seq)";

const COUNT_OUT: &str =
    "UPDATE chats SET member_count = member_count - 1 WHERE id = $1 RETURNING id";

const MEMBER_LEAVES: &str = "\
    UPDATE members SET active = false, name_owner = false, removed = $3 \
    WHERE chat_id = $1 AND id = $2 AND active RETURNING account_id";

const LEFT: &str = "\
    UPDATE participants SET identities = identities - 1, barred = barred OR $3 \
    WHERE account_id = $1 AND chat_id = $2 RETURNING is_creator OR identities > 0";

const MEMBERS_PAGE: &str = "\
    SELECT c.member_seq, m.chat_id, m.id, m.account_id, m.name, m.joined_at, m.join_seq \
    FROM chats c \
    LEFT JOIN LATERAL (\
        SELECT chat_id, id, account_id, name, joined_at, join_seq FROM members \
        WHERE chat_id = c.id AND active AND join_seq > $2 ORDER BY join_seq LIMIT $3) m ON true \
    WHERE c.id = $1 \
    ORDER BY m.join_seq";

/// One statement: the marker moves only forward and never past the chat's end;
/// `read.updated` is recorded only when it moved (`old` reads the marker before).
const MARK_READ: &str = "\
    WITH c AS (SELECT last_seq FROM chats WHERE id = $2), \
    old AS (SELECT read_seq FROM participants WHERE account_id = $1 AND chat_id = $2), \
    u AS (\
        INSERT INTO participants (account_id, chat_id, read_seq) \
        SELECT $1, $2, $3 FROM c WHERE $3 <= c.last_seq \
        ON CONFLICT (account_id, chat_id) DO UPDATE \
        SET read_seq = greatest(participants.read_seq, EXCLUDED.read_seq) \
        RETURNING read_seq), \
    e AS (\
        INSERT INTO events (pos, at, kind, chat_id, account_id, seq, unread) \
        SELECT event_pos(0), event_now(), 6, $2, $1, u.read_seq, c.last_seq - u.read_seq \
        FROM c, u WHERE u.read_seq > coalesce((SELECT read_seq FROM old), 0)) \
    SELECT c.last_seq, u.read_seq FROM c LEFT JOIN u ON true";

/// What the statements of a join found.
enum Joined {
    Member(Row),
    NoChat,
}

#[async_trait]
impl Members for PgStore {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        let (deadline, _call) = self.db.deadline();
        let mut client = self.db.checkout(deadline).await?;
        let id = uuid(member.id.as_u128());
        let chat = uuid(member.chat_id.as_u128());
        let account = uuid(member.account_id.as_u128());
        let joined_at = member.joined_at.as_micros();
        let outcome = timeout_at(deadline, async {
            let owner = client.prepare_cached(NAME_OWNER).await?;
            if reuse {
                // A retried join needs no lock.
                if let Some(row) = client
                    .query_opt(&owner, &[&chat, &account, &member.name])
                    .await?
                {
                    return Ok(Joined::Member(row));
                }
            }
            let take = client.prepare_cached(TAKE_JOIN_SEQ).await?;
            let barred = client.prepare_cached(IS_BARRED).await?;
            let insert = client.prepare_cached(INSERT_MEMBER).await?;
            let joined = client.prepare_cached(JOINED).await?;
            let record = client.prepare_cached(RECORD_JOINED).await?;
            let tx = client.transaction().await?;
            lock_chat(&tx, chat).await?;
            let Some(row) = tx.query_opt(&take, &[&chat]).await? else {
                tx.rollback().await?;
                return Ok(Joined::NoChat);
            };
            let (join_seq, last_seq): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let part = tx.query_opt(&barred, &[&account, &chat]).await?;
            let (is_barred, reads_before) = match part {
                Some(r) => (r.try_get::<_, bool>(0)?, r.try_get::<_, bool>(1)?),
                None => (false, false),
            };
            if is_barred {
                tx.rollback().await?;
                return Ok(Joined::NoChat);
            }
            if reuse {
                // Under the chat's lock: a racing join of the same name has committed.
                if let Some(row) = tx
                    .query_opt(&owner, &[&chat, &account, &member.name])
                    .await?
                {
                    tx.rollback().await?;
                    return Ok(Joined::Member(row));
                }
            }
            let row = tx
                .query_one(
                    &insert,
                    &[&chat, &id, &account, &member.name, &joined_at, &join_seq],
                )
                .await?;
            tx.execute(&joined, &[&account, &chat, &last_seq]).await?;
            tx.execute(
                &record,
                &[&chat, &account, &id, &member.name, &reads_before],
            )
            .await?;
            tx.commit().await?;
            Ok(Joined::Member(row))
        })
        .await;
        match self.db.settle(client, outcome)? {
            Joined::Member(row) => member_from(&row),
            Joined::NoChat => Err(PortError::NotFound),
        }
    }

    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(&format!(
                    "SELECT {MEMBER_COLUMNS} FROM members WHERE chat_id = $1 AND id = $2 \
                     AND active"
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
        Ok(self.chat_access_and_end(chat, account).await?.0)
    }

    async fn chat_access_and_end(
        &self,
        chat: ChatId,
        account: AccountId,
    ) -> PortResult<(ChatAccess, Option<u64>)> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached(
                    "SELECT c.creator = $2 OR coalesce((SELECT p.identities > 0 \
                     FROM participants p WHERE p.account_id = $2 AND p.chat_id = c.id), false), \
                     c.last_seq \
                     FROM chats c WHERE c.id = $1",
                )
                .await?;
            client
                .query_opt(&st, &[&uuid(chat.as_u128()), &uuid(account.as_u128())])
                .await
        })
        .await;
        Ok(match self.db.settle(client, outcome)? {
            None => (ChatAccess::NoChat, None),
            Some(row) => {
                let access = if row.col::<bool>(0)? {
                    ChatAccess::Participant
                } else {
                    ChatAccess::Outsider
                };
                (access, Some(seq(row.col(1)?)?))
            }
        })
    }

    async fn leave(&self, chat: ChatId, member: MemberId, bar_account: bool) -> PortResult<()> {
        let (deadline, _call) = self.db.deadline();
        let mut client = self.db.checkout(deadline).await?;
        let chat = uuid(chat.as_u128());
        let member = uuid(member.as_u128());
        let outcome = timeout_at(deadline, async {
            let count_out = client.prepare_cached(COUNT_OUT).await?;
            let leaves = client.prepare_cached(MEMBER_LEAVES).await?;
            let left = client.prepare_cached(LEFT).await?;
            let record = client.prepare_cached(RECORD_LEFT).await?;
            let tx = client.transaction().await?;
            lock_chat(&tx, chat).await?;
            if tx.query_opt(&count_out, &[&chat]).await?.is_none() {
                tx.rollback().await?;
                return Ok(false);
            }
            let Some(row) = tx
                .query_opt(&leaves, &[&chat, &member, &bar_account])
                .await?
            else {
                tx.rollback().await?;
                return Ok(false);
            };
            let account: Uuid = row.try_get(0)?;
            let reads_after: bool = match tx
                .query_opt(&left, &[&account, &chat, &bar_account])
                .await?
            {
                Some(r) => r.try_get(0)?,
                None => false,
            };
            tx.execute(
                &record,
                &[&chat, &account, &member, &bar_account, &reads_after],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await;
        match self.db.settle(client, outcome)? {
            true => Ok(()),
            false => Err(PortError::NotFound),
        }
    }

    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(MEMBERS_PAGE).await?;
            client
                .query(
                    &st,
                    &[&uuid(chat.as_u128()), &seq_param(after), &i64::from(limit)],
                )
                .await
        })
        .await;
        let rows = self.db.settle(client, outcome)?;
        let mut last_join_seq = 0;
        let mut members = Vec::with_capacity(rows.len());
        for row in &rows {
            last_join_seq = seq(row.col(0)?)?;
            // A chat with no member after `after` gives one row without a member.
            let Some(join_seq) = row.col::<Option<i64>>(6)? else {
                continue;
            };
            members.push(MemberEntry {
                member: Member {
                    chat_id: ChatId::from_u128(row.col::<Uuid>(1)?.as_u128()),
                    id: MemberId::from_u128(row.col::<Uuid>(2)?.as_u128()),
                    account_id: AccountId::from_u128(row.col::<Uuid>(3)?.as_u128()),
                    name: row.col(4)?,
                    joined_at: Timestamp::from_micros(row.col(5)?),
                },
                join_seq: seq(join_seq)?,
            });
        }
        Ok(MembersPage {
            members,
            last_join_seq,
        })
    }

    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate> {
        let (deadline, _call) = self.db.deadline();
        let mut client = self.db.checkout(deadline).await?;
        let chat = uuid(chat.as_u128());
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(MARK_READ).await?;
            let tx = client.transaction().await?;
            lock_chat(&tx, chat).await?;
            let row = tx
                .query_opt(&st, &[&uuid(account.as_u128()), &chat, &seq_param(upto)])
                .await?;
            tx.commit().await?;
            Ok(row)
        })
        .await;
        let Some(row) = self.db.settle(client, outcome)? else {
            return Err(PortError::NotFound);
        };
        let last_seq = seq(row.col(0)?)?;
        Ok(match row.col::<Option<i64>>(1)? {
            Some(read_seq) => ReadUpdate::Marked {
                read_seq: seq(read_seq)?,
                last_seq,
            },
            None => ReadUpdate::BeyondEnd,
        })
    }
}

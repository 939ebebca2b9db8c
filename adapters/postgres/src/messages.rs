//! `Messages`: appending with per-chat sequence numbers and idempotency keys, keyset paging.
//!
//! The sequence number comes from `UPDATE chats SET last_seq = last_seq + 1 … RETURNING` in
//! the inserting transaction: the chat row's lock orders a chat's inserts, and each commits
//! before the next can take the lock, so a reader never sees `seq` n+1 without n. The same
//! update advances `last_created_at`, so `created_at` never runs backwards in a chat.
//!
//! An idempotency key is inserted first, in the same transaction, with `ON CONFLICT DO
//! NOTHING`: a duplicate arriving while the first is uncommitted waits on the key's index
//! entry until the first commits or rolls back (then stores). The message's statement
//! stores only when the key row now names this message, so a duplicate (committed before,
//! or earlier in the same batch) stores nothing and is answered from the key after the
//! commit. A key is stored only for a post of a current member (so of an existing chat).
//!
//! The poster's membership is checked by the storing statements themselves, which also
//! take the member's display name from its row: no round trip of its own. In a batch they
//! run after the chat's advisory lock, which every leave takes too, so a post never lands
//! after its poster's leave committed.
//!
//! Concurrent posts of a write lane's chats share a transaction and one statement for
//! their messages (`append_batch`), whose requests are sent in one flight. Each stored
//! message records its `message.created` event, which refers to the message's row (the
//! text is not stored twice).

use crate::append_batch::submit;
use crate::convert::{seq, seq_param, uuid, RowExt};
use crate::events::lock_key;
use crate::search::tsvector_literal;
use crate::PgStore;
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use messenger_domain::{ChatId, MemberId, Message, MessageId, Timestamp};
use messenger_ports::{AppendOutcome, MessagePage, Messages, NewMessage, PortError, PortResult};
use tokio::time::timeout_at;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, Row, Statement};
use uuid::Uuid;

/// A lone post without a key, in one statement outside any transaction block: takes the
/// chat's advisory lock (`$9`) before its first write, then the chat's next sequence
/// number, stores the message of member `$3` with it, moves the poster's account's read
/// marker up to it and records its `message.created` (referring to the message's row, the
/// transaction's only event). No row when `$3` is not a current member of chat `$1` (of
/// account `$4`, unless null). Its row: the message's id, sequence number, time and
/// poster's name.
const INSERT_MESSAGE: &str = "\
    WITH l AS (SELECT pg_advisory_xact_lock($9::bigint)), \
    p AS (\
        SELECT name, account_id FROM members \
        WHERE chat_id = $1 AND id = $3 AND active \
          AND ($4::uuid IS NULL OR account_id = $4::uuid)), \
    c AS (\
        UPDATE chats SET last_seq = last_seq + 1, \
                         last_created_at = greatest(last_created_at, $6) \
        FROM p \
        WHERE id = $1 AND EXISTS (SELECT 1 FROM l) \
        RETURNING last_seq, last_created_at, p.name), \
    m AS (\
        INSERT INTO messages \
            (chat_id, seq, id, user_id, user_name, text, created_at, words, words_truncated) \
        SELECT $1, c.last_seq, $2, $3, c.name, $5, c.last_created_at, $7::text::tsvector, $8 \
        FROM c \
        RETURNING id, seq, created_at, user_name), \
    r AS (\
        UPDATE participants SET read_seq = greatest(read_seq, m.seq) \
        FROM m, p \
        WHERE participants.chat_id = $1 AND participants.account_id = p.account_id), \
    e AS (\
        INSERT INTO events (pos, at, kind, chat_id, seq) \
        SELECT event_pos(0), event_now(), 1, $1, seq FROM m) \
    SELECT id, seq, created_at, user_name FROM m";

/// The posts of a batch in one statement, after the advisory locks of their chats (taken
/// by the transaction's statement before): `$1`..`$10` are, per post in batch order, its
/// chat, message id, member, required account (null: any), text, time, word vector,
/// whether that was truncated, and its key's scope and key (null: no key). Each chat's
/// posts of current members whose key (if any) names their message take the chat's next
/// sequence numbers in batch order, with `created_at` never below the chat's previous
/// message; each poster's read marker moves to its last post and each message records its
/// `message.created` at its place in the batch. One row per stored message: its id,
/// sequence number, time and poster's name.
const INSERT_MESSAGES: &str = "\
    WITH i AS (\
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], \
                             $6::bigint[], $7::text[], $8::bool[], $9::text[], $10::text[]) \
            WITH ORDINALITY AS i(chat, id, user_id, account, text, now, words, truncated, \
                                 scope, key, ord)), \
    p AS (\
        SELECT i.*, mb.name, mb.account_id AS member_account, \
               row_number() OVER w AS n, max(i.now) OVER w AS latest \
        FROM i JOIN members mb ON mb.chat_id = i.chat AND mb.id = i.user_id AND mb.active \
            AND (i.account IS NULL OR mb.account_id = i.account) \
        WHERE i.scope IS NULL OR EXISTS (\
            SELECT 1 FROM idempotency_keys k \
            WHERE k.chat_id = i.chat AND k.scope = i.scope AND k.key = i.key \
              AND k.message_id = i.id) \
        WINDOW w AS (PARTITION BY i.chat ORDER BY i.ord)), \
    g AS (SELECT chat, count(*) AS n, max(now) AS latest FROM p GROUP BY chat), \
    o AS (SELECT id, last_created_at FROM chats WHERE id IN (SELECT chat FROM g)), \
    c AS (\
        UPDATE chats SET last_seq = last_seq + g.n, \
                         last_created_at = greatest(last_created_at, g.latest) \
        FROM g WHERE chats.id = g.chat \
        RETURNING chats.id, chats.last_seq - g.n AS base), \
    s AS (\
        SELECT p.*, c.base + p.n AS seq, greatest(o.last_created_at, p.latest) AS created_at \
        FROM p JOIN c ON c.id = p.chat JOIN o ON o.id = p.chat), \
    m AS (\
        INSERT INTO messages \
            (chat_id, seq, id, user_id, user_name, text, created_at, words, words_truncated) \
        SELECT chat, seq, id, user_id, name, text, created_at, words::tsvector, truncated \
        FROM s \
        RETURNING id, seq, created_at, user_name), \
    r AS (\
        UPDATE participants SET read_seq = greatest(read_seq, x.seq) \
        FROM (SELECT chat, member_account, max(seq) AS seq FROM s \
              GROUP BY chat, member_account) x \
        WHERE participants.chat_id = x.chat AND participants.account_id = x.member_account), \
    e AS (\
        INSERT INTO events (pos, at, kind, chat_id, seq) \
        SELECT event_pos((ord - 1)::int), event_now(), 1, chat, seq FROM s) \
    SELECT id, seq, created_at, user_name FROM m";

/// The advisory locks of a batch's chats, in the order of `$1` (sorted, so two batches
/// never wait for each other's locks in a cycle).
const LOCK_CHATS: &str = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k";

/// Nothing when the key exists, or when `$7` is not a current member of the chat (of
/// account `$8`, unless null).
const INSERT_KEY: &str = "\
    INSERT INTO idempotency_keys (chat_id, scope, key, fingerprint, message_id, created_at) \
    SELECT $1::uuid, $2::text, $3::text, $4::bytea, $5::uuid, $6::bigint \
    WHERE EXISTS (\
        SELECT 1 FROM members \
        WHERE chat_id = $1 AND id = $7 AND active \
          AND ($8::uuid IS NULL OR account_id = $8::uuid)) \
    ON CONFLICT DO NOTHING";

/// Why a post stored nothing: whether `$4` is a current member of the chat (of account
/// `$5`, unless null), and the fingerprint and message of key (`$2`, `$3`) (both null when
/// there is no such key); no row when the chat does not exist.
const READ_KEY: &str = "\
    SELECT EXISTS (\
               SELECT 1 FROM members \
               WHERE chat_id = c.id AND id = $4 AND active \
                 AND ($5::uuid IS NULL OR account_id = $5::uuid)), \
           k.fingerprint, k.message_id \
    FROM chats c \
    LEFT JOIN idempotency_keys k ON k.chat_id = c.id AND k.scope = $2 AND k.key = $3 \
    WHERE c.id = $1";

/// One statement, so `last_seq` and the messages come from the same snapshot.
const PAGE_AFTER: &str = "\
    SELECT c.last_seq, m.seq, m.id, m.user_id, m.user_name, m.text, m.created_at \
    FROM chats c \
    LEFT JOIN LATERAL (\
        SELECT seq, id, user_id, user_name, text, created_at FROM messages \
        WHERE chat_id = c.id AND seq > $2 ORDER BY seq LIMIT $3) m ON true \
    WHERE c.id = $1 \
    ORDER BY m.seq";

/// What the statements of an append found.
#[derive(Debug, Clone)]
pub(crate) enum Appended {
    /// Stored with this sequence number, time and poster's name.
    Stored {
        seq: i64,
        created_at: i64,
        user_name: String,
    },
    /// The key exists: its fingerprint and message.
    KeySeen {
        fingerprint: Vec<u8>,
        message_id: Uuid,
    },
    /// The key vanished between the conflict and the read (purged): try again.
    KeyVanished,
    /// No such chat.
    NoChat,
    /// The poster is not a current member of the chat (or not of the required account).
    NotMember,
}

/// One post's values, as the statements bind them.
pub(crate) struct Post {
    pub(crate) chat: Uuid,
    pub(crate) id: Uuid,
    user: Uuid,
    /// The account the poster must belong to (`None`: any).
    account: Option<Uuid>,
    text: String,
    now: i64,
    words: String,
    truncated: bool,
    /// (scope, key, fingerprint) of its idempotency key.
    pub(crate) key: Option<(String, String, Vec<u8>)>,
}

impl Post {
    fn of(m: &NewMessage) -> Self {
        let (words, truncated) = tsvector_literal(&m.text);
        Self {
            chat: uuid(m.chat_id.as_u128()),
            id: uuid(m.id.as_u128()),
            user: uuid(m.user_id.as_u128()),
            account: m.account.map(|a| uuid(a.as_u128())),
            text: m.text.clone(),
            now: m.now.as_micros(),
            words,
            truncated,
            key: m
                .idempotency
                .as_ref()
                .map(|r| (r.scope.clone(), r.key.clone(), r.fingerprint.to_vec())),
        }
    }
}

/// The statements of an append, prepared on the connection.
pub(crate) struct Statements {
    lock: Statement,
    insert: Statement,
    insert_many: Statement,
    insert_key: Statement,
    read_key: Statement,
}

impl Statements {
    pub(crate) async fn prepare(client: &deadpool_postgres::Client) -> Result<Self, Error> {
        Ok(Self {
            lock: client.prepare_cached(LOCK_CHATS).await?,
            insert: client.prepare_cached(INSERT_MESSAGE).await?,
            insert_many: client.prepare_cached(INSERT_MESSAGES).await?,
            insert_key: client.prepare_cached(INSERT_KEY).await?,
            read_key: client.prepare_cached(READ_KEY).await?,
        })
    }
}

/// The answer to one request of a batch's flight.
pub(crate) enum Answer {
    /// A statement without rows (or `BEGIN`/`COMMIT`) ran.
    Done,
    /// The rows of the stored messages.
    Rows(Vec<Row>),
}

type Request<'a> = BoxFuture<'a, Result<Answer, Error>>;

/// A batch's posts as the columns [`INSERT_MESSAGES`] binds, and its chats' lock keys
/// (sorted, each once).
pub(crate) struct Columns<'a> {
    locks: Vec<i64>,
    chat: Vec<Uuid>,
    id: Vec<Uuid>,
    user: Vec<Uuid>,
    account: Vec<Option<Uuid>>,
    text: Vec<&'a str>,
    now: Vec<i64>,
    words: Vec<&'a str>,
    truncated: Vec<bool>,
    scope: Vec<Option<&'a str>>,
    key: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    pub(crate) fn of(posts: &'a [Post]) -> Self {
        let mut locks: Vec<i64> = posts.iter().map(|p| lock_key(p.chat)).collect();
        locks.sort_unstable();
        locks.dedup();
        Self {
            locks,
            chat: posts.iter().map(|p| p.chat).collect(),
            id: posts.iter().map(|p| p.id).collect(),
            user: posts.iter().map(|p| p.user).collect(),
            account: posts.iter().map(|p| p.account).collect(),
            text: posts.iter().map(|p| p.text.as_str()).collect(),
            now: posts.iter().map(|p| p.now).collect(),
            words: posts.iter().map(|p| p.words.as_str()).collect(),
            truncated: posts.iter().map(|p| p.truncated).collect(),
            scope: posts
                .iter()
                .map(|p| p.key.as_ref().map(|k| k.0.as_str()))
                .collect(),
            key: posts
                .iter()
                .map(|p| p.key.as_ref().map(|k| k.1.as_str()))
                .collect(),
        }
    }
}

/// A lone post without a key: its one statement ([`INSERT_MESSAGE`]), with no transaction
/// block.
pub(crate) async fn lone(client: &Client, st: &Statements, p: &Post) -> Result<Answer, Error> {
    let params: [&(dyn ToSql + Sync); 9] = [
        &p.chat,
        &p.id,
        &p.user,
        &p.account,
        &p.text,
        &p.now,
        &p.words,
        &p.truncated,
        &lock_key(p.chat),
    ];
    let row = client.query_opt(&st.insert, &params).await?;
    Ok(Answer::Rows(row.into_iter().collect()))
}

/// Every request of a batch that is not a [`lone`] post, in the order they must run:
/// `BEGIN`, the advisory locks of its chats (before any write, see `events`), each keyed
/// post's key, the posts' messages in one statement, `COMMIT`.
pub(crate) fn flight<'a>(
    client: &'a Client,
    st: &'a Statements,
    posts: &'a [Post],
    columns: &'a Columns<'a>,
) -> Vec<Request<'a>> {
    let mut requests: Vec<Request<'a>> = Vec::with_capacity(posts.len() + 4);
    requests.push(Box::pin(async move {
        client.batch_execute("BEGIN").await.map(|()| Answer::Done)
    }));
    requests.push(Box::pin(async move {
        client
            .execute(&st.lock, &[&columns.locks])
            .await
            .map(|_| Answer::Done)
    }));
    for p in posts {
        if let Some((scope, key, fingerprint)) = &p.key {
            requests.push(Box::pin(async move {
                let fingerprint = &fingerprint[..];
                let params: [&(dyn ToSql + Sync); 8] = [
                    &p.chat,
                    scope,
                    key,
                    &fingerprint,
                    &p.id,
                    &p.now,
                    &p.user,
                    &p.account,
                ];
                client
                    .execute(&st.insert_key, &params)
                    .await
                    .map(|_| Answer::Done)
            }));
        }
    }
    requests.push(Box::pin(async move {
        let c = columns;
        let params: [&(dyn ToSql + Sync); 10] = [
            &c.chat,
            &c.id,
            &c.user,
            &c.account,
            &c.text,
            &c.now,
            &c.words,
            &c.truncated,
            &c.scope,
            &c.key,
        ];
        client
            .query(&st.insert_many, &params)
            .await
            .map(Answer::Rows)
    }));
    requests.push(Box::pin(async move {
        client.batch_execute("COMMIT").await.map(|()| Answer::Done)
    }));
    requests
}

/// What a post of a committed flight came to: its message row, or, when none, why: the
/// chat is gone, the poster is no member, or the key was there already.
pub(crate) async fn outcome(
    client: &Client,
    st: &Statements,
    p: &Post,
    row: Option<Row>,
) -> Result<Appended, Error> {
    if let Some(row) = row {
        return Ok(Appended::Stored {
            seq: row.try_get(1)?,
            created_at: row.try_get(2)?,
            user_name: row.try_get(3)?,
        });
    }
    // Taken by a committed attempt, or earlier in this batch (committed now too).
    let (scope, key) = match &p.key {
        Some((scope, key, _)) => (Some(scope.as_str()), Some(key.as_str())),
        None => (None, None),
    };
    let Some(row) = client
        .query_opt(&st.read_key, &[&p.chat, &scope, &key, &p.user, &p.account])
        .await?
    else {
        return Ok(Appended::NoChat);
    };
    if !row.try_get::<_, bool>(0)? {
        return Ok(Appended::NotMember);
    }
    let fingerprint: Option<Vec<u8>> = row.try_get(1)?;
    let message_id: Option<Uuid> = row.try_get(2)?;
    Ok(match (p.key.is_some(), fingerprint.zip(message_id)) {
        (true, Some((fingerprint, message_id))) => Appended::KeySeen {
            fingerprint,
            message_id,
        },
        // Purged between the conflict and this read.
        (true, None) => Appended::KeyVanished,
        // A member without a key stores unless the chat is gone.
        (false, _) => Appended::NoChat,
    })
}

#[async_trait]
impl Messages for PgStore {
    async fn append(&self, m: NewMessage) -> PortResult<AppendOutcome> {
        match submit(self, Post::of(&m)).await? {
            Appended::Stored {
                seq: s,
                created_at,
                user_name,
            } => Ok(AppendOutcome::Stored(Message {
                id: m.id,
                chat_id: m.chat_id,
                seq: seq(s)?,
                user_id: m.user_id,
                user_name,
                text: m.text,
                created_at: Timestamp::from_micros(created_at),
            })),
            Appended::KeySeen {
                fingerprint,
                message_id,
            } => {
                let same = m
                    .idempotency
                    .as_ref()
                    .is_some_and(|r| r.fingerprint[..] == fingerprint[..]);
                Ok(if same {
                    AppendOutcome::Replayed(MessageId::from_u128(message_id.as_u128()))
                } else {
                    AppendOutcome::KeyReused
                })
            }
            // Keys are purged only after a day, so this is a first attempt racing a purge
            // of a long-dead key: the key is free now, so store afresh.
            Appended::KeyVanished => self.append(m).await,
            Appended::NoChat => Err(PortError::NotFound),
            Appended::NotMember => Ok(AppendOutcome::NotMember),
        }
    }

    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client.prepare_cached(PAGE_AFTER).await?;
            client
                .query(
                    &st,
                    &[&uuid(chat.as_u128()), &seq_param(after), &i64::from(limit)],
                )
                .await
        })
        .await;
        let rows = self.db.settle(client, outcome)?;
        let mut last_seq = 0;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            last_seq = seq(row.col(0)?)?;
            // A chat with no message after `after` gives one row without a message.
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

    async fn page_before(
        &self,
        chat: ChatId,
        before: Option<u64>,
        limit: u32,
    ) -> PortResult<MessagePage> {
        self.messages_before(chat, before, limit).await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> PortResult<u64> {
        let (deadline, _call) = self.db.deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let st = client
                .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < $1")
                .await?;
            client.execute(&st, &[&before.as_micros()]).await
        })
        .await;
        Ok(self.db.settle(client, outcome)?)
    }
}

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
//! Concurrent posts to one chat share a transaction (`append_batch`), whose statements are
//! sent in one flight. Each stored message records its `message.created` event, which
//! refers to the message's row (the text is not stored twice).

use crate::append_batch::submit;
use crate::convert::{seq, seq_param, uuid, RowExt};
use crate::events::{lock_key, LOCK_CHAT};
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

/// Takes the chat's next sequence number, stores the message of member `$3` with it,
/// moves the poster's account's read marker up to it and records its `message.created`
/// (referring to the message's row, at ordinal `$9` of the transaction), in one statement; no row when `$3` is not a current member of chat `$1`
/// (of account `$4`, unless null), or when the post has a key (`$10`, `$11`: scope and key)
/// whose row names another message. With `$12`, it first takes the chat's advisory lock of
/// that key, before its first write (a lone post is then one statement, outside any
/// transaction block).
const INSERT_MESSAGE: &str = "\
    WITH l AS (SELECT pg_advisory_xact_lock($12::bigint) WHERE $12::bigint IS NOT NULL), \
    p AS (\
        SELECT name, account_id FROM members \
        WHERE chat_id = $1 AND id = $3 AND active \
          AND ($4::uuid IS NULL OR account_id = $4::uuid)), \
    c AS (\
        UPDATE chats SET last_seq = last_seq + 1, \
                         last_created_at = greatest(last_created_at, $6) \
        FROM p \
        WHERE id = $1 \
          AND ($12::bigint IS NULL OR EXISTS (SELECT 1 FROM l)) \
          AND ($10::text IS NULL OR EXISTS (\
            SELECT 1 FROM idempotency_keys \
            WHERE chat_id = $1 AND scope = $10 AND key = $11 AND message_id = $2)) \
        RETURNING last_seq, last_created_at, p.name), \
    m AS (\
        INSERT INTO messages \
            (chat_id, seq, id, user_id, user_name, text, created_at, words, words_truncated) \
        SELECT $1, c.last_seq, $2, $3, c.name, $5, c.last_created_at, $7::text::tsvector, $8 \
        FROM c \
        RETURNING seq, created_at, user_name), \
    r AS (\
        UPDATE participants SET read_seq = greatest(read_seq, m.seq) \
        FROM m, p \
        WHERE participants.chat_id = $1 AND participants.account_id = p.account_id), \
    e AS (\
        INSERT INTO events (pos, at, kind, chat_id, seq) \
        SELECT event_pos($9), event_now(), 1, $1, seq FROM m) \
    SELECT seq, created_at, user_name FROM m";

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
    id: Uuid,
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
    insert_key: Statement,
    read_key: Statement,
}

impl Statements {
    pub(crate) async fn prepare(client: &deadpool_postgres::Client) -> Result<Self, Error> {
        Ok(Self {
            lock: client.prepare_cached(LOCK_CHAT).await?,
            insert: client.prepare_cached(INSERT_MESSAGE).await?,
            insert_key: client.prepare_cached(INSERT_KEY).await?,
            read_key: client.prepare_cached(READ_KEY).await?,
        })
    }
}

/// The answer to one request of a batch's flight.
pub(crate) enum Answer {
    /// A statement without rows (or `BEGIN`/`COMMIT`) ran.
    Done,
    /// The message statement's row (none: nothing stored).
    Row(Option<Row>),
}

type Request<'a> = BoxFuture<'a, Result<Answer, Error>>;

/// Whether a batch is a lone post without a key: one statement that takes the chat's lock
/// itself, with no transaction block around it.
pub(crate) fn alone(posts: &[Post]) -> bool {
    matches!(posts, [p] if p.key.is_none())
}

/// Every request of one batch, in the order they must run: `BEGIN`, the chat's advisory
/// lock (before any write, see `events`), each post's key (if any) and message, `COMMIT`;
/// or, when the batch is [`alone`], the message's statement only.
pub(crate) fn flight<'a>(
    client: &'a Client,
    st: &'a Statements,
    chat: Uuid,
    posts: &'a [Post],
) -> Vec<Request<'a>> {
    let mut requests: Vec<Request<'a>> = Vec::with_capacity(posts.len() * 2 + 3);
    let lone = alone(posts);
    if !lone {
        requests.push(Box::pin(async move {
            client.batch_execute("BEGIN").await.map(|()| Answer::Done)
        }));
        requests.push(Box::pin(async move {
            let key = lock_key(chat);
            client
                .execute(&st.lock, &[&key])
                .await
                .map(|_| Answer::Done)
        }));
    }
    let locks_itself = lone.then(|| lock_key(chat));
    for (i, p) in posts.iter().enumerate() {
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
        // The event's ordinal in the transaction: the post's place in the batch.
        let ord = i32::try_from(i).unwrap_or(i32::MAX);
        requests.push(Box::pin(async move {
            let (scope, key) = match &p.key {
                Some((scope, key, _)) => (Some(scope.as_str()), Some(key.as_str())),
                None => (None, None),
            };
            let params: [&(dyn ToSql + Sync); 12] = [
                &p.chat,
                &p.id,
                &p.user,
                &p.account,
                &p.text,
                &p.now,
                &p.words,
                &p.truncated,
                &ord,
                &scope,
                &key,
                &locks_itself,
            ];
            client.query_opt(&st.insert, &params).await.map(Answer::Row)
        }));
    }
    if !lone {
        requests.push(Box::pin(async move {
            client.batch_execute("COMMIT").await.map(|()| Answer::Done)
        }));
    }
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
            seq: row.try_get(0)?,
            created_at: row.try_get(1)?,
            user_name: row.try_get(2)?,
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

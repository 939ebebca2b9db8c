//! Group commit per chat: posts to one chat that arrive while a transaction of that chat
//! is running wait for it, then all go in the next transaction together (one commit, one
//! WAL flush), each still with its own sequence number and idempotency key.
//!
//! A chat's posts are serialised by its row lock anyway (the sequence number), so a busy
//! chat used to write at one flush per message. Now at most one transaction per chat and
//! process runs; whoever finds no transaction running for the chat starts a task that
//! drains the chat's queue batch by batch. Each post is answered only after its batch
//! committed; a batch that fails fails every post in it (nothing was stored). The task is
//! spawned, so a caller that goes away does not abandon the others' batch.
//!
//! Every batch is one transaction that first takes the chat's advisory lock (see
//! `events`); each stored post records its `message.created` at its place in the batch.

use crate::events::lock_chat;
use crate::messages::{append_one, Appended, Post, Statements};
use crate::PgStore;
use futures_util::future::try_join_all;
use messenger_ports::{PortError, PortResult};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::oneshot;
use tokio::time::timeout_at;
use uuid::Uuid;

/// Most posts in one transaction (the rest wait for the next).
const MAX_BATCH: usize = 256;

struct Pending {
    post: Post,
    reply: oneshot::Sender<PortResult<Appended>>,
}

/// The queues of the chats with a transaction running (a chat is present while its task
/// runs).
#[derive(Default)]
pub(crate) struct Batches(Mutex<HashMap<Uuid, Vec<Pending>>>);

impl Batches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<Pending>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next batch of `chat`, or `None` (and the chat leaves the map) when its queue
    /// is empty.
    fn next(&self, chat: Uuid) -> Option<Vec<Pending>> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&chat)?;
        if queue.is_empty() {
            queues.remove(&chat);
            return None;
        }
        let n = queue.len().min(MAX_BATCH);
        Some(queue.drain(..n).collect())
    }
}

/// Stores `post` in the next transaction of its chat and answers after that commits.
pub(crate) async fn submit(store: &PgStore, post: Post) -> PortResult<Appended> {
    let chat = post.chat;
    let (reply, answer) = oneshot::channel();
    let start = match store.db.batches.lock().entry(chat) {
        Entry::Occupied(mut queue) => {
            queue.get_mut().push(Pending { post, reply });
            false
        }
        Entry::Vacant(slot) => {
            slot.insert(vec![Pending { post, reply }]);
            true
        }
    };
    if start {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(batch) = store.db.batches.next(chat) {
                run(&store, batch).await;
            }
        });
    }
    answer
        .await
        .map_err(|_| PortError::Internal("the chat's batch task ended without answering".into()))?
}

/// One transaction for the whole batch, then every post's answer.
async fn run(store: &PgStore, batch: Vec<Pending>) {
    let (posts, replies): (Vec<Post>, Vec<_>) =
        batch.into_iter().map(|p| (p.post, p.reply)).unzip();
    let chat = posts.first().map(|p| p.chat).unwrap_or_default();
    let outcome = store_all(store, chat, &posts).await;
    for (i, reply) in replies.into_iter().enumerate() {
        let answer = match &outcome {
            Ok(results) => results
                .get(i)
                .cloned()
                .ok_or_else(|| PortError::Internal("a post of the batch went missing".into())),
            Err(e) => Err(e.clone()),
        };
        // A caller that went away no longer needs its answer.
        let _ = reply.send(answer);
    }
}

async fn store_all(store: &PgStore, chat: Uuid, posts: &[Post]) -> PortResult<Vec<Appended>> {
    let (deadline, _call) = store.db.deadline();
    let mut client = store.db.checkout(deadline).await?;
    let outcome = timeout_at(deadline, async {
        let st = Statements::prepare(&client).await?;
        let tx = client.transaction().await?;
        // Before any write: the chat's transactions take their ids in commit order.
        lock_chat(&tx, chat).await?;
        // Posts without a key are sent without waiting for each other's answers (the
        // connection keeps their order); a post with a key waits for its key's answer.
        let mut results = Vec::with_capacity(posts.len());
        let mut rest = posts;
        while let Some(first) = rest.first() {
            let n = if first.key.is_some() {
                1
            } else {
                rest.iter()
                    .position(|p| p.key.is_some())
                    .unwrap_or(rest.len())
            };
            let (run, after) = rest.split_at(n);
            let first = results.len();
            results.extend(
                try_join_all(run.iter().enumerate().map(|(i, p)| {
                    // The event's ordinal in the transaction: the post's place in the batch.
                    let ord = i32::try_from(first + i).unwrap_or(i32::MAX);
                    append_one(&tx, &st, p, ord)
                }))
                .await?,
            );
            rest = after;
        }
        // The chat does not exist: nothing of the batch may stay (keys included).
        if results.iter().any(|r| matches!(r, Appended::NoChat)) {
            tx.rollback().await?;
            return Ok(posts.iter().map(|_| Appended::NoChat).collect());
        }
        tx.commit().await?;
        Ok(results)
    })
    .await;
    Ok(store.db.settle(client, outcome)?)
}

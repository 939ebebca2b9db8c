//! Group commit per lane: each chat belongs to one of the instance's write lanes (always
//! the same one), and a lane runs one transaction of posts at a time. Posts that arrive
//! while it runs wait for it, then all go in the lane's next transaction together (one
//! commit, one WAL flush, one statement for their messages), each still with its own
//! sequence number and idempotency key.
//!
//! A chat's posts are serialised by its lock anyway (the sequence number), so a busy chat
//! used to write at one flush per message; and each post's statement costs PostgreSQL
//! mostly its start-up, so one statement for many posts is far cheaper than one each.
//! Whoever finds no transaction running for its lane starts a task that drains the lane's
//! queue batch by batch. Each post is answered only after its batch committed; a batch
//! that fails fails every post in it (nothing was stored). The task is spawned, so a
//! caller that goes away does not abandon the others' batch.
//!
//! Every batch is one transaction that first takes the advisory locks of its chats, in key
//! order (see `events`); each stored post records its `message.created` at its place in
//! the batch. Its requests, `BEGIN` to `COMMIT`, go to the server in one flight: one round
//! trip per batch. A lone post without a key is a single statement that takes the lock
//! itself.
//!
//! A post keeps its caller's time: each post brings the deadline its request's budget
//! allows, and a batch must end by the earliest one of its posts (a batch runs for
//! milliseconds; only a slow database makes the difference, and then failing fast is
//! right). The caller's budget is charged with the whole wait.

use crate::events::lock_key;
use crate::messages::{flight, lone, outcome, Answer, Appended, Columns, Post, Statements};
use crate::PgStore;
use futures_util::future::{maybe_done, BoxFuture, MaybeDone};
use messenger_ports::{PortError, PortResult};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};
use tokio_postgres::Row;
use uuid::Uuid;

/// Most posts in one transaction (the rest wait for the next).
const MAX_BATCH: usize = 256;

struct Pending {
    post: Post,
    /// When its caller's time for stores ends.
    deadline: Instant,
    reply: oneshot::Sender<PortResult<Appended>>,
}

/// The queues of the lanes with a transaction running (a lane is present while its task
/// runs).
pub(crate) struct Batches {
    queues: Mutex<HashMap<usize, Vec<Pending>>>,
    lanes: usize,
}

impl Batches {
    /// Posts spread over `lanes` lanes (at least one).
    pub(crate) fn new(lanes: usize) -> Self {
        Self {
            queues: Mutex::default(),
            lanes: lanes.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Vec<Pending>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lane of `chat`: always the same one.
    fn lane(&self, chat: Uuid) -> usize {
        let lanes = i64::try_from(self.lanes).unwrap_or(1);
        usize::try_from(lock_key(chat).rem_euclid(lanes)).unwrap_or(0)
    }

    /// The next batch of `lane`, or `None` (and the lane leaves the map) when its queue
    /// is empty.
    fn next(&self, lane: usize) -> Option<Vec<Pending>> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&lane)?;
        if queue.is_empty() {
            queues.remove(&lane);
            return None;
        }
        let n = queue.len().min(MAX_BATCH);
        Some(queue.drain(..n).collect())
    }
}

/// Stores `post` in the next transaction of its chat's lane and answers after that
/// commits.
pub(crate) async fn submit(store: &PgStore, post: Post) -> PortResult<Appended> {
    // Taken here, in the caller's request, and kept until the answer: the batch task
    // runs outside the request and so has no budget of its own.
    let (deadline, _call) = store.db.deadline();
    let lane = store.db.batches.lane(post.chat);
    let (reply, answer) = oneshot::channel();
    let pending = Pending {
        post,
        deadline,
        reply,
    };
    let start = match store.db.batches.lock().entry(lane) {
        Entry::Occupied(mut queue) => {
            queue.get_mut().push(pending);
            false
        }
        Entry::Vacant(slot) => {
            slot.insert(vec![pending]);
            true
        }
    };
    if start {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(batch) = store.db.batches.next(lane) {
                run(&store, batch).await;
            }
        });
    }
    answer
        .await
        .map_err(|_| PortError::Internal("the lane's batch task ended without answering".into()))?
}

/// One transaction for the whole batch, then every post's answer.
async fn run(store: &PgStore, batch: Vec<Pending>) {
    let Some(deadline) = batch.iter().map(|p| p.deadline).min() else {
        return;
    };
    let (posts, replies): (Vec<Post>, Vec<_>) =
        batch.into_iter().map(|p| (p.post, p.reply)).unzip();
    let outcome = store_all(store, &posts, deadline).await;
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

/// Stores the batch in one transaction that ends by `deadline`.
async fn store_all(
    store: &PgStore,
    posts: &[Post],
    deadline: Instant,
) -> PortResult<Vec<Appended>> {
    let client = store.db.checkout(deadline).await?;
    let outcome = timeout_at(deadline, async {
        let st = Statements::prepare(&client).await?;
        let answers = match posts {
            [p] if p.key.is_none() => vec![lone(&client, &st, p).await],
            _ => {
                let columns = Columns::of(posts);
                in_order(flight(&client, &st, posts, &columns)).await
            }
        };
        // A failed statement aborts the transaction (its `COMMIT` then rolls back): the
        // first error is the batch's.
        let mut stored: HashMap<Uuid, Row> = HashMap::with_capacity(posts.len());
        for answer in answers {
            if let Answer::Rows(rows) = answer? {
                for row in rows {
                    stored.insert(row.try_get(0)?, row);
                }
            }
        }
        let mut results = Vec::with_capacity(posts.len());
        for p in posts {
            let row = stored.remove(&p.id);
            results.push(outcome(&client, &st, p, row).await?);
        }
        Ok(results)
    })
    .await;
    Ok(store.db.settle(client, outcome)?)
}

/// Awaits every request, sending them in the given order: the driver sends a request when
/// its future is first polled (and pipelines what is sent), so each is polled once, in
/// order, before any is polled again.
async fn in_order<T>(requests: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut pending: Vec<MaybeDone<BoxFuture<'_, T>>> =
        requests.into_iter().map(maybe_done).collect();
    poll_fn(|cx| {
        let mut done = true;
        for request in &mut pending {
            done &= Pin::new(request).poll(cx).is_ready();
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    pending
        .iter_mut()
        .filter_map(|request| Pin::new(request).take_output())
        .collect()
}

//! [`TaskStore`]: search tasks and their results — insert and read, status changes,
//! completion (atomic, replaceable), paging of hits, time limits, deletion.

use super::support::{ok, some, unique_u128, wall_now};
use super::TimeTravel;
use crate::{HitsSlice, TaskStore};
use futures_util::future::join;
use messenger_domain::{
    AccountId, ChatId, MessageId, SearchHit, SearchQuery, SearchTask, TaskId, TaskStatus,
};
use std::time::Duration;

/// Runs every check of [`TaskStore`] (`time` lets time limits pass; 0.9 s of it in all):
/// - a stored task is read back, field for field; an unknown id is `None`;
/// - `set_status` changes only the status and answers `true`; `false` for an unknown task;
/// - `complete` stores the hits and `SUCCESS` together (a concurrent reader never sees
///   `SUCCESS` without the hits), pages of hits come from any offset with the total;
///   `false` and `None` for an unknown task;
/// - a final task is never completed again, and `SUCCESS` is never left;
/// - a task is gone once its time limit has passed, and each status change or completion
///   restarts the limit;
/// - a deleted task and its hits are gone; deleting an unknown task is fine.
pub async fn task_store_suite(store: &dyn TaskStore, time: &TimeTravel) {
    stored_task_is_read_back(store).await;
    set_status_changes_only_the_status(store).await;
    complete_stores_hits_and_success(store).await;
    final_tasks_are_never_completed_again(store).await;
    completion_is_atomic_for_readers(store).await;
    tasks_expire_and_status_changes_restart_the_limit(store, time).await;
    completed_tasks_expire_with_their_hits(store, time).await;
    deleted_task_is_gone(store).await;
}

const LONG: Duration = Duration::from_secs(600);

fn fresh_task() -> SearchTask {
    SearchTask {
        id: TaskId::from_u128(unique_u128()),
        account_id: AccountId::from_u128(unique_u128()),
        query: some(
            SearchQuery::parse("hello \"big world\" Привет 🙂 '; --").ok(),
            "a valid query",
        ),
        all_chats: false,
        status: TaskStatus::Waiting,
        created_at: wall_now(),
    }
}

/// `n` hits, newest first.
fn fresh_hits(n: u64) -> Vec<SearchHit> {
    let chat = ChatId::from_u128(unique_u128());
    let base = wall_now();
    (0..n)
        .map(|i| SearchHit {
            message_id: MessageId::from_u128(unique_u128()),
            chat_id: chat,
            text: format!("hit {i}: hello big world 東京 \\ '\""),
            user_name: format!("user {i}"),
            created_at: base.minus(Duration::from_micros(i)),
        })
        .collect()
}

async fn read(store: &dyn TaskStore, id: TaskId) -> Option<SearchTask> {
    ok(store.task(id).await, "task")
}

async fn hits(store: &dyn TaskStore, id: TaskId, offset: u64, limit: u32) -> Option<HitsSlice> {
    ok(store.hits(id, offset, limit).await, "hits")
}

/// A stored task reads back as stored; an unknown id reads as `None`.
pub async fn stored_task_is_read_back(store: &dyn TaskStore) {
    let mut task = fresh_task();
    task.all_chats = true;
    ok(store.insert_task(&task, LONG).await, "insert_task");
    assert_eq!(
        read(store, task.id).await.as_ref(),
        Some(&task),
        "task() must return the stored task, field for field"
    );
    assert_eq!(
        read(store, TaskId::from_u128(unique_u128())).await,
        None,
        "an unknown task id must read as None"
    );
}

/// `set_status` changes the status only; unknown tasks answer `false`.
pub async fn set_status_changes_only_the_status(store: &dyn TaskStore) {
    let task = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    for status in [
        TaskStatus::InProcess,
        TaskStatus::Failed,
        TaskStatus::Waiting,
    ] {
        assert!(
            ok(store.set_status(task.id, status, LONG).await, "set_status"),
            "set_status on a stored task must answer true"
        );
        let want = SearchTask {
            status,
            ..task.clone()
        };
        assert_eq!(
            read(store, task.id).await.as_ref(),
            Some(&want),
            "set_status({status:?}) must change the status and nothing else"
        );
    }
    let unknown = TaskId::from_u128(unique_u128());
    assert!(
        !ok(
            store.set_status(unknown, TaskStatus::InProcess, LONG).await,
            "set_status"
        ),
        "set_status on an unknown task must answer false"
    );
    assert_eq!(
        read(store, unknown).await,
        None,
        "set_status must not create a task"
    );
}

/// `complete` sets `SUCCESS` and stores the hits, read back in pages with the total.
pub async fn complete_stores_hits_and_success(store: &dyn TaskStore) {
    let task = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    ok(
        store.set_status(task.id, TaskStatus::InProcess, LONG).await,
        "set_status",
    );
    let all = fresh_hits(7);
    assert!(
        ok(store.complete(task.id, &all, LONG).await, "complete"),
        "complete on a stored task must answer true"
    );
    let want = SearchTask {
        status: TaskStatus::Success,
        ..task.clone()
    };
    assert_eq!(
        read(store, task.id).await.as_ref(),
        Some(&want),
        "complete must set SUCCESS and change nothing else"
    );
    for (offset, limit, range) in [
        (0u64, 3u32, 0..3usize),
        (3, 3, 3..6),
        (6, 3, 6..7),
        (0, 100, 0..7),
        (2, 1, 2..3),
        (7, 3, 7..7),
        (100, 3, 7..7),
    ] {
        let slice = some(
            hits(store, task.id, offset, limit).await,
            "hits of a completed task",
        );
        assert_eq!(
            slice,
            HitsSlice {
                hits: all[range].to_vec(),
                total: 7,
            },
            "hits(offset {offset}, limit {limit}) must be that slice, in the stored order, \
             with the total"
        );
    }
    let unknown = TaskId::from_u128(unique_u128());
    assert!(
        !ok(store.complete(unknown, &all, LONG).await, "complete"),
        "complete on an unknown task must answer false"
    );
    assert_eq!(
        hits(store, unknown, 0, 10).await,
        None,
        "hits of an unknown task are None"
    );
    assert_eq!(
        read(store, unknown).await,
        None,
        "complete must not create a task"
    );
}

/// A final task is never completed again and `SUCCESS` is never left: a second
/// completion (a stale worker finishing late) answers `false` and changes nothing, a
/// `FAILED` task cannot be completed, and a status change of a `SUCCESS` task is refused.
/// A task completed with no hits is `SUCCESS` with none.
pub async fn final_tasks_are_never_completed_again(store: &dyn TaskStore) {
    let task = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    let first = fresh_hits(5);
    assert!(ok(store.complete(task.id, &first, LONG).await, "complete"));
    assert!(
        !ok(
            store.complete(task.id, &fresh_hits(2), LONG).await,
            "complete (again)"
        ),
        "completing a SUCCESS task again must answer false"
    );
    assert_eq!(
        hits(store, task.id, 0, 100).await,
        Some(HitsSlice {
            hits: first,
            total: 5
        }),
        "a refused completion must leave the first hits"
    );
    for status in [
        TaskStatus::Failed,
        TaskStatus::InProcess,
        TaskStatus::Waiting,
    ] {
        assert!(
            !ok(store.set_status(task.id, status, LONG).await, "set_status"),
            "set_status({status:?}) on a SUCCESS task must answer false"
        );
    }
    assert_eq!(
        read(store, task.id).await.map(|t| t.status),
        Some(TaskStatus::Success),
        "a SUCCESS task stays SUCCESS"
    );

    let failed = fresh_task();
    ok(store.insert_task(&failed, LONG).await, "insert_task");
    ok(
        store.set_status(failed.id, TaskStatus::Failed, LONG).await,
        "set_status",
    );
    assert!(
        !ok(
            store.complete(failed.id, &fresh_hits(1), LONG).await,
            "complete"
        ),
        "completing a FAILED task must answer false"
    );
    assert_eq!(
        read(store, failed.id).await.map(|t| t.status),
        Some(TaskStatus::Failed),
        "a FAILED task is not completed"
    );

    let empty = fresh_task();
    ok(store.insert_task(&empty, LONG).await, "insert_task");
    assert!(ok(
        store.complete(empty.id, &[], LONG).await,
        "complete (no hits)"
    ));
    assert_eq!(
        hits(store, empty.id, 0, 100).await,
        Some(HitsSlice {
            hits: Vec::new(),
            total: 0
        }),
        "a completion with no hits must leave none"
    );
    assert_eq!(
        read(store, empty.id).await.map(|t| t.status),
        Some(TaskStatus::Success),
        "a task completed with no hits is still SUCCESS"
    );
}

/// A reader polling while a task completes never sees `SUCCESS` without all the hits.
pub async fn completion_is_atomic_for_readers(store: &dyn TaskStore) {
    let task = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    let all = fresh_hits(40);
    let reader = async {
        for _ in 0..200 {
            let Some(seen) = read(store, task.id).await else {
                panic!("a task being completed must not vanish");
            };
            if seen.status == TaskStatus::Success {
                let slice = hits(store, task.id, 0, 100).await;
                assert_eq!(
                    slice.map(|s| s.total),
                    Some(40),
                    "a reader saw SUCCESS before the hits were there"
                );
                return true;
            }
        }
        false
    };
    let (completed, _) = join(store.complete(task.id, &all, LONG), reader).await;
    assert!(
        ok(completed, "complete"),
        "complete on a stored task must answer true"
    );
    assert_eq!(
        hits(store, task.id, 0, 100).await.map(|s| s.hits),
        Some(all),
        "after complete every hit must be readable"
    );
}

/// A task is gone after its time limit; a status change restarts the limit; a gone task
/// answers `false` to changes and `None` to reads.
pub async fn tasks_expire_and_status_changes_restart_the_limit(
    store: &dyn TaskStore,
    time: &TimeTravel,
) {
    let ttl = Duration::from_millis(300);
    let task = fresh_task();
    let short = fresh_task();
    ok(store.insert_task(&task, ttl).await, "insert_task");
    ok(store.insert_task(&short, ttl).await, "insert_task");
    time.advance(Duration::from_millis(150)).await;
    assert!(
        ok(
            store.set_status(task.id, TaskStatus::InProcess, ttl).await,
            "set_status"
        ),
        "set_status within the time limit must answer true"
    );
    time.advance(Duration::from_millis(200)).await;
    assert_eq!(
        read(store, short.id).await,
        None,
        "a task must be gone 350 ms after an insert with a 300 ms limit"
    );
    assert_eq!(
        read(store, task.id).await.map(|t| t.status),
        Some(TaskStatus::InProcess),
        "set_status must restart the time limit (200 ms into a new 300 ms limit)"
    );
    time.advance(Duration::from_millis(200)).await;
    assert_eq!(
        read(store, task.id).await,
        None,
        "a task must be gone 400 ms after its last status change with a 300 ms limit"
    );
    assert!(
        !ok(
            store.set_status(task.id, TaskStatus::Failed, ttl).await,
            "set_status"
        ),
        "set_status on an expired task must answer false"
    );
    assert!(
        !ok(
            store.complete(task.id, &fresh_hits(1), ttl).await,
            "complete"
        ),
        "complete on an expired task must answer false"
    );
    assert_eq!(
        read(store, task.id).await,
        None,
        "changes must not revive an expired task"
    );
    assert_eq!(
        hits(store, task.id, 0, 10).await,
        None,
        "an expired task has no hits"
    );
}

/// `complete` restarts the limit at its `ttl`; the task and its hits then expire together.
pub async fn completed_tasks_expire_with_their_hits(store: &dyn TaskStore, time: &TimeTravel) {
    let task = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    assert!(ok(
        store
            .complete(task.id, &fresh_hits(3), Duration::from_millis(300))
            .await,
        "complete"
    ));
    time.advance(Duration::from_millis(350)).await;
    assert_eq!(
        read(store, task.id).await,
        None,
        "a task must be gone 350 ms after completing with a 300 ms limit"
    );
    assert_eq!(
        hits(store, task.id, 0, 10).await,
        None,
        "its hits must be gone with it"
    );
}

/// A deleted task and its hits are gone; deleting twice or an unknown task is fine.
pub async fn deleted_task_is_gone(store: &dyn TaskStore) {
    let task = fresh_task();
    let kept = fresh_task();
    ok(store.insert_task(&task, LONG).await, "insert_task");
    ok(store.insert_task(&kept, LONG).await, "insert_task");
    assert!(ok(
        store.complete(task.id, &fresh_hits(2), LONG).await,
        "complete"
    ));
    ok(store.delete_task(task.id).await, "delete_task");
    assert_eq!(
        read(store, task.id).await,
        None,
        "a deleted task must read as None"
    );
    assert_eq!(
        hits(store, task.id, 0, 10).await,
        None,
        "a deleted task has no hits"
    );
    assert!(
        !ok(
            store.set_status(task.id, TaskStatus::Failed, LONG).await,
            "set_status"
        ),
        "set_status on a deleted task must answer false"
    );
    ok(store.delete_task(task.id).await, "delete_task (again)");
    ok(
        store.delete_task(TaskId::from_u128(unique_u128())).await,
        "delete_task (unknown)",
    );
    assert_eq!(
        read(store, kept.id).await.as_ref(),
        Some(&kept),
        "deleting one task must not touch another"
    );
}

/// For stores shared by several instances and workers (run it with two instances over
/// one backend, not part of [`task_store_suite`]): a task stored, changed, completed or
/// deleted through one is seen so through the other.
pub async fn instances_share_tasks(first: &dyn TaskStore, second: &dyn TaskStore) {
    let task = fresh_task();
    ok(
        first.insert_task(&task, LONG).await,
        "insert_task (first instance)",
    );
    assert_eq!(
        read(second, task.id).await.as_ref(),
        Some(&task),
        "a task stored through one instance must be read through another"
    );
    assert!(
        ok(
            second
                .set_status(task.id, TaskStatus::InProcess, LONG)
                .await,
            "set_status"
        ),
        "set_status through another instance must find the task"
    );
    assert_eq!(
        read(first, task.id).await.map(|t| t.status),
        Some(TaskStatus::InProcess),
        "a status set through one instance must be read through another"
    );
    let all = fresh_hits(3);
    assert!(ok(
        second.complete(task.id, &all, LONG).await,
        "complete (second instance)"
    ));
    assert_eq!(
        hits(first, task.id, 0, 10).await,
        Some(HitsSlice {
            hits: all,
            total: 3
        }),
        "hits stored through one instance must be read through another"
    );
    ok(
        first.delete_task(task.id).await,
        "delete_task (first instance)",
    );
    assert_eq!(
        read(second, task.id).await,
        None,
        "a task deleted through one instance must be gone for every other"
    );
}

//! [`AttemptCounter`]: fixed-window failure counters — counting, resetting, and the
//! window's end.

use super::support::{ok, unique_name};
use super::TimeTravel;
use crate::{AttemptCounter, FailureWindow};
use std::time::Duration;

/// Runs every check of [`AttemptCounter`] (`time` lets a window end; 0.45 s of it in all):
/// - a key without failures reads as count 0 and `resets_in` zero;
/// - `record_failure` returns 1, 2, 3, …; `failures` reads the count with
///   `0 < resets_in ≤ window`; `reset` forgets it; keys are independent;
/// - the window is fixed: it starts at the first failure and later failures do not extend
///   it; once it ends the count reads 0 and the next failure opens a new window at 1.
pub async fn attempts_suite(counter: &dyn AttemptCounter, time: &TimeTravel) {
    failures_are_counted_and_reset(counter).await;
    window_is_fixed_and_expires(counter, time).await;
}

const NONE: FailureWindow = FailureWindow {
    count: 0,
    resets_in: Duration::ZERO,
};

async fn failures(counter: &dyn AttemptCounter, key: &str) -> FailureWindow {
    ok(counter.failures(key).await, "failures")
}

/// Counting, reading, resetting; keys do not see each other's failures.
pub async fn failures_are_counted_and_reset(counter: &dyn AttemptCounter) {
    let key = unique_name("attempts-");
    let other = unique_name("attempts-other-");
    let window = Duration::from_secs(600);
    assert_eq!(
        failures(counter, &key).await,
        NONE,
        "a key without failures must read as count 0, resets_in zero"
    );
    for n in 1..=3 {
        let count = ok(counter.record_failure(&key, window).await, "record_failure");
        assert_eq!(
            count, n,
            "record_failure must return the count in the window"
        );
    }
    let read = failures(counter, &key).await;
    assert_eq!(read.count, 3, "failures must read the count recorded");
    assert!(
        read.resets_in > Duration::ZERO && read.resets_in <= window,
        "resets_in must be within (0, window = {window:?}] while the window is open, got {:?}",
        read.resets_in
    );
    assert_eq!(
        failures(counter, &other).await,
        NONE,
        "failures of one key must not show on another"
    );
    let count = ok(
        counter.record_failure(&other, window).await,
        "record_failure",
    );
    assert_eq!(count, 1, "another key counts from 1");

    ok(counter.reset(&key).await, "reset");
    assert_eq!(
        failures(counter, &key).await,
        NONE,
        "after reset the key must read as count 0, resets_in zero"
    );
    let count = ok(counter.record_failure(&key, window).await, "record_failure");
    assert_eq!(count, 1, "after reset counting starts again at 1");
    assert_eq!(
        failures(counter, &other).await.count,
        1,
        "reset must not touch another key"
    );
    ok(
        counter.reset(&unique_name("attempts-unknown-")).await,
        "reset (unknown key)",
    );
}

/// A 400 ms window: a failure 250 ms in joins it (and does not extend it); 450 ms after
/// the first failure the window is over and a new one starts.
pub async fn window_is_fixed_and_expires(counter: &dyn AttemptCounter, time: &TimeTravel) {
    let key = unique_name("attempts-window-");
    let window = Duration::from_millis(400);
    assert_eq!(
        ok(counter.record_failure(&key, window).await, "record_failure"),
        1
    );
    time.advance(Duration::from_millis(250)).await;
    assert_eq!(
        ok(counter.record_failure(&key, window).await, "record_failure"),
        2,
        "a failure within the window must add to it"
    );
    let read = failures(counter, &key).await;
    assert_eq!(read.count, 2, "failures must read 2 within the window");
    assert!(
        read.resets_in > Duration::ZERO && read.resets_in <= Duration::from_millis(150),
        "250 ms into a 400 ms window, resets_in must be within (0, 150 ms]: a later failure \
         does not extend the window; got {:?}",
        read.resets_in
    );
    time.advance(Duration::from_millis(200)).await;
    assert_eq!(
        failures(counter, &key).await,
        NONE,
        "after its window ended the key must read as count 0, resets_in zero"
    );
    assert_eq!(
        ok(counter.record_failure(&key, window).await, "record_failure"),
        1,
        "the first failure after a window ended must open a new window at 1"
    );
    let read = failures(counter, &key).await;
    assert!(
        read.resets_in > Duration::from_millis(200) && read.resets_in <= window,
        "a new window must last its whole length again, got resets_in {:?}",
        read.resets_in
    );
}

//! The time one request may spend waiting on its stores, shared by every store call the
//! request makes.
//!
//! The HTTP gate opens a [`Budget`] when a request starts (`DEPENDENCY_TIMEOUT_MS` for the
//! store calls together, `REQUEST_TIMEOUT_MS` for the whole request) and runs the handler
//! [`within`](Budget::within) it. Every adapter call (PostgreSQL, Redis, and the search
//! task's publish to RabbitMQ) starts a [`StoreCall`]: it may wait what is left (never more
//! than its own per-call limit), and what it waited is taken off when it ends. So a request that makes four calls to a slow store answers 503 after about
//! one dependency timeout, not four. Outside a budget (background jobs, the worker, tests
//! calling an adapter directly) every call gets its own per-call limit, as before.
//!
//! What counts is time spent *in* store calls, not the time since the request began:
//! waiting for a password-hashing permit or for new events on a long poll is not store
//! time, and the whole request is bounded by its own deadline anyway. Undoing a half-done
//! step (removing a task whose publish failed) runs [`outside`](Budget::outside) the
//! budget: it must not be refused because the step it undoes spent the time. Calls running at
//! once each charge what they waited, so the total can only run out sooner, never later.
//!
//! Why it lives here: the gate (in the API binary) sets it and the adapters read it, and
//! the only crates both reach are `domain` and `ports`. The rule of this crate is no tokio,
//! so instead of `tokio::task_local!` the current budget is kept the same way: a
//! thread-local set while the request's future is being polled and restored afterwards
//! ([`Within`]). Like a tokio task-local, a task spawned from the request does not inherit
//! it (it gets fresh per-call limits). Times are `std::time::Instant`s; adapters turn what
//! is left into a `Duration` and apply it on their own clock.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// One request's time for store calls. Cheap to clone (clones share what is left).
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

struct Inner {
    /// Store time left, in nanoseconds.
    stores_left: AtomicU64,
    /// When the whole request ends, whatever store time is left.
    ends: Option<Instant>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("stores_left", &self.stores_left())
            .field("ends", &self.inner.ends)
            .finish()
    }
}

impl Budget {
    /// A budget of `stores` for store calls together, inside a request that may take
    /// `whole` (from now) in all; `None`: no limit on the whole.
    pub fn new(stores: Duration, whole: Option<Duration>) -> Self {
        let nanos = u64::try_from(stores.as_nanos()).unwrap_or(u64::MAX);
        Self {
            inner: Arc::new(Inner {
                stores_left: AtomicU64::new(nanos),
                ends: whole.and_then(|w| Instant::now().checked_add(w)),
            }),
        }
    }

    /// The budget of the request being served on this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Runs `fut` with this budget as the current one.
    pub fn within<F: Future>(self, fut: F) -> Within<F> {
        Within {
            budget: Some(self),
            fut: Box::pin(fut),
        }
    }

    /// Runs `fut` outside any budget: its store calls get their own per-call limits. For
    /// the clean-up of a request whose time is spent (undoing a half-done step must not be
    /// refused for the very reason the step failed); the whole request's deadline still
    /// bounds it.
    pub fn outside<F: Future>(fut: F) -> Within<F> {
        Within {
            budget: None,
            fut: Box::pin(fut),
        }
    }

    /// Store time left: what the store calls have not used, and no later than the end
    /// of the whole request.
    pub fn left(&self) -> Duration {
        let stores = self.stores_left();
        match self.inner.ends {
            Some(ends) => stores.min(ends.saturating_duration_since(Instant::now())),
            None => stores,
        }
    }

    fn stores_left(&self) -> Duration {
        Duration::from_nanos(self.inner.stores_left.load(Ordering::Acquire))
    }

    /// Takes `spent` off the store time (down to zero).
    fn charge(&self, spent: Duration) {
        let spent = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .stores_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                Some(left.saturating_sub(spent))
            });
    }
}

/// A future running with a budget as the current one (see [`Budget::within`]).
pub struct Within<F> {
    budget: Option<Budget>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Within<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let outer = CURRENT.with(|c| c.replace(this.budget.take()));
        // Restored even if the inner future panics, so the thread never keeps a budget
        // that belongs to another request.
        let restore = Restore {
            outer: Some(outer),
            slot: &mut this.budget,
        };
        let poll = this.fut.as_mut().poll(cx);
        drop(restore);
        poll
    }
}

/// Puts the outer budget back as the current one and this future's back in its slot.
struct Restore<'a> {
    outer: Option<Option<Budget>>,
    slot: &'a mut Option<Budget>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let outer = self.outer.take().unwrap_or_default();
        *self.slot = CURRENT.with(|c| c.replace(outer));
    }
}

/// One call to a store: how long it may wait, charged to the request's budget when it
/// ends (when dropped). Keep it alive for the whole call.
#[derive(Debug)]
#[must_use = "the call is charged when this is dropped: keep it for the whole call"]
pub struct StoreCall {
    budget: Option<Budget>,
    started: Instant,
    limit: Duration,
    per_call: Duration,
}

impl StoreCall {
    /// A call starting now, allowed `per_call` at most (the adapter's own limit), and no
    /// more than the current request's budget has left.
    pub fn start(per_call: Duration) -> Self {
        let budget = Budget::current();
        let limit = budget.as_ref().map_or(per_call, |b| b.left().min(per_call));
        Self {
            budget,
            started: Instant::now(),
            limit,
            per_call,
        }
    }

    /// How long this call may wait, from when it started.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Whether the request's budget, not the store's own limit, bounds this call: a call
    /// that runs out of time then says nothing about the store's health.
    pub fn cut_by_budget(&self) -> bool {
        self.limit < self.per_call
    }

    /// Whether nothing is left to wait with (the request's store time is spent).
    pub fn is_spent(&self) -> bool {
        self.limit.is_zero()
    }
}

impl Drop for StoreCall {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.charge(self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::poll_fn;
    use futures_util::FutureExt;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn outside_a_budget_a_call_gets_its_own_limit() {
        let call = StoreCall::start(SECOND);
        assert_eq!(call.limit(), SECOND);
        assert!(!call.cut_by_budget());
        assert!(Budget::current().is_none());
    }

    #[test]
    fn calls_within_a_budget_share_it() {
        let budget = Budget::new(Duration::from_millis(300), None);
        let run = budget.clone().within(async {
            let first = StoreCall::start(SECOND);
            assert!(first.limit() <= Duration::from_millis(300));
            assert!(first.cut_by_budget());
            std::thread::sleep(Duration::from_millis(200));
            drop(first);
            let second = StoreCall::start(SECOND);
            assert!(second.limit() <= Duration::from_millis(100), "{second:?}");
            std::thread::sleep(Duration::from_millis(120));
            drop(second);
            let third = StoreCall::start(SECOND);
            assert!(third.is_spent(), "{third:?}");
        });
        run.now_or_never().unwrap_or_default();
        assert!(budget.left().is_zero());
        assert!(Budget::current().is_none(), "restored after the request");
    }

    #[test]
    fn the_end_of_the_whole_request_bounds_every_call() {
        let budget = Budget::new(SECOND, Some(Duration::from_millis(50)));
        let call = budget.within(async { StoreCall::start(SECOND) });
        let call = call.now_or_never();
        assert!(call.is_some_and(|c| c.limit() <= Duration::from_millis(50)));
    }

    #[test]
    fn the_budget_is_current_only_while_its_future_is_polled() {
        let budget = Budget::new(SECOND, None);
        let mut polled = 0;
        let mut run = budget.within(poll_fn(|cx| {
            polled += 1;
            assert!(Budget::current().is_some());
            if polled < 2 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        assert!(Budget::current().is_none(), "not between polls");
        assert!(Pin::new(&mut run).poll(&mut cx).is_ready());
        assert!(Budget::current().is_none());
    }

    #[test]
    fn outside_a_spent_budget_a_call_gets_its_own_limit_again() {
        let budget = Budget::new(Duration::ZERO, None);
        let run = budget.within(async {
            assert!(StoreCall::start(SECOND).is_spent());
            let cleanup = Budget::outside(async { StoreCall::start(SECOND).limit() }).await;
            assert_eq!(cleanup, SECOND);
            assert!(
                StoreCall::start(SECOND).is_spent(),
                "the budget is back after it"
            );
        });
        run.now_or_never().unwrap_or_default();
    }

    #[test]
    fn an_inner_budget_replaces_the_outer_one_and_is_restored() {
        let outer = Budget::new(SECOND, None);
        let inner = Budget::new(Duration::from_millis(10), None);
        let run = outer.within(async move {
            let seen = inner
                .within(async { StoreCall::start(SECOND).limit() })
                .await;
            assert!(seen <= Duration::from_millis(10));
            assert!(StoreCall::start(SECOND).limit() > Duration::from_millis(10));
        });
        run.now_or_never().unwrap_or_default();
    }
}

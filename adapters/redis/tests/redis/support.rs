//! What the tests share: the gate on `MESSENGER_TEST_REDIS_URL` and a unique key prefix per
//! test (from the crate's `testing` feature, with its TCP proxy), real-time travel, clocks.

use messenger_domain::Timestamp;
use messenger_ports::testing::TimeTravel;
use messenger_ports::Clock;
use messenger_redis::{RedisConfig, RedisStore};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use messenger_redis::testing::{redis_url, unique_config as config, Mode, Proxy};

/// A store for `config` (connected, or at least trying).
pub async fn store(config: &RedisConfig) -> RedisStore {
    RedisStore::connect(config)
        .await
        .expect("a usable configuration")
}

/// Time passes for real: Redis keeps time itself.
pub fn real_time() -> TimeTravel {
    TimeTravel::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Deletes the test's keys (every key under its prefix).
pub async fn clean_up(store: &RedisStore) {
    store
        .delete_prefixed_keys()
        .await
        .expect("deleting the test's keys");
}

/// The wall clock (what production uses).
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        let us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        Timestamp::from_micros(i64::try_from(us).unwrap())
    }
}

/// The wall clock, shared.
pub fn wall_clock() -> Arc<dyn Clock> {
    Arc::new(WallClock)
}

/// A clock that moves only when told (instant time travel for clock-driven rules).
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starting at the wall clock's now.
    pub fn starting_now() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(WallClock.now().as_micros())))
    }

    /// Moves it forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = i64::try_from(d.as_micros()).unwrap();
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

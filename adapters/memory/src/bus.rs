//! `EventBus` in one process: a `tokio::sync::watch` counter that every publish bumps;
//! each subscription waits for it to change. Publishes between two waits merge into one
//! wake-up, and a publish never blocks.

use async_trait::async_trait;
use messenger_ports::{EventBus, Wakeups};
use std::time::Duration;
use tokio::sync::watch;

/// Wake-ups of event readers within this process.
#[derive(Debug)]
pub struct MemoryEventBus {
    tx: watch::Sender<u64>,
}

impl MemoryEventBus {
    /// A bus with no subscriber yet.
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(0),
        }
    }

    /// Wakes every subscriber (also callable without awaiting, e.g. from another
    /// adapter's listener task).
    pub fn wake(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Default for MemoryEventBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self) {
        self.wake();
    }

    fn subscribe(&self) -> Box<dyn Wakeups> {
        Box::new(Subscription {
            rx: self.tx.subscribe(),
        })
    }
}

struct Subscription {
    rx: watch::Receiver<u64>,
}

#[async_trait]
impl Wakeups for Subscription {
    async fn wait(&mut self, max: Duration) -> bool {
        match tokio::time::timeout(max, self.rx.changed()).await {
            Ok(Ok(())) => true,
            // The bus is gone: nothing will wake this subscription again.
            Ok(Err(_)) => {
                tokio::time::sleep(max).await;
                false
            }
            Err(_) => false,
        }
    }
}

//! Session and page caches on moka, bounded in size.

use async_trait::async_trait;
use messenger_domain::{Message, Session, Timestamp, TokenHash};
use messenger_ports::{Clock, PageCache, PageKey, PortResult, SessionCache};
use moka::sync::Cache;
use std::{sync::Arc, time::Duration};

/// Sessions by token hash. Each entry carries its own deadline, read from the `Clock`
/// port so tests control it; moka's global time-to-live bounds memory as well.
pub struct MemorySessionCache {
    cache: Cache<TokenHash, (Session, Timestamp)>,
    clock: Arc<dyn Clock>,
}

impl MemorySessionCache {
    /// At most `capacity` sessions.
    pub fn new(capacity: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            clock,
        }
    }
}

#[async_trait]
impl SessionCache for MemorySessionCache {
    async fn get(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        Ok(match self.cache.get(token_hash) {
            Some((s, until)) if until > self.clock.now() => Some(s),
            Some(_) => {
                self.cache.invalidate(token_hash);
                None
            }
            None => None,
        })
    }

    async fn put(&self, session: &Session, ttl: Duration) -> PortResult<()> {
        let until = self.clock.now().plus(ttl);
        self.cache
            .insert(session.token_hash, (session.clone(), until));
        Ok(())
    }

    async fn remove(&self, token_hash: &TokenHash) -> PortResult<()> {
        self.cache.invalidate(token_hash);
        Ok(())
    }
}

/// Full pages by (chat, after, limit), bounded by the number of messages held.
pub struct MemoryPageCache {
    cache: Cache<PageKey, Arc<Vec<Message>>>,
}

impl MemoryPageCache {
    /// Holds pages totalling at most `max_messages` messages.
    pub fn new(max_messages: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_messages)
                .weigher(|_, page: &Arc<Vec<Message>>| {
                    u32::try_from(page.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

#[async_trait]
impl PageCache for MemoryPageCache {
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>> {
        Ok(self.cache.get(key))
    }

    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()> {
        self.cache.insert(*key, page);
        Ok(())
    }
}

//! Cache ports: fast and lossy. Losing a cache loses no data; an adapter error here is
//! logged by the use case and the durable store answers instead.

use crate::PortResult;
use async_trait::async_trait;
use messenger_domain::{ChatId, Message, Session, TokenHash};
use std::{sync::Arc, time::Duration};

/// A cache of sessions by token hash, over the durable [`crate::Sessions`] record.
#[async_trait]
pub trait SessionCache: Send + Sync + 'static {
    /// The cached session, if present and not past its cache lifetime.
    async fn get(&self, token_hash: &TokenHash) -> PortResult<Option<Session>>;

    /// Caches `session` for at most `ttl`.
    async fn put(&self, session: &Session, ttl: Duration) -> PortResult<()>;

    /// Forgets the session: after this returns, `get` on every instance sharing the cache
    /// answers `None`.
    async fn remove(&self, token_hash: &TokenHash) -> PortResult<()>;
}

/// Which page: `limit` messages of `chat` after sequence number `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The chat.
    pub chat: ChatId,
    /// The position after which the page starts.
    pub after: u64,
    /// The page size.
    pub limit: u32,
}

/// A cache of full pages. Messages never change and sequence numbers have no gaps, so a
/// full page (exactly `limit` messages after `after`) never changes: no invalidation is
/// needed, on any number of instances. Only full pages are ever put.
#[async_trait]
pub trait PageCache: Send + Sync + 'static {
    /// The cached page, if any.
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>>;

    /// Caches a full page (`page.len() == key.limit`).
    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()>;
}

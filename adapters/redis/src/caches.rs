//! The page cache (Redis with an in-process layer in front) and the session cache.

use crate::client::{ttl_millis, RedisStore};
use crate::dto::{from_json, to_json, PageDto, SessionDto};
use async_trait::async_trait;
use fred::prelude::{Expiration, KeysInterface};
use fred::types::scripts::Script;
use messenger_domain::{Message, Session, TokenHash};
use messenger_ports::{PageCache, PageKey, PortResult, SessionCache};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Full pages in Redis, shared by every instance, with a moka layer in front.
///
/// A full page never changes (messages are immutable and sequence numbers have no gaps),
/// so a page cached anywhere is right everywhere, forever: no versions, no invalidation,
/// and the in-process layer can never serve a stale page. The TTLs only bound memory.
pub struct RedisPageCache {
    store: RedisStore,
    local: Option<moka::sync::Cache<PageKey, Arc<Vec<Message>>>>,
    ttl: Duration,
}

impl RedisPageCache {
    /// The page cache of `store`, with the in-process layer sized by its configuration
    /// (`local_page_messages` messages; none when 0).
    pub fn new(store: &RedisStore) -> Self {
        let config = store.config();
        let local = (config.local_page_messages > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.local_page_messages)
                .weigher(|_: &PageKey, page: &Arc<Vec<Message>>| {
                    u32::try_from(page.len()).unwrap_or(u32::MAX).max(1)
                })
                .time_to_live(config.page_ttl)
                .build()
        });
        Self {
            store: store.clone(),
            local,
            ttl: config.page_ttl,
        }
    }

    fn redis_key(&self, key: &PageKey) -> String {
        self.store
            .key("page", &format!("{}:{}:{}", key.chat, key.after, key.limit))
    }
}

#[async_trait]
impl PageCache for RedisPageCache {
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>> {
        if let Some(page) = self.local.as_ref().and_then(|l| l.get(key)) {
            return Ok(Some(page));
        }
        let commands = self.store.commands();
        let json: Option<String> = self.store.run(commands.get(self.redis_key(key))).await?;
        let Some(json) = json else {
            return Ok(None);
        };
        let page = Arc::new(from_json::<PageDto>(&json, "page")?.into_messages(key.chat)?);
        if let Some(local) = &self.local {
            local.insert(*key, Arc::clone(&page));
        }
        Ok(Some(page))
    }

    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()> {
        let json = to_json(&PageDto::from_messages(key.chat, &page))?;
        if let Some(local) = &self.local {
            local.insert(*key, page);
        }
        let commands = self.store.commands();
        self.store
            .run(commands.set::<(), _, _>(
                self.redis_key(key),
                json,
                Some(Expiration::PX(ttl_millis(self.ttl))),
                None,
                false,
            ))
            .await
    }
}

/// What a logout leaves under the session's key for a while, so that a lookup that read
/// the durable record just before the logout cannot cache the session again.
const REVOKED: &str = "revoked";

/// Writes a session unless a logout's marker is there. KEYS[1] the session; ARGV: the
/// value, the ttl in ms, the marker. Answers 1 when written.
static PUT_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
    )
});

/// Sessions by token hash, shared by every instance.
///
/// `remove` writes a short-lived marker instead of deleting, and `put` does not overwrite
/// the marker: a lookup on one instance that read the durable record just before a logout
/// on another cannot put the session back after the logout.
pub struct RedisSessionCache {
    store: RedisStore,
    marker_ttl: Duration,
}

impl RedisSessionCache {
    /// The session cache of `store`.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
            marker_ttl: store.config().revoked_marker_ttl,
        }
    }

    fn redis_key(&self, hash: &TokenHash) -> String {
        self.store.key("session", &hash.to_hex())
    }
}

#[async_trait]
impl SessionCache for RedisSessionCache {
    async fn get(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        let commands = self.store.commands();
        let json: Option<String> = self
            .store
            .run(commands.get(self.redis_key(token_hash)))
            .await?;
        match json {
            None => Ok(None),
            Some(v) if v == REVOKED => Ok(None),
            Some(v) => Ok(Some(
                from_json::<SessionDto>(&v, "session")?.into_session(*token_hash)?,
            )),
        }
    }

    async fn put(&self, session: &Session, ttl: Duration) -> PortResult<()> {
        if ttl.is_zero() {
            return Ok(());
        }
        let json = to_json(&SessionDto::from_session(session))?;
        let _written: i64 = self
            .store
            .script(
                &PUT_SESSION,
                vec![self.redis_key(&session.token_hash)],
                vec![json, ttl_millis(ttl).to_string(), REVOKED.to_owned()],
            )
            .await?;
        Ok(())
    }

    async fn remove(&self, token_hash: &TokenHash) -> PortResult<()> {
        let commands = self.store.commands();
        self.store
            .run(commands.set::<(), _, _>(
                self.redis_key(token_hash),
                REVOKED,
                Some(Expiration::PX(ttl_millis(self.marker_ttl))),
                None,
                false,
            ))
            .await
    }
}

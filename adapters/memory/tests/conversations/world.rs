//! The world the conversation tests run in: the use cases over the memory adapters with a
//! manual clock, sequential ids and a page cache that counts its hits; and helpers that
//! act as a client would.

use async_trait::async_trait;
use messenger_domain::{
    Caller, ChatId, ChatName, DisplayName, Error, IdParam, Limit, MemberId, Message, MessageText,
    Password, Timestamp, UncheckedCursor, UserName,
};
use messenger_memory::*;
use messenger_ports::{
    AppError, EventLog, Messenger, PageCache, PageKey, PortResult, Ports, Settings,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts the page cache's hits.
pub struct CountingCache {
    inner: MemoryPageCache,
    pub hits: AtomicUsize,
}

#[async_trait]
impl PageCache for CountingCache {
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>> {
        let page = self.inner.get(key).await?;
        if page.is_some() {
            self.hits.fetch_add(1, Ordering::SeqCst);
        }
        Ok(page)
    }
    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()> {
        self.inner.put(key, page).await
    }
}

pub struct World {
    pub m: Messenger,
    pub clock: Arc<ManualClock>,
    pub cache: Arc<CountingCache>,
}

pub fn world(legacy_mode: bool) -> World {
    world_with_log(legacy_mode, |store| store)
}

/// A world whose event log is `log` over the store's.
pub fn world_with_log(
    legacy_mode: bool,
    log: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn EventLog>,
) -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_700_000_000_000_000,
    )));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let (queue, _consumer) = memory_task_queue(100);
    let cache = Arc::new(CountingCache {
        inner: MemoryPageCache::new(10_000),
        hits: AtomicUsize::new(0),
    });
    let ports = Ports {
        accounts: store.clone(),
        sessions: store.clone(),
        chats: store.clone(),
        members: store.clone(),
        messages: store.clone(),
        events: log(store.clone()),
        bus: Arc::new(MemoryEventBus::new()),
        search: store.clone(),
        session_cache: Arc::new(MemorySessionCache::new(1000, clock.clone())),
        page_cache: Some(cache.clone()),
        login_attempts: Arc::new(MemoryAttempts::new(clock.clone())),
        register_limiter: Arc::new(GcraLimiter::per_minute(1000, 1000, clock.clone())),
        task_queue: Arc::new(queue),
        task_store: Arc::new(MemoryTaskStore::new(clock.clone())),
        hasher: Arc::new(PlainHasher),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
    };
    let settings = Settings {
        legacy_mode,
        ..Settings::default()
    };
    World {
        m: Messenger::new(ports, settings),
        clock,
        cache,
    }
}

pub fn domain_err<T: std::fmt::Debug>(r: Result<T, AppError>) -> Error {
    match r {
        Err(AppError::Domain(e)) => e,
        other => panic!("expected a domain error, got {other:?}"),
    }
}

impl World {
    pub async fn account(&self, name: &str) -> Caller {
        let (n, pw) = (
            UserName::parse(name).unwrap(),
            Password::parse("pw").unwrap(),
        );
        self.m.register(n.clone(), pw.clone(), "a").await.unwrap();
        let token = self.m.login(n, pw, "a").await.unwrap();
        self.m.authenticate(token.as_str()).await.unwrap()
    }

    pub async fn chat(&self, caller: &Caller, name: &str) -> ChatId {
        self.clock.advance(Duration::from_millis(1));
        let name = ChatName::parse(name).unwrap();
        self.m.create_chat(caller, name).await.unwrap()
    }

    pub async fn join(&self, caller: &Caller, chat: ChatId, name: &str) -> MemberId {
        let name = DisplayName::parse(name).unwrap();
        self.m.join_chat(caller, chat, name).await.unwrap()
    }

    pub async fn post(&self, caller: &Caller, chat: ChatId, as_: MemberId, text: &str) {
        self.clock.advance(Duration::from_millis(1));
        let text = MessageText::parse(text).unwrap();
        self.m
            .post_message(caller, chat, IdParam::Valid(as_), text, None)
            .await
            .unwrap();
    }

    pub async fn unread(&self, caller: &Caller, chat: ChatId) -> u64 {
        self.m
            .chat_summary(caller, chat)
            .await
            .unwrap()
            .unread_count()
    }

    pub async fn list(&self, caller: &Caller, limit: i64) -> Vec<ChatId> {
        let mut all = Vec::new();
        let mut from = None;
        loop {
            let page = self
                .m
                .list_chats(caller, from, Limit::chats(limit).unwrap())
                .await
                .unwrap();
            if page.chats.is_empty() {
                return all;
            }
            all.extend(page.chats.iter().map(|c| c.chat.id));
            from = Some(UncheckedCursor::parse(&page.next.encode()));
        }
    }
}

//! The access check of the hot path without a store round trip.
//!
//! Every page read first asks whether the caller may read the chat; over PostgreSQL that
//! was one round trip per read even when the page itself came from the page cache. This
//! decorator keeps the *positive* answers of [`Members::chat_access`] ("this account takes
//! part in this chat") in process for [`ACCESS_TTL`]:
//!
//! - A negative answer is never kept, so a join is seen at once on every instance.
//! - A leave or removal served by this instance drops the chat's kept answers before it
//!   returns, so this instance refuses the next read at once. An answer read from the
//!   store while a leave was under way is not kept (an epoch counts the leaves).
//! - Another instance may still let the account read for at most [`ACCESS_TTL`] after the
//!   leave (the same bound as its session cache without Redis). Posting is not affected:
//!   it checks the member itself in the store. The event stream stops the chat's events
//!   at once on every instance (it follows membership events in the log).
//! - [`Members::chat_access_and_end`] (which also reads the chat's last message, for the
//!   newest page) always asks the store.

use async_trait::async_trait;
use messenger_domain::{AccountId, ChatId, Member, MemberId};
use messenger_ports::{ChatAccess, Members, MembersPage, PortResult, ReadUpdate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a positive access answer is kept.
pub const ACCESS_TTL: Duration = Duration::from_secs(1);

/// Kept answers at most; past it the oldest half is dropped.
const CAPACITY: usize = 100_000;

/// [`Members`] with positive access answers kept in process (see the module doc).
pub struct CachedAccess {
    inner: Arc<dyn Members>,
    kept: Mutex<HashMap<(ChatId, AccountId), Instant>>,
    leaves: AtomicU64,
    ttl: Duration,
}

/// Wraps `inner`.
pub fn cached_access(inner: Arc<dyn Members>) -> Arc<dyn Members> {
    Arc::new(CachedAccess::new(inner, ACCESS_TTL))
}

impl CachedAccess {
    /// Keeps positive answers for `ttl`.
    pub fn new(inner: Arc<dyn Members>, ttl: Duration) -> Self {
        Self {
            inner,
            kept: Mutex::new(HashMap::new()),
            leaves: AtomicU64::new(0),
            ttl,
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<(ChatId, AccountId), Instant>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self, key: (ChatId, AccountId)) -> bool {
        self.kept()
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Keeps a positive answer read when the leave counter was `epoch`, unless a leave
    /// happened since.
    fn keep(&self, key: (ChatId, AccountId), access: ChatAccess, epoch: u64) {
        if access != ChatAccess::Participant {
            return;
        }
        let mut kept = self.kept();
        if self.leaves.load(Ordering::SeqCst) != epoch {
            return;
        }
        if kept.len() >= CAPACITY {
            let now = Instant::now();
            kept.retain(|_, until| *until > now);
            if kept.len() >= CAPACITY {
                kept.clear();
            }
        }
        kept.insert(key, Instant::now() + self.ttl);
    }

    fn forget_chat(&self, chat: ChatId) {
        let mut kept = self.kept();
        self.leaves.fetch_add(1, Ordering::SeqCst);
        kept.retain(|(c, _), _| *c != chat);
    }
}

#[async_trait]
impl Members for CachedAccess {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        self.inner.join(member, reuse).await
    }

    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        self.inner.member(chat, id).await
    }

    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        let key = (chat, account);
        if self.fresh(key) {
            return Ok(ChatAccess::Participant);
        }
        let epoch = self.leaves.load(Ordering::SeqCst);
        let access = self.inner.chat_access(chat, account).await?;
        self.keep(key, access, epoch);
        Ok(access)
    }

    async fn chat_access_and_end(
        &self,
        chat: ChatId,
        account: AccountId,
    ) -> PortResult<(ChatAccess, Option<u64>)> {
        let epoch = self.leaves.load(Ordering::SeqCst);
        let (access, end) = self.inner.chat_access_and_end(chat, account).await?;
        self.keep((chat, account), access, epoch);
        Ok((access, end))
    }

    async fn leave(&self, chat: ChatId, member: MemberId, bar_account: bool) -> PortResult<()> {
        // Before and after: no answer read before the leave committed outlives it here.
        self.forget_chat(chat);
        let left = self.inner.leave(chat, member, bar_account).await;
        self.forget_chat(chat);
        left
    }

    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage> {
        self.inner.members_page(chat, after, limit).await
    }

    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate> {
        self.inner.mark_read(chat, account, upto).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::{Chat, Timestamp};
    use messenger_memory::{MemoryStore, SystemClock};
    use messenger_ports::Chats;

    fn member(chat: ChatId, account: AccountId, id: u128) -> Member {
        Member {
            id: MemberId::from_u128(id),
            chat_id: chat,
            account_id: account,
            name: format!("m{id}"),
            joined_at: Timestamp::from_micros(1),
        }
    }

    #[tokio::test]
    async fn positive_answers_are_kept_negative_ones_never_and_a_local_leave_drops_them() {
        let store = Arc::new(MemoryStore::new(Arc::new(SystemClock)));
        let creator = AccountId::from_u128(1);
        let guest = AccountId::from_u128(2);
        let chat = ChatId::from_u128(10);
        store
            .insert_chat(&Chat {
                id: chat,
                name: "c".into(),
                creator,
                created_at: Timestamp::from_micros(1),
            })
            .await
            .unwrap();
        // Two instances over one store, each with its own cache.
        let here = CachedAccess::new(store.clone(), Duration::from_millis(300));
        let there = CachedAccess::new(store.clone(), Duration::from_millis(300));

        assert_eq!(
            here.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Outsider
        );
        let joined = here.join(&member(chat, guest, 100), true).await.unwrap();
        assert_eq!(
            there.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Participant,
            "an outsider's answer is never kept: a join is seen at once everywhere"
        );
        assert_eq!(
            here.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Participant
        );

        here.leave(chat, joined.id, false).await.unwrap();
        assert_eq!(
            here.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Outsider,
            "the instance that served the leave refuses at once"
        );
        assert_eq!(
            there.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Participant,
            "another instance may answer from its cache for the TTL"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            there.chat_access(chat, guest).await.unwrap(),
            ChatAccess::Outsider,
            "and refuses once it has passed"
        );
    }
}

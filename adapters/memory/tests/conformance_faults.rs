//! The conformance suites must not pass a broken adapter: each test here wraps a memory
//! adapter with one deliberate fault and expects the suite to fail, with a message naming
//! the broken rule.

use async_trait::async_trait;
use messenger_domain::{
    Account, AccountId, ChatId, Member, MemberId, Message, SearchHit, SearchQuery, SearchTask,
    Session, SessionPublicId, TaskId, TaskStatus, Timestamp, TokenHash,
};
use messenger_memory::{
    memory_task_queue, GcraLimiter, ManualClock, MemoryAttempts, MemoryPageCache,
    MemorySessionCache, MemoryStore, MemoryTaskConsumer, MemoryTaskStore,
};
use messenger_ports::testing::{self, TimeTravel};
use messenger_ports::{
    Accounts, AppendOutcome, AttemptCounter, ChatAccess, Delivery, FailureWindow, HitsSlice,
    Members, MembersPage, MessagePage, MessageSearch, Messages, NewMessage, PageCache, PageKey,
    PortError, PortResult, RateDecision, RateLimiter, ReadUpdate, SearchScope, SessionCache,
    Sessions, TaskConsumer, TaskStore,
};
use std::sync::Arc;
use std::time::Duration;

const START: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

fn manual_time() -> (Arc<ManualClock>, TimeTravel) {
    let clock = Arc::new(ManualClock::new(START));
    let handle = Arc::clone(&clock);
    (clock, TimeTravel::instant(move |d| handle.advance(d)))
}

fn store() -> (Arc<ManualClock>, MemoryStore) {
    let clock = Arc::new(ManualClock::new(START));
    (Arc::clone(&clock), MemoryStore::new(clock))
}

// --- accounts -------------------------------------------------------------------------

/// Lowercases names on insert: names are no longer exact.
struct LowercasingAccounts(MemoryStore);

#[async_trait]
impl Accounts for LowercasingAccounts {
    async fn insert_account(&self, account: &Account) -> PortResult<()> {
        let mut a = account.clone();
        a.name = a.name.to_lowercase();
        self.0.insert_account(&a).await
    }
    async fn account_by_name(&self, name: &str) -> PortResult<Option<Account>> {
        self.0.account_by_name(&name.to_lowercase()).await
    }
    async fn account_by_id(&self, id: AccountId) -> PortResult<Option<Account>> {
        self.0.account_by_id(id).await
    }
    async fn set_password_hash(&self, id: AccountId, hash: &str) -> PortResult<()> {
        self.0.set_password_hash(id, hash).await
    }
}

#[tokio::test]
#[should_panic(expected = "insert_account")]
async fn accounts_suite_catches_case_folded_names() {
    testing::accounts_suite(&LowercasingAccounts(store().1)).await;
}

/// Answers a duplicate with Ok instead of Conflict.
struct SilentDuplicates(MemoryStore);

#[async_trait]
impl Accounts for SilentDuplicates {
    async fn insert_account(&self, account: &Account) -> PortResult<()> {
        match self.0.insert_account(account).await {
            Err(PortError::Conflict) => Ok(()),
            other => other,
        }
    }
    async fn account_by_name(&self, name: &str) -> PortResult<Option<Account>> {
        self.0.account_by_name(name).await
    }
    async fn account_by_id(&self, id: AccountId) -> PortResult<Option<Account>> {
        self.0.account_by_id(id).await
    }
    async fn set_password_hash(&self, id: AccountId, hash: &str) -> PortResult<()> {
        self.0.set_password_hash(id, hash).await
    }
}

#[tokio::test]
#[should_panic(expected = "must be a Conflict")]
async fn accounts_suite_catches_a_silent_duplicate() {
    testing::accounts_suite(&SilentDuplicates(store().1)).await;
}

// --- sessions -------------------------------------------------------------------------

/// Revoking twice answers false; purging also deletes sessions expiring at the cutoff.
struct SloppySessions {
    store: MemoryStore,
    idempotent_revoke: bool,
}

#[async_trait]
impl Sessions for SloppySessions {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        self.store.insert_session(session).await
    }
    async fn session(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        self.store.session(token_hash).await
    }
    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool> {
        let before = self.store.session(token_hash).await?;
        let done = self.store.revoke_session(token_hash).await?;
        Ok(done && (self.idempotent_revoke || !before.is_some_and(|s| s.revoked)))
    }
    async fn session_by_public_id(&self, id: SessionPublicId) -> PortResult<Option<Session>> {
        self.store.session_by_public_id(id).await
    }
    async fn live_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<Session>> {
        self.store.live_sessions(account, now, limit).await
    }
    async fn revoke_account_sessions(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> PortResult<Vec<TokenHash>> {
        self.store.revoke_account_sessions(account, keep).await
    }
    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        let at = if self.idempotent_revoke {
            Timestamp::from_micros(expired_before.as_micros() + 1)
        } else {
            expired_before
        };
        self.store.purge_sessions(at).await
    }
}

/// One fault in the sessions' account-wide calls.
#[derive(Clone, Copy)]
enum AccountWideFault {
    /// The live list comes oldest first.
    OldestFirst,
    /// Revoking an account's sessions ends the kept one too.
    IgnoresKept,
}

struct AccountWideSessions {
    store: MemoryStore,
    fault: AccountWideFault,
}

#[async_trait]
impl Sessions for AccountWideSessions {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        self.store.insert_session(session).await
    }
    async fn session(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        self.store.session(token_hash).await
    }
    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool> {
        self.store.revoke_session(token_hash).await
    }
    async fn session_by_public_id(&self, id: SessionPublicId) -> PortResult<Option<Session>> {
        self.store.session_by_public_id(id).await
    }
    async fn live_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<Session>> {
        let mut live = self.store.live_sessions(account, now, limit).await?;
        if matches!(self.fault, AccountWideFault::OldestFirst) {
            live.reverse();
        }
        Ok(live)
    }
    async fn revoke_account_sessions(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> PortResult<Vec<TokenHash>> {
        let keep = match self.fault {
            AccountWideFault::IgnoresKept => None,
            AccountWideFault::OldestFirst => keep,
        };
        self.store.revoke_account_sessions(account, keep).await
    }
    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        self.store.purge_sessions(expired_before).await
    }
}

#[tokio::test]
#[should_panic(expected = "newest first")]
async fn sessions_suite_catches_a_list_in_the_wrong_order() {
    let sessions = AccountWideSessions {
        store: store().1,
        fault: AccountWideFault::OldestFirst,
    };
    testing::sessions_suite(&sessions.store, &sessions).await;
}

#[tokio::test]
#[should_panic(expected = "except the kept one")]
async fn sessions_suite_catches_a_revocation_that_ends_the_kept_session() {
    let sessions = AccountWideSessions {
        store: store().1,
        fault: AccountWideFault::IgnoresKept,
    };
    testing::sessions_suite(&sessions.store, &sessions).await;
}

#[tokio::test]
#[should_panic(expected = "answer true again")]
async fn sessions_suite_catches_a_non_idempotent_revoke() {
    let (_, s) = store();
    let sessions = SloppySessions {
        store: s,
        idempotent_revoke: false,
    };
    testing::sessions_suite(&sessions.store, &sessions).await;
}

#[tokio::test]
#[should_panic(expected = "must survive purge_sessions")]
async fn sessions_suite_catches_an_inclusive_purge() {
    let (_, s) = store();
    let sessions = SloppySessions {
        store: s,
        idempotent_revoke: true,
    };
    testing::sessions_suite(&sessions.store, &sessions).await;
}

// --- members --------------------------------------------------------------------------

/// Never reuses a member.
struct NoReuse(MemoryStore);

#[async_trait]
impl Members for NoReuse {
    async fn join(&self, member: &Member, _reuse: bool) -> PortResult<Member> {
        self.0.join(member, false).await
    }
    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        self.0.member(chat, id).await
    }
    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        self.0.chat_access(chat, account).await
    }
    async fn leave(&self, chat: ChatId, member: MemberId, bar: bool) -> PortResult<()> {
        self.0.leave(chat, member, bar).await
    }
    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage> {
        self.0.members_page(chat, after, limit).await
    }
    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate> {
        self.0.mark_read(chat, account, upto).await
    }
}

#[tokio::test]
#[should_panic(expected = "must return the first member")]
async fn chats_suite_catches_a_join_that_never_reuses() {
    let (_, s) = store();
    let members = NoReuse(s);
    testing::chats_suite(&members.0, &members.0, &members).await;
}

// --- read markers ---------------------------------------------------------------------

/// Answers a read marker at whatever position was asked, even an earlier one.
struct BackwardsMarkers(MemoryStore);

#[async_trait]
impl Members for BackwardsMarkers {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        self.0.join(member, reuse).await
    }
    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        self.0.member(chat, id).await
    }
    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        self.0.chat_access(chat, account).await
    }
    async fn leave(&self, chat: ChatId, member: MemberId, bar: bool) -> PortResult<()> {
        self.0.leave(chat, member, bar).await
    }
    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage> {
        self.0.members_page(chat, after, limit).await
    }
    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate> {
        Ok(match self.0.mark_read(chat, account, upto).await? {
            ReadUpdate::Marked { last_seq, .. } => ReadUpdate::Marked {
                read_seq: upto,
                last_seq,
            },
            other => other,
        })
    }
}

#[tokio::test]
#[should_panic(expected = "never moves the marker back")]
async fn conversations_suite_catches_a_marker_moving_back() {
    let (_, s) = store();
    let members = BackwardsMarkers(s);
    testing::conversations_suite(&members.0, &members.0, &members, &members.0).await;
}

// --- messages -------------------------------------------------------------------------

/// Pages of at most 10 messages, and idempotency keys that ignore their scope.
struct SloppyMessages {
    store: MemoryStore,
    short_pages: bool,
}

#[async_trait]
impl Messages for SloppyMessages {
    async fn append(&self, mut message: NewMessage) -> PortResult<AppendOutcome> {
        if !self.short_pages {
            if let Some(rec) = &mut message.idempotency {
                rec.scope.clear();
            }
        }
        self.store.append(message).await
    }
    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage> {
        let limit = if self.short_pages {
            limit.min(10)
        } else {
            limit
        };
        self.store.page_after(chat, after, limit).await
    }
    async fn page_before(
        &self,
        chat: ChatId,
        before: Option<u64>,
        limit: u32,
    ) -> PortResult<MessagePage> {
        self.store.page_before(chat, before, limit).await
    }
    async fn purge_idempotency_keys(&self, before: Timestamp) -> PortResult<u64> {
        self.store.purge_idempotency_keys(before).await
    }
}

#[tokio::test]
#[should_panic(expected = "of 23 messages must hold")]
async fn messages_suite_catches_short_pages() {
    let (clock, s) = store();
    let m = SloppyMessages {
        store: s,
        short_pages: true,
    };
    testing::messages_suite(&m.store, &m.store, &m.store, &m, &*clock).await;
}

#[tokio::test]
#[should_panic(expected = "append with the same key in another scope")]
async fn messages_suite_catches_keys_without_scope() {
    let (clock, s) = store();
    let m = SloppyMessages {
        store: s,
        short_pages: false,
    };
    testing::messages_suite(&m.store, &m.store, &m.store, &m, &*clock).await;
}

// --- search ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum SearchFault {
    IgnoresCap,
    TiesByInsertion,
    ScopeIsEverything,
}

struct SloppySearch(MemoryStore, SearchFault);

#[async_trait]
impl MessageSearch for SloppySearch {
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>> {
        match self.1 {
            SearchFault::IgnoresCap => self.0.search(scope, query, 1000).await,
            SearchFault::ScopeIsEverything => {
                self.0.search(SearchScope::AllChats, query, cap).await
            }
            SearchFault::TiesByInsertion => {
                // Equal times ordered by ascending id instead of descending.
                let mut hits = self.0.search(scope, query, cap).await?;
                hits.sort_by(|a, b| {
                    b.created_at
                        .cmp(&a.created_at)
                        .then(a.message_id.cmp(&b.message_id))
                });
                Ok(hits)
            }
        }
    }
}

async fn search_with(fault: SearchFault) {
    let (_, s) = store();
    let search = SloppySearch(s, fault);
    let st = &search.0;
    testing::search_suite(st, st, st, st, &search).await;
}

#[tokio::test]
#[should_panic(expected = "wrong hits")]
async fn search_suite_catches_an_ignored_cap() {
    search_with(SearchFault::IgnoresCap).await;
}

#[tokio::test]
#[should_panic(expected = "wrong hits")]
async fn search_suite_catches_ties_in_the_wrong_order() {
    search_with(SearchFault::TiesByInsertion).await;
}

#[tokio::test]
#[should_panic(expected = "wrong hits")]
async fn search_suite_catches_a_scope_covering_every_chat() {
    search_with(SearchFault::ScopeIsEverything).await;
}

// --- caches ---------------------------------------------------------------------------

/// Caches every session for an hour, whatever the ttl.
struct TtlIgnoringCache(MemorySessionCache);

#[async_trait]
impl SessionCache for TtlIgnoringCache {
    async fn get(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        self.0.get(token_hash).await
    }
    async fn put(&self, session: &Session, _ttl: Duration) -> PortResult<()> {
        self.0.put(session, Duration::from_secs(3600)).await
    }
    async fn remove(&self, token_hash: &TokenHash) -> PortResult<()> {
        self.0.remove(token_hash).await
    }
}

#[tokio::test]
#[should_panic(expected = "must be gone 400 ms after a put")]
async fn session_cache_suite_catches_an_ignored_ttl() {
    let (clock, time) = manual_time();
    let cache = TtlIgnoringCache(MemorySessionCache::new(1000, clock));
    testing::session_cache_suite(&cache, &time).await;
}

/// Keys pages by chat and position only.
struct LimitBlindPages(MemoryPageCache);

#[async_trait]
impl PageCache for LimitBlindPages {
    async fn get(&self, key: &PageKey) -> PortResult<Option<Arc<Vec<Message>>>> {
        self.0.get(&PageKey { limit: 0, ..*key }).await
    }
    async fn put(&self, key: &PageKey, page: Arc<Vec<Message>>) -> PortResult<()> {
        self.0.put(&PageKey { limit: 0, ..*key }, page).await
    }
}

#[tokio::test]
#[should_panic(expected = "must not find the page")]
async fn page_cache_suite_catches_keys_that_ignore_the_limit() {
    testing::page_cache_suite(&LimitBlindPages(MemoryPageCache::new(10_000))).await;
}

// --- limits ---------------------------------------------------------------------------

/// Reports twice the real retry time.
struct Pessimist(GcraLimiter);

#[async_trait]
impl RateLimiter for Pessimist {
    async fn check(&self, key: &str) -> PortResult<RateDecision> {
        Ok(match self.0.check(key).await? {
            RateDecision::Limited { retry_after } => RateDecision::Limited {
                retry_after: retry_after * 2,
            },
            allowed => allowed,
        })
    }
}

#[tokio::test]
#[should_panic(expected = "retry_after right after a burst")]
async fn rate_limiter_suite_catches_an_inflated_retry_after() {
    let (clock, time) = manual_time();
    let limiter = Pessimist(GcraLimiter::new(5, 10, clock));
    testing::rate_limiter_suite(&limiter, 5, 10, &time).await;
}

#[tokio::test]
#[should_panic(expected = "on a fresh key must be allowed")]
async fn rate_limiter_suite_catches_a_wrong_burst() {
    let (clock, time) = manual_time();
    let limiter = GcraLimiter::new(5, 9, clock);
    testing::rate_limiter_suite(&limiter, 5, 10, &time).await;
}

/// Forgets nothing on reset.
struct UnresettableAttempts(MemoryAttempts);

#[async_trait]
impl AttemptCounter for UnresettableAttempts {
    async fn failures(&self, key: &str) -> PortResult<FailureWindow> {
        self.0.failures(key).await
    }
    async fn record_failure(&self, key: &str, window: Duration) -> PortResult<u64> {
        self.0.record_failure(key, window).await
    }
    async fn reset(&self, _key: &str) -> PortResult<()> {
        Ok(())
    }
}

#[tokio::test]
#[should_panic(expected = "after reset")]
async fn attempts_suite_catches_a_reset_that_forgets_nothing() {
    let (clock, time) = manual_time();
    testing::attempts_suite(&UnresettableAttempts(MemoryAttempts::new(clock)), &time).await;
}

// --- tasks ----------------------------------------------------------------------------

/// Pages of hits always start at the first hit.
struct OffsetBlindTasks(MemoryTaskStore);

#[async_trait]
impl TaskStore for OffsetBlindTasks {
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()> {
        self.0.insert_task(task, ttl).await
    }
    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>> {
        self.0.task(id).await
    }
    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool> {
        self.0.set_status(id, status, ttl).await
    }
    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool> {
        self.0.complete(id, hits, ttl).await
    }
    async fn hits(&self, id: TaskId, _offset: u64, limit: u32) -> PortResult<Option<HitsSlice>> {
        self.0.hits(id, 0, limit).await
    }
    async fn delete_task(&self, id: TaskId) -> PortResult<()> {
        self.0.delete_task(id).await
    }
}

#[tokio::test]
#[should_panic(expected = "must be that slice")]
async fn task_store_suite_catches_an_ignored_offset() {
    let (clock, time) = manual_time();
    testing::task_store_suite(&OffsetBlindTasks(MemoryTaskStore::new(clock)), &time).await;
}

/// Deliveries that always say attempt 1, or whose ack hands the message back.
struct SloppyConsumer {
    inner: MemoryTaskConsumer,
    ack_requeues: bool,
}

struct SloppyDelivery {
    inner: Box<dyn Delivery>,
    ack_requeues: bool,
}

#[async_trait]
impl Delivery for SloppyDelivery {
    fn payload(&self) -> &[u8] {
        self.inner.payload()
    }
    fn attempt(&self) -> u32 {
        if self.ack_requeues {
            self.inner.attempt()
        } else {
            1
        }
    }
    async fn ack(self: Box<Self>) -> PortResult<()> {
        if self.ack_requeues {
            self.inner.retry().await
        } else {
            self.inner.ack().await
        }
    }
    async fn retry(self: Box<Self>) -> PortResult<()> {
        self.inner.retry().await
    }
    async fn dead_letter(self: Box<Self>) -> PortResult<()> {
        self.inner.dead_letter().await
    }
}

#[async_trait]
impl TaskConsumer for SloppyConsumer {
    async fn next(&self) -> PortResult<Option<Box<dyn Delivery>>> {
        let ack_requeues = self.ack_requeues;
        Ok(self.inner.next().await?.map(|inner| {
            Box::new(SloppyDelivery {
                inner,
                ack_requeues,
            }) as Box<dyn Delivery>
        }))
    }
}

#[tokio::test]
#[should_panic(expected = "expected no delivery")]
async fn task_queue_suite_catches_an_ack_that_requeues() {
    let (queue, inner) = memory_task_queue(100);
    let consumer = SloppyConsumer {
        inner,
        ack_requeues: true,
    };
    testing::task_queue_suite(&queue, &consumer, &TimeTravel::instant(|_| ())).await;
}

#[tokio::test]
#[should_panic(expected = "wrong attempt number")]
async fn task_queue_suite_catches_attempts_that_never_count() {
    let (queue, inner) = memory_task_queue(100);
    let consumer = SloppyConsumer {
        inner,
        ack_requeues: false,
    };
    testing::task_queue_suite(&queue, &consumer, &TimeTravel::instant(|_| ())).await;
}

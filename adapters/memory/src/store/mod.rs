//! The in-memory repositories. One lock per chat, so posts to different chats do not
//! contend; a message's sequence number is its index in the chat's vector plus one, which
//! makes the order total, gap-free and the paging exact.
//!
//! Each chat keeps, beside its messages, what the chat list needs without counting: its
//! current members in joining order and, per account, the read marker and the account's
//! current identities. Every change runs under the chat's lock, records its event in the
//! event log as its last step and keeps the account → chats index (the list and search
//! scope) in step.
//!
//! Layout: this file (state, accounts, sessions), `chats` (chats, members, read markers,
//! the chat list), `messages` (append, paging both ways, search), `events` (the event
//! log).

mod chats;
mod events;
mod messages;
mod texts;

use crate::search_index::SearchIndex;
use async_trait::async_trait;
use events::EventLogState;
use messenger_domain::{
    Account, AccountId, Chat, ChatId, ChatSummary, Member, MemberId, Message, MessageId,
    MessagePreview, Session, SessionPublicId, Timestamp, TokenHash,
};
use messenger_ports::{Accounts, ChatViewer, Clock, PortError, PortResult, Sessions};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use texts::{TextRef, Texts};

/// A stored message, compact (64 bytes): the chat and sequence number are implied by its
/// place, the poster's name is its member's (members stay when they leave, and their names
/// never change), and the text lies in the chat's [`Texts`].
struct StoredMessage {
    id: MessageId,
    user_id: MemberId,
    text: TextRef,
    created_at: Timestamp,
}

struct IdempotencyEntry {
    fingerprint: [u8; 32],
    message_id: MessageId,
    created_at: Timestamp,
}

/// A member, current or not (members that left stay: their messages refer to them).
struct MemberState {
    member: Member,
    join_seq: u64,
    current: bool,
}

/// An account's state in one chat.
#[derive(Default)]
struct Reader {
    /// The read marker: the last message read.
    read_seq: u64,
    /// Its current identities, by join number.
    mine: BTreeMap<u64, MemberId>,
    /// Removed by the creator: may not join again.
    barred: bool,
}

struct ChatState {
    chat: Chat,
    members: HashMap<MemberId, MemberState>,
    /// (account, display name) → its current member of that name, for joins that reuse.
    by_name: HashMap<(AccountId, String), MemberId>,
    /// Current members by join number.
    order: BTreeMap<u64, MemberId>,
    /// The last join number given.
    member_seq: u64,
    readers: HashMap<AccountId, Reader>,
    messages: Vec<StoredMessage>,
    /// The messages' texts.
    texts: Texts,
    /// (scope, key) → the first message stored with that key.
    keys: HashMap<(String, String), IdempotencyEntry>,
}

impl ChatState {
    fn new(chat: Chat) -> Self {
        let mut readers = HashMap::new();
        readers.insert(chat.creator, Reader::default());
        Self {
            chat,
            members: HashMap::new(),
            by_name: HashMap::new(),
            order: BTreeMap::new(),
            member_seq: 0,
            readers,
            messages: Vec::new(),
            texts: Texts::default(),
            keys: HashMap::new(),
        }
    }

    fn last_created_at(&self) -> Option<Timestamp> {
        self.messages.last().map(|m| m.created_at)
    }

    fn last_seq(&self) -> u64 {
        self.messages.len() as u64
    }

    /// The last message's time, else the chat's creation.
    fn activity(&self) -> Timestamp {
        self.last_created_at().unwrap_or(self.chat.created_at)
    }

    /// Whether `account` created the chat or has a current identity in it.
    fn takes_part(&self, account: AccountId) -> bool {
        self.chat.creator == account
            || self
                .readers
                .get(&account)
                .is_some_and(|r| !r.mine.is_empty())
    }

    fn message(&self, index: usize) -> Option<Message> {
        self.messages.get(index).map(|m| Message {
            id: m.id,
            chat_id: self.chat.id,
            seq: index as u64 + 1,
            user_id: m.user_id,
            user_name: self.name_of(m.user_id).to_owned(),
            text: self.texts.get(m.text).to_owned(),
            created_at: m.created_at,
        })
    }

    /// The display name of member `id` (empty for an unknown one, which no stored message
    /// has).
    fn name_of(&self, id: MemberId) -> &str {
        self.members.get(&id).map_or("", |s| s.member.name.as_str())
    }

    fn summary(&self, viewer: ChatViewer) -> ChatSummary {
        let reader = self.readers.get(&viewer.account);
        let my_users = reader
            .map(|r| {
                r.mine
                    .values()
                    .filter_map(|id| self.members.get(id).map(|m| m.member.clone()))
                    .collect()
            })
            .unwrap_or_default();
        ChatSummary {
            chat: self.chat.clone(),
            activity: self.activity(),
            is_creator: viewer.every_chat || self.chat.creator == viewer.account,
            my_users,
            member_count: self.order.len() as u64,
            last_message: self
                .messages
                .len()
                .checked_sub(1)
                .and_then(|i| self.message(i))
                .map(MessagePreview::of),
            read_seq: reader.map_or(0, |r| r.read_seq),
            last_seq: self.last_seq(),
        }
    }
}

type ChatCell = Arc<RwLock<ChatState>>;

/// Every repository port, in memory.
pub struct MemoryStore {
    accounts: Mutex<HashMap<String, Account>>,
    sessions: Mutex<HashMap<TokenHash, Session>>,
    chats: RwLock<HashMap<ChatId, ChatCell>>,
    /// account → chats it created or has a current identity in (the list and search
    /// scope). Updated under the chat's lock; never held while taking a chat's lock.
    participation: RwLock<HashMap<AccountId, HashSet<ChatId>>>,
    /// Every message's words, for search.
    index: RwLock<SearchIndex>,
    /// The event log: appended by every change, under the changed chat's lock.
    events: Mutex<EventLogState>,
    clock: Arc<dyn Clock>,
}

// A poisoned lock means a panic while holding it; the data itself is still consistent
// (every mutation here is a single push/insert), so keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store. `clock` stamps idempotency keys for purging.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            accounts: Mutex::default(),
            sessions: Mutex::default(),
            chats: RwLock::default(),
            participation: RwLock::default(),
            index: RwLock::default(),
            events: Mutex::default(),
            clock,
        }
    }

    fn chat_cell(&self, id: ChatId) -> Option<ChatCell> {
        read(&self.chats).get(&id).cloned()
    }

    /// Records whether `account` takes part in `chat` now (call under the chat's lock).
    fn set_participation(&self, account: AccountId, chat: ChatId, takes_part: bool) {
        let mut index = write(&self.participation);
        if takes_part {
            index.entry(account).or_default().insert(chat);
        } else if let Some(chats) = index.get_mut(&account) {
            chats.remove(&chat);
        }
    }
}

#[async_trait]
impl Accounts for MemoryStore {
    async fn insert_account(&self, account: &Account) -> PortResult<()> {
        let mut accounts = lock(&self.accounts);
        if accounts.contains_key(&account.name) {
            return Err(PortError::Conflict);
        }
        accounts.insert(account.name.clone(), account.clone());
        Ok(())
    }

    async fn account_by_name(&self, name: &str) -> PortResult<Option<Account>> {
        Ok(lock(&self.accounts).get(name).cloned())
    }

    async fn account_by_id(&self, id: AccountId) -> PortResult<Option<Account>> {
        Ok(lock(&self.accounts).values().find(|a| a.id == id).cloned())
    }

    async fn set_password_hash(&self, id: AccountId, password_hash: &str) -> PortResult<()> {
        let mut accounts = lock(&self.accounts);
        let account = accounts
            .values_mut()
            .find(|a| a.id == id)
            .ok_or(PortError::NotFound)?;
        password_hash.clone_into(&mut account.password_hash);
        Ok(())
    }
}

#[async_trait]
impl Sessions for MemoryStore {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        let mut sessions = lock(&self.sessions);
        if sessions.contains_key(&session.token_hash) {
            return Err(PortError::Conflict);
        }
        sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> PortResult<Option<Session>> {
        Ok(lock(&self.sessions).get(token_hash).cloned())
    }

    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool> {
        Ok(match lock(&self.sessions).get_mut(token_hash) {
            Some(s) => {
                s.revoked = true;
                true
            }
            None => false,
        })
    }

    async fn session_by_public_id(&self, id: SessionPublicId) -> PortResult<Option<Session>> {
        Ok(lock(&self.sessions)
            .values()
            .find(|s| s.public_id() == id)
            .cloned())
    }

    async fn live_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<Session>> {
        let mut live: Vec<Session> = lock(&self.sessions)
            .values()
            .filter(|s| s.account_id == account && !s.revoked && s.expires_at > now)
            .cloned()
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.token_hash.0)));
        live.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(live)
    }

    async fn revoke_account_sessions(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> PortResult<Vec<TokenHash>> {
        let mut ended = Vec::new();
        for s in lock(&self.sessions).values_mut() {
            if s.account_id == account && !s.revoked && Some(&s.token_hash) != keep {
                s.revoked = true;
                ended.push(s.token_hash);
            }
        }
        Ok(ended)
    }

    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| s.expires_at >= expired_before);
        Ok((before - sessions.len()) as u64)
    }
}

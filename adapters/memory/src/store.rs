//! The in-memory repositories. One lock per chat, so posts to different chats do not
//! contend; a message's sequence number is its index in the chat's vector plus one, which
//! makes the order total, gap-free and the paging exact.

use crate::search_index::SearchIndex;
use async_trait::async_trait;
use messenger_domain::{
    tokenize, Account, AccountId, Chat, ChatId, Member, MemberId, Message, MessageId, SearchHit,
    SearchQuery, Session, Timestamp, TokenHash,
};
use messenger_ports::{
    Accounts, AppendOutcome, ChatAccess, Chats, Clock, Members, MessagePage, MessageSearch,
    Messages, NewMessage, PortError, PortResult, SearchScope, Sessions,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A stored message, compact: the chat and sequence number are implied by its place.
struct StoredMessage {
    id: MessageId,
    user_id: MemberId,
    user_name: Arc<str>,
    text: Box<str>,
    created_at: Timestamp,
}

struct IdempotencyEntry {
    fingerprint: [u8; 32],
    message_id: MessageId,
    created_at: Timestamp,
}

struct ChatState {
    chat: Chat,
    members: HashMap<MemberId, Member>,
    /// (account, display name) → member, for joins that reuse.
    by_name: HashMap<(AccountId, String), MemberId>,
    /// Accounts with at least one member here.
    joined: HashSet<AccountId>,
    messages: Vec<StoredMessage>,
    /// Display names shared by every message of a member (saves memory per message).
    names: HashMap<MemberId, Arc<str>>,
    /// (scope, key) → the first message stored with that key.
    keys: HashMap<(String, String), IdempotencyEntry>,
}

impl ChatState {
    fn last_created_at(&self) -> Option<Timestamp> {
        self.messages.last().map(|m| m.created_at)
    }

    fn message(&self, index: usize) -> Option<Message> {
        self.messages.get(index).map(|m| Message {
            id: m.id,
            chat_id: self.chat.id,
            seq: index as u64 + 1,
            user_id: m.user_id,
            user_name: m.user_name.to_string(),
            text: m.text.to_string(),
            created_at: m.created_at,
        })
    }
}

type ChatCell = Arc<RwLock<ChatState>>;

/// Every repository port, in memory.
pub struct MemoryStore {
    accounts: Mutex<HashMap<String, Account>>,
    sessions: Mutex<HashMap<TokenHash, Session>>,
    chats: RwLock<HashMap<ChatId, ChatCell>>,
    /// account → chats it created or joined (the search scope).
    participation: RwLock<HashMap<AccountId, HashSet<ChatId>>>,
    /// Every message's words, for search.
    index: RwLock<SearchIndex>,
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
            clock,
        }
    }

    fn chat_cell(&self, id: ChatId) -> Option<ChatCell> {
        read(&self.chats).get(&id).cloned()
    }

    fn participate(&self, account: AccountId, chat: ChatId) {
        write(&self.participation)
            .entry(account)
            .or_default()
            .insert(chat);
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

    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| s.expires_at >= expired_before);
        Ok((before - sessions.len()) as u64)
    }
}

#[async_trait]
impl Chats for MemoryStore {
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()> {
        {
            let mut chats = write(&self.chats);
            if chats.contains_key(&chat.id) {
                return Err(PortError::Conflict);
            }
            let state = ChatState {
                chat: chat.clone(),
                members: HashMap::new(),
                by_name: HashMap::new(),
                joined: HashSet::new(),
                messages: Vec::new(),
                names: HashMap::new(),
                keys: HashMap::new(),
            };
            chats.insert(chat.id, Arc::new(RwLock::new(state)));
        }
        self.participate(chat.creator, chat.id);
        Ok(())
    }

    async fn chat(&self, id: ChatId) -> PortResult<Option<Chat>> {
        Ok(self.chat_cell(id).map(|c| read(&c).chat.clone()))
    }
}

#[async_trait]
impl Members for MemoryStore {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        let cell = self.chat_cell(member.chat_id).ok_or(PortError::NotFound)?;
        let stored = {
            let mut chat = write(&cell);
            let name_key = (member.account_id, member.name.clone());
            let existing = if reuse {
                chat.by_name
                    .get(&name_key)
                    .and_then(|id| chat.members.get(id))
                    .cloned()
            } else {
                None
            };
            match existing {
                Some(m) => m,
                None => {
                    chat.members.insert(member.id, member.clone());
                    chat.by_name.entry(name_key).or_insert(member.id);
                    chat.joined.insert(member.account_id);
                    member.clone()
                }
            }
        };
        self.participate(member.account_id, member.chat_id);
        Ok(stored)
    }

    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        Ok(self
            .chat_cell(chat)
            .and_then(|c| read(&c).members.get(&id).cloned()))
    }

    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok(ChatAccess::NoChat);
        };
        let chat = read(&cell);
        Ok(
            if chat.chat.creator == account || chat.joined.contains(&account) {
                ChatAccess::Participant
            } else {
                ChatAccess::Outsider
            },
        )
    }
}

#[async_trait]
impl Messages for MemoryStore {
    async fn append(&self, m: NewMessage) -> PortResult<AppendOutcome> {
        let cell = self.chat_cell(m.chat_id).ok_or(PortError::NotFound)?;
        // Tokenized before any lock is taken.
        let words = tokenize(&m.text);
        // The whole check-and-store runs under the chat's lock: a racing duplicate waits
        // for the first and then sees its key.
        let mut chat = write(&cell);
        if let Some(rec) = &m.idempotency {
            if let Some(entry) = chat.keys.get(&(rec.scope.clone(), rec.key.clone())) {
                return Ok(if entry.fingerprint == rec.fingerprint {
                    AppendOutcome::Replayed(entry.message_id)
                } else {
                    AppendOutcome::KeyReused
                });
            }
        }
        let created_at = chat.last_created_at().map_or(m.now, |last| last.max(m.now));
        let user_name = match chat.names.get(&m.user_id) {
            Some(n) if **n == *m.user_name => Arc::clone(n),
            _ => {
                let n: Arc<str> = Arc::from(m.user_name.as_str());
                chat.names.insert(m.user_id, Arc::clone(&n));
                n
            }
        };
        // Indexed under the chat's lock, so the chat's messages enter the index in their
        // order; a search that sees the handle waits on this lock to read the message.
        write(&self.index).add(m.chat_id, chat.messages.len(), m.id, created_at, &words)?;
        chat.messages.push(StoredMessage {
            id: m.id,
            user_id: m.user_id,
            user_name,
            text: m.text.into_boxed_str(),
            created_at,
        });
        if let Some(rec) = m.idempotency {
            chat.keys.insert(
                (rec.scope, rec.key),
                IdempotencyEntry {
                    fingerprint: rec.fingerprint,
                    message_id: m.id,
                    created_at: self.clock.now(),
                },
            );
        }
        let index = chat.messages.len() - 1;
        chat.message(index)
            .map(AppendOutcome::Stored)
            .ok_or_else(|| PortError::Internal("stored message vanished".into()))
    }

    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok(MessagePage {
                messages: Vec::new(),
                last_seq: 0,
            });
        };
        let chat = read(&cell);
        let last_seq = chat.messages.len() as u64;
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let end = start
            .saturating_add(limit as usize)
            .min(chat.messages.len());
        let messages = (start..end).filter_map(|i| chat.message(i)).collect();
        Ok(MessagePage { messages, last_seq })
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> PortResult<u64> {
        let cells: Vec<ChatCell> = read(&self.chats).values().cloned().collect();
        let mut purged = 0;
        for cell in cells {
            let mut chat = write(&cell);
            let n = chat.keys.len();
            chat.keys.retain(|_, e| e.created_at >= before);
            purged += (n - chat.keys.len()) as u64;
        }
        Ok(purged)
    }
}

#[async_trait]
impl MessageSearch for MemoryStore {
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>> {
        let chats: Option<Vec<ChatId>> = match scope {
            SearchScope::AllChats => None,
            SearchScope::ChatsOf(account) => Some(
                read(&self.participation)
                    .get(&account)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            ),
        };
        // The index lock is released before any chat lock is taken (appends take them the
        // other way round).
        let found = read(&self.index).search(chats.as_deref(), query, cap);
        let hits = found
            .into_iter()
            .filter_map(|(chat_id, position)| {
                let cell = self.chat_cell(chat_id)?;
                let chat = read(&cell);
                chat.messages.get(position).map(|m| SearchHit {
                    message_id: m.id,
                    chat_id,
                    text: m.text.to_string(),
                    user_name: m.user_name.to_string(),
                    created_at: m.created_at,
                })
            })
            .collect();
        Ok(hits)
    }
}

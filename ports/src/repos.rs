//! Repository ports: the durable data (PostgreSQL, or memory).

use crate::PortResult;
use async_trait::async_trait;
use messenger_domain::{
    Account, AccountId, Chat, ChatId, Member, MemberId, Message, MessageId, SearchHit, SearchQuery,
    Session, Timestamp, TokenHash,
};

/// Registered accounts.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Stores a new account.
    ///
    /// # Errors
    /// [`crate::PortError::Conflict`] when an account with exactly this name exists
    /// (names are unique case-sensitively, also under concurrent inserts).
    async fn insert_account(&self, account: &Account) -> PortResult<()>;

    /// The account with exactly this name, if any.
    async fn account_by_name(&self, name: &str) -> PortResult<Option<Account>>;
}

/// The durable record of sessions (the session cache is only a cache over it).
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Records a new session.
    ///
    /// # Errors
    /// [`crate::PortError::Conflict`] when a session with this hash exists.
    async fn insert_session(&self, session: &Session) -> PortResult<()>;

    /// The session with this token hash, revoked or expired ones included, until purged.
    async fn session(&self, token_hash: &TokenHash) -> PortResult<Option<Session>>;

    /// Marks the session revoked; `false` when there is no such session. Idempotent.
    async fn revoke_session(&self, token_hash: &TokenHash) -> PortResult<bool>;

    /// Deletes sessions whose `expires_at` is before `expired_before`; returns how many.
    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64>;
}

/// Chats.
#[async_trait]
pub trait Chats: Send + Sync + 'static {
    /// Stores a new chat (with no messages: its last sequence number is 0).
    ///
    /// # Errors
    /// [`crate::PortError::Conflict`] when the id exists.
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()>;

    /// The chat, if it exists.
    async fn chat(&self, id: ChatId) -> PortResult<Option<Chat>>;
}

/// What an account may do with a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatAccess {
    /// There is no such chat.
    NoChat,
    /// The chat exists; the account neither created nor joined it.
    Outsider,
    /// The account created the chat or has a member in it.
    Participant,
}

/// Members of chats.
#[async_trait]
pub trait Members: Send + Sync + 'static {
    /// Adds `member` to `member.chat_id` and returns the stored member.
    ///
    /// With `reuse`, when the same account already has a member with exactly the same name
    /// in that chat, that member is returned instead and nothing is stored — also when two
    /// such calls race (never two members of one name for one account in one chat).
    /// Without `reuse` (legacy mode) a new member is always stored.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist.
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member>;

    /// The member `id` of chat `chat`; `None` when it does not exist or is of another chat.
    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>>;

    /// Whether the chat exists and whether `account` created it or has a member in it,
    /// in one read.
    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess>;
}

/// An idempotency key stored with a message, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Who may replay it: the account (auth on) or the member (legacy mode), as a string
    /// chosen by the use case; keys are unique per (chat, scope, key).
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// SHA-256 of what makes a retry "the same request" (member id and exact text).
    pub fingerprint: [u8; 32],
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id.
    pub id: MessageId,
    /// Its chat (exists; the use case checked).
    pub chat_id: ChatId,
    /// The posting member (of that chat; the use case checked).
    pub user_id: MemberId,
    /// The member's display name.
    pub user_name: String,
    /// The text, verbatim.
    pub text: String,
    /// The clock's time; the stored `created_at` is the later of this and the chat's last.
    pub now: Timestamp,
    /// The idempotency key, when the client sent one.
    pub idempotency: Option<IdempotencyRecord>,
}

/// What [`Messages::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored as this message.
    Stored(Message),
    /// The key was seen before with the same fingerprint: nothing stored; this is the first
    /// message's id.
    Replayed(MessageId),
    /// The key was seen before with another fingerprint: nothing stored.
    KeyReused,
}

/// One read of a chat's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    /// Messages with `seq` above the requested position, oldest first, at most the limit.
    pub messages: Vec<Message>,
    /// The chat's last sequence number as seen by the same read (0 for an empty chat).
    pub last_seq: u64,
}

/// Messages.
#[async_trait]
pub trait Messages: Send + Sync + 'static {
    /// Stores a message durably (it survives a crash once this returns) with the next
    /// sequence number of its chat, assigned so that a chat's order is total and a reader
    /// never sees `seq` n+1 before n. `created_at` never runs backwards within a chat.
    /// With an idempotency record, the key is stored in the same transaction; a duplicate
    /// racing the first waits for it and replays it.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist.
    async fn append(&self, message: NewMessage) -> PortResult<AppendOutcome>;

    /// Up to `limit` messages of `chat` with `seq > after`, oldest first, and the chat's
    /// last sequence number. Keyset access: as fast at the millionth message as at the
    /// first. An unknown chat reads as empty (`last_seq` 0).
    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage>;

    /// Deletes idempotency keys stored before `before`; returns how many.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> PortResult<u64>;
}

/// Which chats a search covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Every chat (legacy mode).
    AllChats,
    /// The chats this account created or joined, as of the search.
    ChatsOf(AccountId),
}

/// Full-text search over messages.
#[async_trait]
pub trait MessageSearch: Send + Sync + 'static {
    /// The messages in `scope` matching `query` (every term of it, by the domain tokenizer:
    /// see `messenger_domain::search`), newest first by (`created_at`, `message_id`), at
    /// most `cap`. Every adapter gives the same hits for the same data.
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>>;
}

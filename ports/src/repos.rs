//! Repository ports: the durable data (PostgreSQL, or memory).

use crate::{ChatListPage, ChatViewer, MembersPage, PortResult, ReadUpdate};
use async_trait::async_trait;
use messenger_domain::{
    Account, AccountId, Chat, ChatId, ChatListCursor, ChatSummary, Member, MemberId, Message,
    MessageId, SearchHit, SearchQuery, Session, SessionPublicId, Timestamp, TokenHash,
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

    /// The account with this id, if any.
    async fn account_by_id(&self, id: AccountId) -> PortResult<Option<Account>>;

    /// Replaces the account's password hash (a PHC string); nothing else changes.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when there is no such account.
    async fn set_password_hash(&self, id: AccountId, password_hash: &str) -> PortResult<()>;
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

    /// The session whose public id ([`TokenHash::public_id`]) is `id`, revoked or expired
    /// ones included, until purged; whoever's it is (the caller checks the owner).
    async fn session_by_public_id(&self, id: SessionPublicId) -> PortResult<Option<Session>>;

    /// Up to `limit` live sessions of `account` — not revoked, `expires_at` after `now` —
    /// newest first by `created_at`, ties by token hash descending. Another account's
    /// sessions never appear.
    async fn live_sessions(
        &self,
        account: AccountId,
        now: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<Session>>;

    /// Marks revoked, in one statement, every session of `account` not yet revoked
    /// (expired ones too) except `keep`, and returns the token hashes it revoked (so the
    /// caller can tell the session cache), in no particular order. Sessions already
    /// revoked, `keep` and other accounts' sessions are untouched and not returned; a
    /// second call returns nothing.
    async fn revoke_account_sessions(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> PortResult<Vec<TokenHash>>;

    /// Deletes sessions whose `expires_at` is before `expired_before`; returns how many.
    async fn purge_sessions(&self, expired_before: Timestamp) -> PortResult<u64>;
}

/// Chats, and the chat list with its read state.
///
/// Every change (a chat created or renamed, a member joining or leaving, a message, a read
/// marker moving) records its event in the event log ([`crate::EventLog`]) in the change's
/// own transaction: the event is readable exactly when the change is stored.
#[async_trait]
pub trait Chats: Send + Sync + 'static {
    /// Stores a new chat (with no messages: its last sequence number is 0). Its creator
    /// takes part in it from now on (it appears in the creator's list, read marker 0).
    /// Records `chat.created`.
    ///
    /// # Errors
    /// [`crate::PortError::Conflict`] when the id exists.
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()>;

    /// The chat, if it exists.
    async fn chat(&self, id: ChatId) -> PortResult<Option<Chat>>;

    /// Gives the chat a new name. Records `chat.renamed`.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist.
    async fn rename_chat(&self, chat: ChatId, name: &str) -> PortResult<()>;

    /// The chat as `viewer` sees it, in one read — also when the viewer may not see it
    /// (the caller decides, e.g. with [`ChatSummary::is_visible`]); `None` when there is
    /// no such chat. `unread_count` costs no counting: the chat keeps its last sequence
    /// number beside the viewer's read marker. The last message's text may come cut to
    /// no fewer than `PREVIEW_CHARS + 1` characters (the preview's rule is the domain's).
    async fn chat_summary(
        &self,
        chat: ChatId,
        viewer: ChatViewer,
    ) -> PortResult<Option<ChatSummary>>;

    /// Up to `limit` summaries of the chats `viewer` created or has a current identity in
    /// (every chat, for a viewer that sees every chat), ordered by activity, newest first,
    /// ties by chat id descending, starting at `from` (chats whose activity is at most
    /// `from.activity()`, skipping the first `from.skip()` of those exactly at it), with
    /// the event log's head ([`crate::EventLog::head`]) read just before the chats (every
    /// change missing from the page is after it). Costs the same at a million
    /// messages as at ten: nothing is counted, last messages are found by their position.
    async fn list_chats(
        &self,
        viewer: ChatViewer,
        from: ChatListCursor,
        limit: u32,
    ) -> PortResult<ChatListPage>;
}

/// What an account may do with a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatAccess {
    /// There is no such chat.
    NoChat,
    /// The chat exists; the account neither created it nor has a current member in it.
    Outsider,
    /// The account created the chat or has a current member in it.
    Participant,
}

/// Members of chats, and read markers (per account and chat).
#[async_trait]
pub trait Members: Send + Sync + 'static {
    /// Adds `member` to `member.chat_id` and returns the stored member.
    ///
    /// With `reuse`, when the same account already has a *current* member with exactly the
    /// same name in that chat, that member is returned instead and nothing changes — also
    /// when two such calls race (never two current members of one name for one account in
    /// one chat). Without `reuse` (legacy mode) a new member is always stored. A member
    /// that left is never revived: joining again under its name stores a new member (the
    /// old one keeps its id on its messages).
    ///
    /// A stored member takes the chat's next join number (1, 2, 3, …: the members'
    /// order), counts in the chat's member count, and in the same transaction moves the
    /// account's read marker to the chat's last message (history is not unread), and
    /// records `member.joined` (a join that reuses a member records nothing).
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist, or when the creator
    /// removed a member of this account from it (the bar lasts for the chat's life).
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member>;

    /// The current member `id` of chat `chat`; `None` when it does not exist, is of
    /// another chat, or has left or been removed.
    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>>;

    /// Whether the chat exists and whether `account` created it or has a current member
    /// in it, in one read.
    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess>;

    /// As [`Members::chat_access`], with the chat's last sequence number from the same read
    /// when the adapter has it there (`None`: the caller learns the end some other way).
    /// Every message whose append returned before this call is at or below that number.
    async fn chat_access_and_end(
        &self,
        chat: ChatId,
        account: AccountId,
    ) -> PortResult<(ChatAccess, Option<u64>)> {
        Ok((self.chat_access(chat, account).await?, None))
    }

    /// Ends the membership of the current member `member` of `chat`, in one transaction:
    /// it stops being current (its messages keep its id and name), the chat's member count
    /// drops, and with `bar_account` its account may never join this chat again. Records
    /// `member.left`, `removed` being `bar_account`.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when `member` is not a current member of `chat`.
    async fn leave(&self, chat: ChatId, member: MemberId, bar_account: bool) -> PortResult<()>;

    /// Up to `limit` current members of `chat` whose join number is above `after`, in
    /// joining order, and the chat's last join number from the same read. Keyset access;
    /// an unknown chat reads as empty (last join number 0).
    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage>;

    /// Moves `account`'s read marker in `chat` forward to `upto`: a marker already at or
    /// past it stays. `upto` above the chat's last sequence number changes nothing and
    /// answers [`ReadUpdate::BeyondEnd`]. One transaction, which records `read.updated`
    /// when the marker moved.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist.
    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate>;
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
    /// Its chat (the caller may read it; the use case checked).
    pub chat_id: ChatId,
    /// The posting member: the store checks, in the statement that stores, that it is a
    /// current member of the chat (and takes its display name from there).
    pub user_id: MemberId,
    /// The account the member must belong to (`None`: any account's, legacy mode).
    pub account: Option<AccountId>,
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
    /// The poster is not a current member of the chat, or not of the required account:
    /// nothing stored, whatever the key (checked before it).
    NotMember,
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
    /// racing the first waits for it and replays it. In the same transaction, the chat's
    /// activity becomes the message's time and the poster's account's read marker moves
    /// forward to the message, and `message.created` is recorded (referring to the
    /// stored message, not a copy of it). A replayed or refused key records nothing. The
    /// membership check belongs to the same write (no round trip of its own): inside a
    /// group-commit batch it runs after the chat's lock, so a post never lands after a
    /// committed leave of its poster.
    ///
    /// # Errors
    /// [`crate::PortError::NotFound`] when the chat does not exist.
    async fn append(&self, message: NewMessage) -> PortResult<AppendOutcome>;

    /// Up to `limit` messages of `chat` with `seq > after`, oldest first, and the chat's
    /// last sequence number. Keyset access: as fast at the millionth message as at the
    /// first. An unknown chat reads as empty (`last_seq` 0).
    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage>;

    /// The newest `limit` messages of `chat` with `seq <= before` (`None`: the chat's
    /// end), oldest first, and the chat's last sequence number from the same read. Keyset
    /// access: as fast at the end of a million messages as at the start. `before` above
    /// the last sequence number reads as the end (the caller tells it apart by
    /// `last_seq`); an unknown chat reads as empty (`last_seq` 0).
    async fn page_before(
        &self,
        chat: ChatId,
        before: Option<u64>,
        limit: u32,
    ) -> PortResult<MessagePage>;

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

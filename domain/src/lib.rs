//! The messenger's model: validated values, entities, the error codes of the API,
//! and the pure rules every adapter shares (cursor format, search tokenizer, query parser).
//!
//! No I/O, no async, no framework: everything here is deterministic and unit-tested.
//! A value of a type from this crate is valid by construction — every constructor that
//! takes outside input validates it, so code that receives a `UserName` never re-checks it.
//!
//! Layout: `error` (the API's codes), `ids` (opaque 128-bit ids), `text` (names, texts,
//! keys), `time` (timestamps), `token` (session tokens), `cursor` (paging cursors),
//! `search` (tokenizer and query parser), `entities`, `conversation` (chat summaries, the
//! chat list's cursor, event positions), `events` (what the event log records).

pub mod conversation;
pub mod cursor;
pub mod entities;
pub mod error;
pub mod events;
pub mod ids;
pub mod search;
pub mod text;
pub mod time;
pub mod token;

pub use conversation::{ChatListCursor, ChatSummary, EventPosition, MessagePreview, PREVIEW_CHARS};
pub use cursor::{Cursor, CursorParam, CursorScope, UncheckedCursor};
pub use entities::{
    Account, Caller, Chat, Member, Message, SearchHit, SearchTask, Session, TaskStatus,
};
pub use error::Error;
pub use events::{Event, LoggedEvent, MembershipChange};
pub use ids::{AccountId, ChatId, IdParam, MemberId, MessageId, TaskId};
pub use search::{tokenize, SearchQuery, Term};
pub use text::{
    idempotency_fingerprint, ChatName, DisplayName, IdempotencyKey, Limit, MessageText, Password,
    UserName,
};
pub use time::Timestamp;
pub use token::{SessionPublicId, SessionToken, TokenHash};

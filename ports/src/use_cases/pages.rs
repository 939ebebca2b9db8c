//! Paging a chat both ways: `from` (oldest first, onwards) and `before` (the newest-first
//! way in), with `prev` and `next` on every page and one page cache for both.
//!
//! A full page never changes, whichever way it was asked for: `limit` messages ending at
//! sequence number N are exactly the `from` page after N − `limit`. So a full `before`
//! page is cached and looked up under that `from` key, and both ways share the cache.

use super::Messenger;
use crate::{AppError, MessagePage, PageKey};
use messenger_domain::{
    Caller, ChatId, Cursor, CursorScope, Error, Limit, Message, UncheckedCursor,
};
use std::sync::Arc;

/// Where a page of a chat's messages is anchored. On the wire an empty `from=` is absent
/// (the start) and an empty `before=` is absent (the end); `from` and `before` together
/// are bad input, refused before this is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAnchor {
    /// The messages right after the point the cursor marks (absent: the chat's start).
    From(Option<UncheckedCursor>),
    /// The messages at or below the point the cursor marks (absent: the chat's end).
    Before(Option<UncheckedCursor>),
}

/// A page of a chat's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    /// Oldest first.
    pub messages: Arc<Vec<Message>>,
    /// The point just before the page's first message (for `before`), or `None` when the
    /// page starts at the chat's first message.
    pub prev: Option<Cursor>,
    /// The point after the page (for `from`; at the end, the end as it is now).
    pub next: Cursor,
}

impl Messenger {
    /// A page of up to `limit` messages of `chat`, oldest first, anchored at `anchor`.
    /// Full pages may come from the page cache, for either anchor.
    ///
    /// # Errors
    /// `chat-not-found`, `bad-cursor` (malformed, of another chat, or beyond the chat's
    /// last message), unavailable.
    pub async fn read_messages(
        &self,
        caller: &Caller,
        chat: ChatId,
        anchor: PageAnchor,
        limit: Limit,
    ) -> Result<ChatPage, AppError> {
        // Opening at the end needs the end, read with the access check; any other page
        // needs only the check (which may come from the in-process access cache).
        let end = match anchor {
            PageAnchor::Before(None) => self.readable_chat_end(caller, chat).await?,
            _ => {
                self.readable_chat(caller, chat).await?;
                None
            }
        };
        let scope = CursorScope::Chat(chat);
        let position = |raw: Option<UncheckedCursor>| -> Result<Option<u64>, Error> {
            raw.map(|r| r.check(scope).map(|c| c.position()))
                .transpose()
        };
        let limit = limit.get();
        match anchor {
            PageAnchor::From(raw) => {
                let after = position(raw)?.unwrap_or(0);
                let key = PageKey { chat, after, limit };
                if let Some(page) = self.cached_page(&key).await {
                    return Ok(page_at(scope, after, page));
                }
                let page = self.ports.messages.page_after(chat, after, limit).await?;
                if after > page.last_seq {
                    return Err(Error::BadCursor.into());
                }
                let messages = self.keep_if_full(chat, limit, page).await;
                Ok(page_at(scope, after, messages))
            }
            PageAnchor::Before(raw) => {
                // `before=` empty is the end: known from the access check's read, it makes
                // the newest page a full page like any other, served from the cache.
                let before = position(raw)?.or(end);
                if let Some(end) = before.filter(|&n| n >= u64::from(limit)) {
                    let key = PageKey {
                        chat,
                        after: end - u64::from(limit),
                        limit,
                    };
                    if let Some(page) = self.cached_page(&key).await {
                        return Ok(page_at(scope, key.after, page));
                    }
                }
                let page = self.ports.messages.page_before(chat, before, limit).await?;
                let end = before.unwrap_or(page.last_seq);
                if end > page.last_seq {
                    return Err(Error::BadCursor.into());
                }
                let start = page.messages.first().map_or(end, |m| m.seq - 1);
                let messages = self.keep_if_full(chat, limit, page).await;
                Ok(page_at(scope, start, messages))
            }
        }
    }

    /// The cached page, if any; a cache that fails is logged and read around.
    async fn cached_page(&self, key: &PageKey) -> Option<Arc<Vec<Message>>> {
        let cache = self.ports.page_cache.as_ref()?;
        match cache.get(key).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "page cache unavailable; reading the store");
                None
            }
        }
    }

    /// The page's messages, put into the cache when the page is full (under the `from`
    /// key of its first message, whichever way it was read).
    async fn keep_if_full(&self, chat: ChatId, limit: u32, page: MessagePage) -> Arc<Vec<Message>> {
        let messages = Arc::new(page.messages);
        let first = messages.first().map(|m| m.seq - 1);
        if let (Some(after), Some(cache), true) = (
            first,
            &self.ports.page_cache,
            messages.len() == limit as usize,
        ) {
            let key = PageKey { chat, after, limit };
            if let Err(e) = cache.put(&key, Arc::clone(&messages)).await {
                tracing::warn!(error = %e, "page cache put failed");
            }
        }
        messages
    }
}

/// The page whose messages follow position `start`.
fn page_at(scope: CursorScope, start: u64, messages: Arc<Vec<Message>>) -> ChatPage {
    let next = messages.last().map_or(start, |m| m.seq);
    ChatPage {
        prev: (start > 0).then(|| Cursor::new(scope, start)),
        next: Cursor::new(scope, next),
        messages,
    }
}

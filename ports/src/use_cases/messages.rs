//! Messages: post (with idempotency keys) and exact cursor paging (with the page cache).

use super::Messenger;
use crate::{AppError, AppendOutcome, IdempotencyRecord, NewMessage, PageKey, PortError};
use messenger_domain::{
    idempotency_fingerprint, Caller, ChatId, Cursor, CursorParam, CursorScope, Error, IdParam,
    IdempotencyKey, Limit, MemberId, Message, MessageId, MessageText,
};
use std::sync::Arc;

/// A page of a chat's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagesPage {
    /// Oldest first.
    pub messages: Arc<Vec<Message>>,
    /// The cursor to continue from (always valid as the next `from`, once encoded).
    pub next: Cursor,
}

impl Messenger {
    /// Posts `text` as member `user_id` of chat `chat_id`. The message is durable when
    /// this returns. With an idempotency key, a retry with the same key and body returns
    /// the first message's id and stores nothing.
    ///
    /// # Errors
    /// `chat-not-found` (unknown or not the caller's), `user-not-found` (not a member of
    /// this chat, malformed, or — auth on — not the caller's),
    /// `idempotency-key-reused`, unavailable.
    pub async fn post_message(
        &self,
        caller: &Caller,
        chat_id: ChatId,
        user_id: IdParam<MemberId>,
        text: MessageText,
        key: Option<IdempotencyKey>,
    ) -> Result<MessageId, AppError> {
        let chat_id = self.accessible_chat(caller, chat_id).await?;
        // After the chat check: a malformed member id answers only for the caller's chat.
        let user_id = user_id.or(Error::UserNotFound)?;
        let member = self
            .ports
            .members
            .member(chat_id, user_id)
            .await?
            .filter(|m| self.settings.legacy_mode || m.account_id == caller.account_id)
            .ok_or(Error::UserNotFound)?;
        let idempotency = key.map(|key| IdempotencyRecord {
            scope: if self.settings.legacy_mode {
                format!("member:{}", member.id)
            } else {
                format!("account:{}", caller.account_id)
            },
            key: key.into_string(),
            fingerprint: idempotency_fingerprint(member.id, text.as_str()),
        });
        let outcome = self
            .ports
            .messages
            .append(NewMessage {
                id: MessageId::from_u128(self.ports.ids.new_id()),
                chat_id,
                user_id: member.id,
                user_name: member.name,
                text: text.into_string(),
                now: self.ports.clock.now(),
                idempotency,
            })
            .await;
        match outcome {
            Ok(AppendOutcome::Stored(m)) => {
                self.ports.bus.publish().await;
                Ok(m.id)
            }
            Ok(AppendOutcome::Replayed(id)) => Ok(id),
            Ok(AppendOutcome::KeyReused) => Err(Error::IdempotencyKeyReused.into()),
            Err(PortError::NotFound) => Err(Error::ChatNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of up to `limit` messages after the cursor `from` (from the first message
    /// at [`CursorParam::Start`]), oldest first. Full pages may come from the page cache: they
    /// never change.
    ///
    /// # Errors
    /// `chat-not-found`, `bad-cursor` (malformed, of another chat, or beyond the chat's
    /// last message), unavailable.
    pub async fn list_messages(
        &self,
        caller: &Caller,
        chat_id: ChatId,
        from: CursorParam,
        limit: Limit,
    ) -> Result<MessagesPage, AppError> {
        let chat_id = self.accessible_chat(caller, chat_id).await?;
        let scope = CursorScope::Chat(chat_id);
        let after = from.in_scope(scope)?.position();
        let key = PageKey {
            chat: chat_id,
            after,
            limit: limit.get(),
        };
        if let Some(cache) = &self.ports.page_cache {
            match cache.get(&key).await {
                Ok(Some(page)) => {
                    let next = page.last().map_or(after, |m| m.seq);
                    return Ok(MessagesPage {
                        messages: page,
                        next: Cursor::new(scope, next),
                    });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "page cache unavailable; reading the store"),
            }
        }
        let page = self
            .ports
            .messages
            .page_after(chat_id, after, limit.get())
            .await?;
        if after > page.last_seq {
            return Err(Error::BadCursor.into());
        }
        let next = page.messages.last().map_or(after, |m| m.seq);
        let messages = Arc::new(page.messages);
        if messages.len() == limit.get() as usize {
            if let Some(cache) = &self.ports.page_cache {
                if let Err(e) = cache.put(&key, Arc::clone(&messages)).await {
                    tracing::warn!(error = %e, "page cache put failed");
                }
            }
        }
        Ok(MessagesPage {
            messages,
            next: Cursor::new(scope, next),
        })
    }
}

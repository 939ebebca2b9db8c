//! Messages: post, with idempotency keys (paging is in `pages.rs`).

use super::Messenger;
use crate::{AppError, AppendOutcome, IdempotencyRecord, NewMessage, PortError};
use messenger_domain::{
    idempotency_fingerprint, Caller, ChatId, Error, IdParam, IdempotencyKey, MemberId, MessageId,
    MessageText,
};

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
        // The store checks membership in the write itself (`AppendOutcome::NotMember`).
        let account = (!self.settings.legacy_mode).then_some(caller.account_id);
        let idempotency = key.map(|key| IdempotencyRecord {
            scope: match account {
                Some(account) => format!("account:{account}"),
                None => format!("member:{user_id}"),
            },
            key: key.into_string(),
            fingerprint: idempotency_fingerprint(user_id, text.as_str()),
        });
        let outcome = self
            .ports
            .messages
            .append(NewMessage {
                id: MessageId::from_u128(self.ports.ids.new_id()),
                chat_id,
                user_id,
                account,
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
            Ok(AppendOutcome::NotMember) => Err(Error::UserNotFound.into()),
            Err(PortError::NotFound) => Err(Error::ChatNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }
}

//! The chat list, one chat's summary, and renaming — a client's first screen.

use super::Messenger;
use crate::{AppError, ChatAccess, ChatViewer, PortError};
use messenger_domain::{
    Caller, ChatId, ChatListCursor, ChatName, ChatSummary, Error, EventPosition, Limit,
    UncheckedCursor,
};

/// A page of the caller's chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatList {
    /// Most recent activity first.
    pub chats: Vec<ChatSummary>,
    /// Where the next page starts (always valid as the next `from`).
    pub next: ChatListCursor,
    /// The event-stream position of this snapshot: everything after it is news.
    pub events: EventPosition,
}

impl Messenger {
    /// How the caller sees chats: with auth on, its own; in legacy mode, every chat, as
    /// their creator.
    pub(crate) fn viewer(&self, caller: &Caller) -> ChatViewer {
        ChatViewer {
            account: caller.account_id,
            every_chat: self.settings.legacy_mode,
        }
    }

    /// Checks that the caller may read `chat`: with auth on, it created the chat or has a
    /// current identity in it; in legacy mode the chat exists. (The composition root may
    /// keep positive answers in process for a moment: see the access-cache decorator.)
    ///
    /// # Errors
    /// `chat-not-found`, unavailable.
    pub(crate) async fn readable_chat(
        &self,
        caller: &Caller,
        chat: ChatId,
    ) -> Result<(), AppError> {
        let access = self
            .ports
            .members
            .chat_access(chat, caller.account_id)
            .await?;
        self.admit(access).map(|_| ())
    }

    /// As [`Self::readable_chat`], always from the store, with the chat's last sequence
    /// number from the same read when the store gives it (to open a chat at its newest
    /// messages).
    ///
    /// # Errors
    /// `chat-not-found`, unavailable.
    pub(crate) async fn readable_chat_end(
        &self,
        caller: &Caller,
        chat: ChatId,
    ) -> Result<Option<u64>, AppError> {
        let (access, end) = self
            .ports
            .members
            .chat_access_and_end(chat, caller.account_id)
            .await?;
        self.admit(access).map(|_| end)
    }

    /// Whether an access answer lets the caller read.
    fn admit(&self, access: ChatAccess) -> Result<(), AppError> {
        match (access, self.settings.legacy_mode) {
            (ChatAccess::Participant, _) | (ChatAccess::Outsider, true) => Ok(()),
            _ => Err(Error::ChatNotFound.into()),
        }
    }

    /// The caller's chats (created, or with a current identity in them; legacy mode: every
    /// chat), most recent activity first, `limit` at a time from `from` (absent: the top;
    /// the HTTP layer maps an empty `from` to absent), with the event-stream position of
    /// the snapshot.
    ///
    /// # Errors
    /// `bad-cursor` (malformed, or of another account's list), unavailable.
    pub async fn list_chats(
        &self,
        caller: &Caller,
        from: Option<UncheckedCursor>,
        limit: Limit,
    ) -> Result<ChatList, AppError> {
        let from = match from {
            None => ChatListCursor::start(caller.account_id),
            Some(raw) => ChatListCursor::check(raw, caller.account_id)?,
        };
        let page = self
            .ports
            .chats
            .list_chats(self.viewer(caller), from, limit.get())
            .await?;
        let next = from.after_page(page.chats.iter().map(|c| c.activity));
        Ok(ChatList {
            chats: page.chats,
            next,
            events: page.events,
        })
    }

    /// One chat's summary, as in the list.
    ///
    /// # Errors
    /// `chat-not-found` (unknown, or not readable by the caller), unavailable.
    pub async fn chat_summary(
        &self,
        caller: &Caller,
        chat: ChatId,
    ) -> Result<ChatSummary, AppError> {
        self.ports
            .chats
            .chat_summary(chat, self.viewer(caller))
            .await?
            .filter(|s| self.settings.legacy_mode || s.is_visible())
            .ok_or_else(|| Error::ChatNotFound.into())
    }

    /// Renames the chat; only its creator may (in legacy mode, anyone). Answers the
    /// summary after the change.
    ///
    /// # Errors
    /// `chat-not-found`, `forbidden` (a reader that did not create the chat),
    /// unavailable.
    pub async fn rename_chat(
        &self,
        caller: &Caller,
        chat: ChatId,
        name: ChatName,
    ) -> Result<ChatSummary, AppError> {
        let summary = self.chat_summary(caller, chat).await?;
        if !summary.is_creator {
            return Err(Error::Forbidden.into());
        }
        match self.ports.chats.rename_chat(chat, name.as_str()).await {
            Ok(()) => self.ports.bus.publish().await,
            Err(PortError::NotFound) => return Err(Error::ChatNotFound.into()),
            Err(e) => return Err(e.into()),
        }
        self.chat_summary(caller, chat).await
    }
}

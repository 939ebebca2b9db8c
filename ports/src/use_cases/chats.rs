//! Chats and members: create, join, and the access rule every chat route shares.

use super::Messenger;
use crate::{AppError, ChatAccess, PortError};
use messenger_domain::{Caller, Chat, ChatId, ChatName, DisplayName, Error, Member, MemberId};

impl Messenger {
    /// Creates a chat; the caller is its creator.
    ///
    /// # Errors
    /// Unavailable.
    pub async fn create_chat(&self, caller: &Caller, name: ChatName) -> Result<ChatId, AppError> {
        let chat = Chat {
            id: ChatId::from_u128(self.ports.ids.new_id()),
            name: name.into_string(),
            creator: caller.account_id,
            created_at: self.ports.clock.now(),
        };
        self.ports.chats.insert_chat(&chat).await?;
        Ok(chat.id)
    }

    /// Adds the caller to the chat under `name`. Knowing the chat's id is the invitation.
    /// With auth on, the same account, chat and name always give the same member; in
    /// legacy mode each join is a new member.
    ///
    /// # Errors
    /// `chat-not-found`, unavailable.
    pub async fn join_chat(
        &self,
        caller: &Caller,
        chat_id: ChatId,
        name: DisplayName,
    ) -> Result<MemberId, AppError> {
        let member = Member {
            id: MemberId::from_u128(self.ports.ids.new_id()),
            chat_id,
            account_id: caller.account_id,
            name: name.into_string(),
            joined_at: self.ports.clock.now(),
        };
        match self
            .ports
            .members
            .join(&member, !self.settings.legacy_mode)
            .await
        {
            Ok(m) => Ok(m.id),
            Err(PortError::NotFound) => Err(Error::ChatNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The chat the caller may use: with auth on, one it created or joined; in legacy mode
    /// any existing chat. Others do not exist for the caller.
    pub(crate) async fn accessible_chat(
        &self,
        caller: &Caller,
        chat_id: ChatId,
    ) -> Result<ChatId, AppError> {
        let access = self
            .ports
            .members
            .chat_access(chat_id, caller.account_id)
            .await?;
        match (access, self.settings.legacy_mode) {
            (ChatAccess::Participant, _) | (ChatAccess::Outsider, true) => Ok(chat_id),
            _ => Err(Error::ChatNotFound.into()),
        }
    }
}

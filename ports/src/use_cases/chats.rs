//! Chats and members: create, join, and the access rule every chat route shares.

use super::Messenger;
use crate::{AppError, PortError};
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
        self.ports.bus.publish().await;
        Ok(chat.id)
    }

    /// Adds the caller to the chat under `name`. Knowing the chat's id is the invitation.
    /// With auth on, the same account, chat and name give the same member while it is a
    /// member (after leaving, joining again makes a new one); in legacy mode each join is
    /// a new member. Joining puts the account's read marker at the chat's end.
    ///
    /// # Errors
    /// `chat-not-found` (also for an account the creator removed from the chat),
    /// unavailable.
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
            Ok(m) => {
                self.ports.bus.publish().await;
                Ok(m.id)
            }
            Err(PortError::NotFound) => Err(Error::ChatNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The chat the caller may use: with auth on, one it created or has a current member
    /// in; in legacy mode any existing chat. Others do not exist for the caller.
    pub(crate) async fn accessible_chat(
        &self,
        caller: &Caller,
        chat_id: ChatId,
    ) -> Result<ChatId, AppError> {
        self.readable_chat(caller, chat_id).await?;
        Ok(chat_id)
    }
}

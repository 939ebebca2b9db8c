//! A chat's members: the list in joining order, leaving, and removal by the creator.

use super::Messenger;
use crate::{AppError, PortError};
use messenger_domain::{
    Caller, ChatId, Cursor, CursorScope, Error, IdParam, Limit, Member, MemberId, UncheckedCursor,
};

/// A current member as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMember {
    /// The member (`user_id`, `user_name`, `joined_at`).
    pub member: Member,
    /// Whether the caller owns it.
    pub is_mine: bool,
}

/// A page of a chat's current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// In joining order.
    pub members: Vec<ListedMember>,
    /// Where the next page starts (always valid as the next `from`).
    pub next: Cursor,
}

impl Messenger {
    /// Up to `limit` of the chat's current members in joining order, after `from`
    /// (absent: from the first).
    ///
    /// # Errors
    /// `chat-not-found`, `bad-cursor` (malformed, of another chat's members, or beyond the
    /// last join), unavailable.
    pub async fn list_members(
        &self,
        caller: &Caller,
        chat: ChatId,
        from: Option<UncheckedCursor>,
        limit: Limit,
    ) -> Result<MemberList, AppError> {
        self.readable_chat(caller, chat).await?;
        let scope = CursorScope::Members(chat);
        let after = from
            .map(|r| r.check(scope))
            .transpose()?
            .map_or(0, |c| c.position());
        let page = self
            .ports
            .members
            .members_page(chat, after, limit.get())
            .await?;
        if after > page.last_join_seq {
            return Err(Error::BadCursor.into());
        }
        let next = page.members.last().map_or(after, |m| m.join_seq);
        let members = page
            .members
            .into_iter()
            .map(|e| ListedMember {
                is_mine: e.member.account_id == caller.account_id,
                member: e.member,
            })
            .collect();
        Ok(MemberList {
            members,
            next: Cursor::new(scope, next),
        })
    }

    /// Ends the membership of `member`: the caller leaves under its own identity, or the
    /// chat's creator removes another account's member (that account may then never join
    /// the chat again). The member's messages stay, with its name.
    ///
    /// # Errors
    /// `chat-not-found`, `user-not-found` (not a current member of this chat, or not an
    /// id at all: that answers after the chat's check), `forbidden` (another account's
    /// member, and the caller did not create the chat), unavailable.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        chat: ChatId,
        member: IdParam<MemberId>,
    ) -> Result<(), AppError> {
        self.readable_chat(caller, chat).await?;
        let member = member.or(Error::UserNotFound)?;
        let target = self
            .ports
            .members
            .member(chat, member)
            .await?
            .ok_or(Error::UserNotFound)?;
        let own = self.settings.legacy_mode || target.account_id == caller.account_id;
        if !own {
            let creator = self.ports.chats.chat(chat).await?.map(|c| c.creator);
            if creator != Some(caller.account_id) {
                return Err(Error::Forbidden.into());
            }
        }
        match self.ports.members.leave(chat, member, !own).await {
            Ok(()) => {
                self.ports.bus.publish().await;
                Ok(())
            }
            // Left or removed by a racing call.
            Err(PortError::NotFound) => Err(Error::UserNotFound.into()),
            Err(e) => Err(e.into()),
        }
    }
}

//! `Chats` and `Members`: chats, joins and leaves, read markers, and the chat list.

use super::events::Recorded;
use super::{read, write, ChatState, MemberState, MemoryStore, Reader};
use async_trait::async_trait;
use messenger_domain::{
    AccountId, Chat, ChatId, ChatListCursor, ChatSummary, Event, EventPosition, Member, MemberId,
    Timestamp,
};
use messenger_ports::{
    ChatAccess, ChatListPage, ChatViewer, Chats, MemberEntry, Members, MembersPage, PortError,
    PortResult, ReadUpdate,
};
use std::cmp::Reverse;
use std::sync::{Arc, RwLock};

#[async_trait]
impl Chats for MemoryStore {
    async fn insert_chat(&self, chat: &Chat) -> PortResult<()> {
        let cell = {
            let mut chats = write(&self.chats);
            if chats.contains_key(&chat.id) {
                return Err(PortError::Conflict);
            }
            let cell = Arc::new(RwLock::new(ChatState::new(chat.clone())));
            chats.insert(chat.id, Arc::clone(&cell));
            cell
        };
        let _state = write(&cell);
        self.set_participation(chat.creator, chat.id, true);
        self.record(Recorded::Other(Box::new(Event::ChatCreated {
            chat_id: chat.id,
            chat_name: chat.name.clone(),
            creator: chat.creator,
        })));
        Ok(())
    }

    async fn chat(&self, id: ChatId) -> PortResult<Option<Chat>> {
        Ok(self.chat_cell(id).map(|c| read(&c).chat.clone()))
    }

    async fn rename_chat(&self, chat: ChatId, name: &str) -> PortResult<()> {
        let cell = self.chat_cell(chat).ok_or(PortError::NotFound)?;
        let mut state = write(&cell);
        state.chat.name = name.to_owned();
        self.record(Recorded::Other(Box::new(Event::ChatRenamed {
            chat_id: chat,
            chat_name: name.to_owned(),
        })));
        Ok(())
    }

    async fn chat_summary(
        &self,
        chat: ChatId,
        viewer: ChatViewer,
    ) -> PortResult<Option<ChatSummary>> {
        Ok(self.chat_cell(chat).map(|c| read(&c).summary(viewer)))
    }

    async fn list_chats(
        &self,
        viewer: ChatViewer,
        from: ChatListCursor,
        limit: u32,
    ) -> PortResult<ChatListPage> {
        let events = EventPosition::new(super::lock(&self.events).head_number());
        let cells: Vec<_> = if viewer.every_chat {
            read(&self.chats).values().cloned().collect()
        } else {
            let ids: Vec<ChatId> = read(&self.participation)
                .get(&viewer.account)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            let chats = read(&self.chats);
            ids.iter().filter_map(|id| chats.get(id).cloned()).collect()
        };
        // One look at each chat for its place in the order; only the page's chats are
        // summarised, with the activity they were placed by (so the cursor agrees with
        // the order this page was cut from).
        let mut placed: Vec<(Timestamp, ChatId, usize)> = cells
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| {
                let state = read(cell);
                let visible = viewer.every_chat || state.takes_part(viewer.account);
                let activity = state.activity();
                (visible && activity <= from.activity()).then(|| (activity, state.chat.id, i))
            })
            .collect();
        placed.sort_by_key(|&(activity, id, _)| Reverse((activity, id)));
        let chats = placed
            .into_iter()
            .skip(from.skip() as usize)
            .take(limit as usize)
            .map(|(activity, _, i)| {
                let mut summary = read(&cells[i]).summary(viewer);
                summary.activity = activity;
                summary
            })
            .collect();
        Ok(ChatListPage { chats, events })
    }
}

#[async_trait]
impl Members for MemoryStore {
    async fn join(&self, member: &Member, reuse: bool) -> PortResult<Member> {
        let cell = self.chat_cell(member.chat_id).ok_or(PortError::NotFound)?;
        let mut chat = write(&cell);
        let account = member.account_id;
        if chat.readers.get(&account).is_some_and(|r| r.barred) {
            return Err(PortError::NotFound);
        }
        let name_key = (account, member.name.clone());
        if reuse {
            if let Some(m) = chat
                .by_name
                .get(&name_key)
                .and_then(|id| chat.members.get(id))
            {
                return Ok(m.member.clone());
            }
        }
        let reads_before = chat.takes_part(account);
        chat.member_seq += 1;
        let join_seq = chat.member_seq;
        let last_seq = chat.last_seq();
        chat.members.insert(
            member.id,
            MemberState {
                member: member.clone(),
                join_seq,
                current: true,
            },
        );
        chat.order.insert(join_seq, member.id);
        chat.by_name.entry(name_key).or_insert(member.id);
        let reader = chat.readers.entry(account).or_insert_with(Reader::default);
        reader.mine.insert(join_seq, member.id);
        reader.read_seq = reader.read_seq.max(last_seq);
        self.set_participation(account, member.chat_id, true);
        self.record(Recorded::Other(Box::new(Event::MemberJoined {
            chat_id: member.chat_id,
            user_id: member.id,
            user_name: member.name.clone(),
            account,
            reads_before,
        })));
        Ok(member.clone())
    }

    async fn member(&self, chat: ChatId, id: MemberId) -> PortResult<Option<Member>> {
        Ok(self.chat_cell(chat).and_then(|c| {
            read(&c)
                .members
                .get(&id)
                .filter(|m| m.current)
                .map(|m| m.member.clone())
        }))
    }

    async fn chat_access(&self, chat: ChatId, account: AccountId) -> PortResult<ChatAccess> {
        Ok(self.chat_access_and_end(chat, account).await?.0)
    }

    async fn chat_access_and_end(
        &self,
        chat: ChatId,
        account: AccountId,
    ) -> PortResult<(ChatAccess, Option<u64>)> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok((ChatAccess::NoChat, None));
        };
        let state = read(&cell);
        let access = if state.takes_part(account) {
            ChatAccess::Participant
        } else {
            ChatAccess::Outsider
        };
        Ok((access, Some(state.last_seq())))
    }

    async fn leave(&self, chat: ChatId, member: MemberId, bar_account: bool) -> PortResult<()> {
        let cell = self.chat_cell(chat).ok_or(PortError::NotFound)?;
        let mut state = write(&cell);
        let Some(m) = state.members.get_mut(&member).filter(|m| m.current) else {
            return Err(PortError::NotFound);
        };
        m.current = false;
        let (join_seq, account, name) = (m.join_seq, m.member.account_id, m.member.name.clone());
        state.order.remove(&join_seq);
        let name_key = (account, name);
        if state.by_name.get(&name_key) == Some(&member) {
            state.by_name.remove(&name_key);
        }
        let reader = state.readers.entry(account).or_insert_with(Reader::default);
        reader.mine.remove(&join_seq);
        reader.barred |= bar_account;
        let takes_part = state.takes_part(account);
        self.set_participation(account, chat, takes_part);
        self.record(Recorded::Other(Box::new(Event::MemberLeft {
            chat_id: chat,
            user_id: member,
            removed: bar_account,
            account,
            reads_after: takes_part,
        })));
        Ok(())
    }

    async fn members_page(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MembersPage> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok(MembersPage {
                members: Vec::new(),
                last_join_seq: 0,
            });
        };
        let state = read(&cell);
        let members = state
            .order
            .range(after.saturating_add(1)..)
            .take(limit as usize)
            .filter_map(|(&join_seq, id)| {
                state.members.get(id).map(|m| MemberEntry {
                    member: m.member.clone(),
                    join_seq,
                })
            })
            .collect();
        Ok(MembersPage {
            members,
            last_join_seq: state.member_seq,
        })
    }

    async fn mark_read(
        &self,
        chat: ChatId,
        account: AccountId,
        upto: u64,
    ) -> PortResult<ReadUpdate> {
        let cell = self.chat_cell(chat).ok_or(PortError::NotFound)?;
        let mut state = write(&cell);
        let last_seq = state.last_seq();
        if upto > last_seq {
            return Ok(ReadUpdate::BeyondEnd);
        }
        let reader = state.readers.entry(account).or_insert_with(Reader::default);
        let moved = upto > reader.read_seq;
        reader.read_seq = reader.read_seq.max(upto);
        let read_seq = reader.read_seq;
        if moved {
            self.record(Recorded::Other(Box::new(Event::ReadUpdated {
                chat_id: chat,
                account,
                read_seq,
                unread_count: last_seq.saturating_sub(read_seq),
            })));
        }
        Ok(ReadUpdate::Marked { read_seq, last_seq })
    }
}

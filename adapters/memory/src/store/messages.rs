//! `Messages` and `MessageSearch`: append (with idempotency keys and the poster's read
//! marker), paging both ways, and word/phrase search with the domain tokenizer.

use super::events::Recorded;
use super::{read, write, ChatCell, IdempotencyEntry, MemoryStore, StoredMessage};
use async_trait::async_trait;
use messenger_domain::{tokenize, ChatId, SearchHit, SearchQuery, Timestamp};
use messenger_ports::{
    AppendOutcome, MessagePage, MessageSearch, Messages, NewMessage, PortError, PortResult,
    SearchScope,
};

#[async_trait]
impl Messages for MemoryStore {
    async fn append(&self, m: NewMessage) -> PortResult<AppendOutcome> {
        let cell = self.chat_cell(m.chat_id).ok_or(PortError::NotFound)?;
        // Tokenized before any lock is taken.
        let words = tokenize(&m.text);
        // The whole check-and-store runs under the chat's lock: a racing duplicate waits
        // for the first and then sees its key.
        let mut chat = write(&cell);
        let poster = chat
            .members
            .get(&m.user_id)
            .filter(|s| s.current && m.account.is_none_or(|a| a == s.member.account_id))
            .map(|s| s.member.account_id);
        let Some(account) = poster else {
            return Ok(AppendOutcome::NotMember);
        };
        if let Some(rec) = &m.idempotency {
            if let Some(entry) = chat.keys.get(&(rec.scope.clone(), rec.key.clone())) {
                return Ok(if entry.fingerprint == rec.fingerprint {
                    AppendOutcome::Replayed(entry.message_id)
                } else {
                    AppendOutcome::KeyReused
                });
            }
        }
        let created_at = chat.last_created_at().map_or(m.now, |last| last.max(m.now));
        // On a failure of either, no message is stored (a text pushed before a failed
        // index add only takes room).
        let text = chat.texts.push(&m.text)?;
        // Indexed under the chat's lock, so the chat's messages enter the index in their
        // order; a search that sees the handle waits on this lock to read the message.
        write(&self.index).add(m.chat_id, chat.messages.len(), m.id, created_at, &words)?;
        chat.messages.push(StoredMessage {
            id: m.id,
            user_id: m.user_id,
            text,
            created_at,
        });
        if let Some(rec) = m.idempotency {
            chat.keys.insert(
                (rec.scope, rec.key),
                IdempotencyEntry {
                    fingerprint: rec.fingerprint,
                    message_id: m.id,
                    created_at: self.clock.now(),
                },
            );
        }
        // The poster has read up to its own message.
        let seq = chat.last_seq();
        let reader = chat.readers.entry(account).or_default();
        reader.read_seq = reader.read_seq.max(seq);
        self.record(Recorded::Message {
            chat: m.chat_id,
            seq,
        });
        let index = chat.messages.len() - 1;
        chat.message(index)
            .map(AppendOutcome::Stored)
            .ok_or_else(|| PortError::Internal("stored message vanished".into()))
    }

    async fn page_after(&self, chat: ChatId, after: u64, limit: u32) -> PortResult<MessagePage> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok(MessagePage {
                messages: Vec::new(),
                last_seq: 0,
            });
        };
        let chat = read(&cell);
        let last_seq = chat.messages.len() as u64;
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let end = start
            .saturating_add(limit as usize)
            .min(chat.messages.len());
        let messages = (start..end).filter_map(|i| chat.message(i)).collect();
        Ok(MessagePage { messages, last_seq })
    }

    async fn page_before(
        &self,
        chat: ChatId,
        before: Option<u64>,
        limit: u32,
    ) -> PortResult<MessagePage> {
        let Some(cell) = self.chat_cell(chat) else {
            return Ok(MessagePage {
                messages: Vec::new(),
                last_seq: 0,
            });
        };
        let chat = read(&cell);
        let last_seq = chat.last_seq();
        let end = before.map_or(last_seq, |b| b.min(last_seq));
        let start = end.saturating_sub(u64::from(limit));
        // Sequence number n is index n − 1: the page is indexes start..end.
        let messages = (start..end)
            .filter_map(|i| usize::try_from(i).ok().and_then(|i| chat.message(i)))
            .collect();
        Ok(MessagePage { messages, last_seq })
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> PortResult<u64> {
        let cells: Vec<ChatCell> = read(&self.chats).values().cloned().collect();
        let mut purged = 0;
        for cell in cells {
            let mut chat = write(&cell);
            let n = chat.keys.len();
            chat.keys.retain(|_, e| e.created_at >= before);
            purged += (n - chat.keys.len()) as u64;
        }
        Ok(purged)
    }
}

#[async_trait]
impl MessageSearch for MemoryStore {
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>> {
        let chats: Option<Vec<ChatId>> = match scope {
            SearchScope::AllChats => None,
            SearchScope::ChatsOf(account) => Some(
                read(&self.participation)
                    .get(&account)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            ),
        };
        // The index lock is released before any chat lock is taken (appends take them the
        // other way round).
        let found = read(&self.index).search(chats.as_deref(), query, cap);
        let hits = found
            .into_iter()
            .filter_map(|(chat_id, position)| {
                let cell = self.chat_cell(chat_id)?;
                let chat = read(&cell);
                chat.messages.get(position).map(|m| SearchHit {
                    message_id: m.id,
                    chat_id,
                    text: chat.texts.get(m.text).to_owned(),
                    user_name: chat.name_of(m.user_id).to_owned(),
                    created_at: m.created_at,
                })
            })
            .collect();
        Ok(hits)
    }
}

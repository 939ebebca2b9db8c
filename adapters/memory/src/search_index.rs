//! An inverted index over every stored message, filled as messages are appended, so a
//! search reads the postings of its words instead of tokenizing the whole store again.
//!
//! Messages get a handle (`u32`, in append order). Each word of the domain tokenizer
//! gets an id; its postings are the handles of the messages holding it (once per message,
//! ascending). The word ids of every message are also kept in order in one arena, so a
//! phrase is checked on the candidate's words without its text. Per message that is about
//! 36 bytes plus 8 bytes per word: no strings are cloned.
//!
//! Handle order is not result order: created_at is monotonic within a chat only. Results
//! are the `cap` newest matches by (created_at, message id); the walk goes from the
//! newest handle down and stops once no older handle can beat the kept ones, which a
//! running maximum of created_at per block of handles tells.

use messenger_domain::{ChatId, MessageId, SearchQuery, Term, Timestamp};
use messenger_ports::{PortError, PortResult};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Handles per block of the running created_at maximum.
const BLOCK_SHIFT: u32 = 8;

/// What the index keeps of a message: enough to order and scope hits, and to find the
/// message in its chat.
struct Entry {
    id: MessageId,
    created_at: Timestamp,
    /// The chat's slot (see `SearchIndex::chat_ids`).
    chat: u32,
    /// The message's position in its chat.
    position: u32,
}

/// The index. Append-only, like the messages it covers.
#[derive(Default)]
pub(crate) struct SearchIndex {
    /// Word → word id.
    words: HashMap<Box<str>, u32>,
    /// Word id → handles of the messages holding it, ascending.
    postings: Vec<Vec<u32>>,
    /// Handle → message.
    entries: Vec<Entry>,
    /// Handle → start of its words in `sequence` (the end is the next one's start).
    starts: Vec<u32>,
    /// Every message's word ids, in order, one message after another.
    sequence: Vec<u32>,
    /// Block → the greatest created_at of every handle up to the end of that block.
    block_max: Vec<Timestamp>,
    /// Chat → slot, and back.
    chat_slots: HashMap<ChatId, u32>,
    chat_ids: Vec<ChatId>,
    /// Slot → the handles of the chat's messages, ascending: a search over a few small
    /// chats walks these rather than the postings of a word common everywhere.
    chat_handles: Vec<Vec<u32>>,
}

/// The `cap` newest candidates so far (a min-heap on the sort key).
struct Best {
    cap: usize,
    heap: BinaryHeap<Reverse<(Timestamp, MessageId, u32)>>,
}

impl Best {
    /// Whether no handle up to `handle` can enter any more: the heap is full and every
    /// such handle is older than the oldest kept (equal times may still win on the id).
    fn closed(&self, index: &SearchIndex, handle: u32) -> bool {
        self.heap.len() == self.cap
            && self.heap.peek().is_some_and(|Reverse(min)| {
                index.block_max[(handle >> BLOCK_SHIFT) as usize] < min.0
            })
    }

    fn offer(&mut self, entry: &Entry, handle: u32) {
        self.heap
            .push(Reverse((entry.created_at, entry.id, handle)));
        if self.heap.len() > self.cap {
            self.heap.pop();
        }
    }
}

fn full() -> PortError {
    PortError::Internal("the search index is full (2^32 messages or words)".into())
}

impl SearchIndex {
    /// Indexes the message at `position` of `chat` with its `words` (from the domain
    /// tokenizer). Call it under the chat's lock, in the chat's order, before the message
    /// becomes visible; on error nothing was indexed.
    pub(crate) fn add(
        &mut self,
        chat: ChatId,
        position: usize,
        id: MessageId,
        created_at: Timestamp,
        words: &[String],
    ) -> PortResult<()> {
        let handle = u32::try_from(self.entries.len()).map_err(|_| full())?;
        let start = u32::try_from(self.sequence.len()).map_err(|_| full())?;
        u32::try_from(self.sequence.len() + words.len()).map_err(|_| full())?;
        let position = u32::try_from(position).map_err(|_| full())?;
        let slot = match self.chat_slots.get(&chat) {
            Some(s) => *s,
            None => {
                let s = u32::try_from(self.chat_ids.len()).map_err(|_| full())?;
                self.chat_slots.insert(chat, s);
                self.chat_ids.push(chat);
                self.chat_handles.push(Vec::new());
                s
            }
        };
        for w in words {
            let word = match self.words.get(w.as_str()) {
                Some(id) => *id,
                None => {
                    let id = u32::try_from(self.postings.len()).map_err(|_| full())?;
                    self.words.insert(w.as_str().into(), id);
                    self.postings.push(Vec::new());
                    id
                }
            };
            self.sequence.push(word);
            let list = &mut self.postings[word as usize];
            // A word repeated in one message is posted once.
            if list.last() != Some(&handle) {
                list.push(handle);
            }
        }
        self.entries.push(Entry {
            id,
            created_at,
            chat: slot,
            position,
        });
        self.starts.push(start);
        self.chat_handles[slot as usize].push(handle);
        let block = (handle >> BLOCK_SHIFT) as usize;
        if block == self.block_max.len() {
            let before = self.block_max.last().copied().unwrap_or(created_at);
            self.block_max.push(before.max(created_at));
        } else if let Some(last) = self.block_max.last_mut() {
            *last = (*last).max(created_at);
        }
        Ok(())
    }

    fn words_of(&self, handle: u32) -> &[u32] {
        let h = handle as usize;
        let start = self.starts[h] as usize;
        let end = self
            .starts
            .get(h + 1)
            .map_or(self.sequence.len(), |e| *e as usize);
        &self.sequence[start..end]
    }

    /// The `cap` newest messages matching `query` by (created_at, message id), newest
    /// first, as (chat, position in the chat). `scope` limits the chats (`None`: all).
    pub(crate) fn search(
        &self,
        scope: Option<&[ChatId]>,
        query: &SearchQuery,
        cap: u32,
    ) -> Vec<(ChatId, usize)> {
        if cap == 0 {
            return Vec::new();
        }
        // Every word of every term, and each phrase as word ids; a word never seen
        // means no message can match.
        let mut required: Vec<u32> = Vec::new();
        let mut phrases: Vec<Vec<u32>> = Vec::new();
        for term in query.terms() {
            let ids: Option<Vec<u32>> = match term {
                Term::Word(w) => self.words.get(w.as_str()).map(|id| vec![*id]),
                Term::Phrase(ws) => ws
                    .iter()
                    .map(|w| self.words.get(w.as_str()).copied())
                    .collect(),
            };
            let Some(ids) = ids else {
                return Vec::new();
            };
            if let Term::Phrase(_) = term {
                phrases.push(ids.clone());
            }
            required.extend(ids);
        }
        required.sort_unstable();
        required.dedup();
        let slots: Option<Vec<u32>> = scope.map(|chats| {
            chats
                .iter()
                .filter_map(|c| self.chat_slots.get(c).copied())
                .collect()
        });
        if slots.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
        // The rarest word's postings, or the scope's own messages when fewer.
        let mut lists: Vec<&[u32]> = required
            .iter()
            .map(|w| self.postings[*w as usize].as_slice())
            .collect();
        lists.sort_by_key(|l| l.len());
        let Some(rarest) = lists.first().map(|l| l.len()) else {
            return Vec::new();
        };
        let mut best = Best {
            cap: cap as usize,
            heap: BinaryHeap::with_capacity((cap as usize).min(4096) + 1),
        };
        let scope_size: Option<usize> = slots
            .as_ref()
            .map(|s| s.iter().map(|c| self.chat_handles[*c as usize].len()).sum());
        match (slots, scope_size) {
            (Some(slots), Some(size)) if size < rarest => {
                self.walk_chats(&slots, &required, &phrases, &mut best);
            }
            (slots, _) => self.walk_postings(slots.as_deref(), &mut lists, &phrases, &mut best),
        }
        let mut kept: Vec<_> = best.heap.into_iter().map(|Reverse(k)| k).collect();
        kept.sort_unstable_by_key(|k| Reverse((k.0, k.1)));
        kept.into_iter()
            .map(|(_, _, handle)| {
                let e = &self.entries[handle as usize];
                (self.chat_ids[e.chat as usize], e.position as usize)
            })
            .collect()
    }

    fn phrases_hold(&self, handle: u32, phrases: &[Vec<u32>]) -> bool {
        let words = self.words_of(handle);
        phrases
            .iter()
            .all(|p| words.windows(p.len()).any(|w| w == p.as_slice()))
    }

    /// Walks the postings of the rarest word (`lists[0]`) from the newest handle down,
    /// looking each candidate up in the other words' postings.
    fn walk_postings(
        &self,
        slots: Option<&[u32]>,
        lists: &mut [&[u32]],
        phrases: &[Vec<u32>],
        best: &mut Best,
    ) {
        let Some((driver, others)) = lists.split_first_mut() else {
            return;
        };
        let in_scope = slots.map(|slots| {
            let mut bits = vec![0u64; self.chat_ids.len().div_ceil(64)];
            for slot in slots {
                bits[(*slot >> 6) as usize] |= 1 << (slot & 63);
            }
            bits
        });
        'walk: for &handle in driver.iter().rev() {
            if best.closed(self, handle) {
                break;
            }
            let entry = &self.entries[handle as usize];
            if let Some(bits) = &in_scope {
                if bits[(entry.chat >> 6) as usize] & (1 << (entry.chat & 63)) == 0 {
                    continue;
                }
            }
            // Handles come in descending order, so each other list is only searched in
            // the part below the previous candidate.
            for list in others.iter_mut() {
                let at = list.partition_point(|x| *x < handle);
                let found = list.get(at) == Some(&handle);
                *list = &list[..at];
                if !found {
                    continue 'walk;
                }
            }
            if !phrases.is_empty() && !self.phrases_hold(handle, phrases) {
                continue;
            }
            best.offer(entry, handle);
        }
    }

    /// Walks the messages of the scope's chats from the newest handle down (merging the
    /// chats' handle lists), checking each one's words.
    fn walk_chats(&self, slots: &[u32], required: &[u32], phrases: &[Vec<u32>], best: &mut Best) {
        // (next handle, chat, how many of the chat's handles are left below it)
        let mut heads: BinaryHeap<(u32, usize, usize)> = BinaryHeap::with_capacity(slots.len());
        for (k, slot) in slots.iter().enumerate() {
            let handles = &self.chat_handles[*slot as usize];
            if let Some(last) = handles.last() {
                heads.push((*last, k, handles.len() - 1));
            }
        }
        while let Some((handle, k, below)) = heads.pop() {
            if best.closed(self, handle) {
                break;
            }
            if below > 0 {
                let handles = &self.chat_handles[slots[k] as usize];
                heads.push((handles[below - 1], k, below - 1));
            }
            let words = self.words_of(handle);
            if !required.iter().all(|w| words.contains(w)) {
                continue;
            }
            if !phrases.is_empty() && !self.phrases_hold(handle, phrases) {
                continue;
            }
            best.offer(&self.entries[handle as usize], handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::tokenize;

    /// A message of the reference corpus.
    struct Doc {
        chat: ChatId,
        position: usize,
        id: MessageId,
        created_at: Timestamp,
        text: String,
    }

    /// The reference: scan and tokenize every message, sort, cut.
    fn scan(
        docs: &[Doc],
        scope: Option<&[ChatId]>,
        q: &SearchQuery,
        cap: u32,
    ) -> Vec<(ChatId, usize)> {
        let mut hits: Vec<&Doc> = docs
            .iter()
            .filter(|d| scope.is_none_or(|s| s.contains(&d.chat)))
            .filter(|d| q.matches(&d.text))
            .collect();
        hits.sort_by_key(|d| Reverse((d.created_at, d.id)));
        hits.truncate(cap as usize);
        hits.iter().map(|d| (d.chat, d.position)).collect()
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random texts over a small vocabulary (so phrases and repeats occur), in chats
    /// whose clocks disagree (created_at is monotonic per chat only; the first chat's
    /// stands still, so every one of its messages ties with the others) with ties across
    /// chats and random ids: every query gives exactly the scan's hits, in order.
    #[test]
    fn gives_exactly_the_hits_of_a_full_scan() {
        const VOCAB: [&str; 8] = [
            "Alpha",
            "beta",
            "gamma",
            "δέλτα",
            "ΣΊΣΥΦΟΣ",
            "x",
            "東京",
            "e-mail",
        ];
        let mut rng = Rng(0x5eed);
        let chats: Vec<ChatId> = (1..=5).map(ChatId::from_u128).collect();
        let mut index = SearchIndex::default();
        let mut docs: Vec<Doc> = Vec::new();
        let mut clocks = [9000i64, 5000, 0, 100, 2000];
        let mut positions = [0usize; 5];
        for _ in 0..2000 {
            let c = rng.below(5) as usize;
            if c > 0 {
                clocks[c] += rng.below(3) as i64;
            }
            let n = 1 + rng.below(6);
            let text: Vec<&str> = (0..n).map(|_| VOCAB[rng.below(8) as usize]).collect();
            let doc = Doc {
                chat: chats[c],
                position: positions[c],
                id: MessageId::from_u128(u128::from(rng.below(1 << 40))),
                created_at: Timestamp::from_micros(clocks[c]),
                text: text.join(" "),
            };
            positions[c] += 1;
            index
                .add(
                    doc.chat,
                    doc.position,
                    doc.id,
                    doc.created_at,
                    &tokenize(&doc.text),
                )
                .unwrap();
            docs.push(doc);
        }
        let queries = [
            "alpha",
            "beta gamma",
            "\"beta gamma\"",
            "\"gamma beta\" alpha",
            "σίσυφος",
            "\"x x\"",
            "\"mail alpha\" 東京",
            "nothing",
            "\"alpha nothing\"",
            "e-mail",
        ];
        let scopes: [Option<&[ChatId]>; 4] =
            [None, Some(&chats[..1]), Some(&chats[1..4]), Some(&[])];
        for text in queries {
            let q = SearchQuery::parse(text).unwrap();
            for scope in scopes {
                for cap in [1, 7, 100, 5000] {
                    assert_eq!(
                        index.search(scope, &q, cap),
                        scan(&docs, scope, &q, cap),
                        "{text:?} in {scope:?}, cap {cap}"
                    );
                }
            }
        }
        assert!(index
            .search(None, &SearchQuery::parse("alpha").unwrap(), 0)
            .is_empty());
    }
}

//! Stores N messages (default 1,000,000) over 1,000 chats in a `MemoryStore`, prints the
//! process's RSS before and after, then times `search` for the query shapes of the
//! conformance suite (words, several words, phrases, a phrase in the wrong order, an
//! absent word), over every chat and over the 10 chats of one account.
//!
//! ```text
//! cargo run --release -p messenger-memory --example mem_search_bench -- 1000000
//! ```
//!
//! `ITER` (default 30) sets the searches per row. The texts are those of the PostgreSQL
//! adapter's `pg_bench`: 5 to 20 words from a 20,000-word vocabulary drawn log-uniformly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use messenger_domain::{
    AccountId, Chat, ChatId, Member, MemberId, MessageId, SearchQuery, Timestamp,
};
use messenger_memory::{MemoryStore, SystemClock};
use messenger_ports::{Chats, Members, MessageSearch, Messages, NewMessage, SearchScope};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn text(rng: &mut Rng) -> String {
    let n = 5 + rng.next() % 16;
    let mut t = String::new();
    for k in 0..n {
        if k > 0 {
            t.push(' ');
        }
        let i = (20_000f64.powf(rng.unit()) as u64).saturating_sub(1);
        t.push_str(&format!("word{i}"));
    }
    t
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

fn report(label: &str, mut samples: Vec<Duration>, hits: usize) {
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{label:<52} {hits:>5} hits  p50={:>9.3?} p99={:>9.3?}",
        at(0.5),
        at(0.99)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().unwrap());
    let iters: usize = std::env::var("ITER").map_or(30, |s| s.parse().unwrap());
    let store = MemoryStore::new(Arc::new(SystemClock));
    let (ann, other) = (AccountId::from_u128(1), AccountId::from_u128(2));
    let mut members = Vec::new();
    for c in 0..1000u128 {
        let creator = if c < 10 { ann } else { other };
        let chat = Chat {
            id: ChatId::from_u128(uuid::Uuid::new_v4().as_u128()),
            name: format!("chat {c}"),
            creator,
            created_at: Timestamp::from_micros(0),
        };
        store.insert_chat(&chat).await.unwrap();
        let member = Member {
            id: MemberId::from_u128(uuid::Uuid::new_v4().as_u128()),
            chat_id: chat.id,
            account_id: creator,
            name: format!("member {c}"),
            joined_at: Timestamp::from_micros(0),
        };
        members.push(store.join(&member, true).await.unwrap());
    }
    let before = rss_mib();
    println!("RSS before seeding: {before:.1} MiB");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let start = Instant::now();
    for i in 0..n {
        let m = &members[(rng.next() % 1000) as usize];
        let new = NewMessage {
            id: MessageId::from_u128(uuid::Uuid::new_v4().as_u128()),
            chat_id: m.chat_id,
            user_id: m.id,
            account: Some(m.account_id),
            text: text(&mut rng),
            now: Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * 1000),
            idempotency: None,
        };
        store.append(new).await.unwrap();
    }
    let after = rss_mib();
    println!(
        "stored {n} messages in 1,000 chats in {:.1?}; RSS after: {after:.1} MiB (+{:.1} MiB)",
        start.elapsed(),
        after - before
    );
    for (label, q) in [
        ("a common word", "word0"),
        ("a mid word", "word150"),
        ("a rare word", "word15000"),
        ("two words", "word1 word2"),
        ("two words, other order", "word2 word1"),
        ("two mid words", "word150 word300"),
        ("a phrase", "\"word0 word1\""),
        ("a phrase, other order", "\"word1 word0\""),
        ("a mid phrase", "\"word150 word151\""),
        ("an absent word", "nothing matches"),
    ] {
        let q = SearchQuery::parse(q).unwrap();
        for (scope_label, scope) in [
            ("all chats", SearchScope::AllChats),
            ("10 chats", SearchScope::ChatsOf(ann)),
        ] {
            let mut samples = Vec::with_capacity(iters);
            let mut hits = 0;
            for _ in 0..iters {
                let t = Instant::now();
                hits = store.search(scope, &q, 1000).await.unwrap().len();
                samples.push(t.elapsed());
            }
            report(&format!("{label} ({scope_label})"), samples, hits);
        }
    }
}

//! Search: the domain's matching rule exactly, the scope, the order, the cap — and the
//! same hits as the memory adapter for the same data.

use crate::helpers::*;
use messenger_domain::{AccountId, Chat, Member, SearchQuery};
use messenger_memory::{ManualClock, MemoryStore};
use messenger_ports::{Chats, Members, MessageSearch, SearchScope};
use std::sync::Arc;

/// Both stores, fed the same data.
struct Pair {
    pg: messenger_postgres::PgStore,
    mem: MemoryStore,
}

impl Pair {
    async fn chat(&self, chat: &Chat) {
        self.pg.insert_chat(chat).await.unwrap();
        self.mem.insert_chat(chat).await.unwrap();
    }

    async fn join(&self, m: &Member) {
        self.pg.join(m, true).await.unwrap();
        self.mem.join(m, true).await.unwrap();
    }

    async fn post(&self, chat: &Chat, m: &Member, text: &str, now: i64) {
        let msg = new_message(chat.id, m, text, now);
        let a = post(&self.pg, msg.clone()).await;
        let b = post(&self.mem, msg).await;
        assert_eq!(a, b);
    }

    async fn same_hits(&self, scope: SearchScope, query: &str, cap: u32) -> Vec<String> {
        let q = SearchQuery::parse(query).unwrap();
        let a = self.pg.search(scope, &q, cap).await.unwrap();
        let b = self.mem.search(scope, &q, cap).await.unwrap();
        assert_eq!(a, b, "query {query:?} cap {cap} scope {scope:?}");
        a.into_iter().map(|h| h.text).collect()
    }
}

async fn pair(schema: &TestSchema) -> Pair {
    Pair {
        pg: schema.store().await,
        mem: MemoryStore::new(Arc::new(ManualClock::new(ts(0)))),
    }
}

#[tokio::test]
async fn words_phrases_case_and_non_ascii_match_as_the_domain_says() {
    let Some(schema) = TestSchema::new("words_phrases_case_and_non_ascii_match") else {
        return;
    };
    let p = pair(&schema).await;
    let owner = AccountId::from_u128(id());
    let chat = chat_by(owner);
    p.chat(&chat).await;
    let m = member_of(chat.id, owner, "me");
    p.join(&m).await;
    let texts = [
        "Hello big World",
        "world hello",
        "hello worldwide",
        "e-mail me at bob@example.com, or visit https://example.com/path?q=1",
        "Привет, мир! 東京タワー Ärger über Öl",
        "it's O'Reilly's \\backslash\\ book",
        "the quick brown fox jumps",
        "quick the brown",
        "x2 and 2x and 42",
    ];
    for (i, t) in texts.iter().enumerate() {
        p.post(&chat, &m, t, 1_000 + i as i64).await;
    }
    let all = SearchScope::AllChats;
    assert_eq!(
        p.same_hits(all, "HELLO world", 100).await,
        ["world hello", "Hello big World"]
    );
    assert_eq!(
        p.same_hits(all, "\"hello big world\"", 100).await,
        ["Hello big World"]
    );
    assert_eq!(p.same_hits(all, "\"big hello\"", 100).await.len(), 0);
    assert_eq!(p.same_hits(all, "example com", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "bob example", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "ПРИВЕТ мир", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "ärger ÖL", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "東京タワー", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "o'reilly's", 100).await.len(), 1);
    assert_eq!(
        p.same_hits(all, "\"reilly s\" backslash", 100).await.len(),
        1
    );
    assert_eq!(p.same_hits(all, "“quick brown” fox", 100).await.len(), 1);
    assert_eq!(p.same_hits(all, "quick brown", 100).await.len(), 2);
    assert_eq!(
        p.same_hits(all, "\"quick brown", 100).await.len(),
        1,
        "unclosed quote"
    );
    assert_eq!(p.same_hits(all, "x2 42", 100).await.len(), 1);
    assert_eq!(
        p.same_hits(all, "worl", 100).await.len(),
        0,
        "whole words only"
    );
    assert_eq!(
        p.same_hits(all, "hello world", 1).await,
        ["world hello"],
        "cap"
    );
}

#[tokio::test]
async fn a_phrase_past_a_words_256th_repeat_is_still_found() {
    let Some(schema) = TestSchema::new("a_phrase_past_a_words_256th_repeat_is_still_found") else {
        return;
    };
    let p = pair(&schema).await;
    let owner = AccountId::from_u128(id());
    let chat = chat_by(owner);
    p.chat(&chat).await;
    let m = member_of(chat.id, owner, "me");
    p.join(&m).await;
    let long = format!("{} tail end", "la ".repeat(300));
    p.post(&chat, &m, &long, 1).await;
    // Many repeats but no such phrase: selected as a candidate, then refused.
    p.post(&chat, &m, &format!("{} end tail", "la ".repeat(300)), 2)
        .await;
    assert_eq!(
        p.same_hits(SearchScope::AllChats, "\"la tail end\"", 10)
            .await,
        [long]
    );
    assert_eq!(
        p.same_hits(SearchScope::AllChats, "\"la la la\"", 10)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn scope_is_the_chats_an_account_created_or_joined_newest_first() {
    let Some(schema) = TestSchema::new("scope_is_the_chats_an_account_created_or_joined") else {
        return;
    };
    let p = pair(&schema).await;
    let alice = AccountId::from_u128(id());
    let bob = AccountId::from_u128(id());
    let carol = AccountId::from_u128(id());
    let created = chat_by(alice);
    let joined = chat_by(bob);
    let foreign = chat_by(carol);
    for c in [&created, &joined, &foreign] {
        p.chat(c).await;
    }
    let ma = member_of(created.id, alice, "a");
    let mj = member_of(joined.id, alice, "a");
    let mc = member_of(foreign.id, carol, "c");
    for m in [&ma, &mj, &mc] {
        p.join(m).await;
    }
    // Equal times: the order falls back to the message id, newest first.
    p.post(&created, &ma, "needle one", 10).await;
    p.post(&joined, &mj, "needle two", 10).await;
    p.post(&foreign, &mc, "needle three", 30).await;
    p.post(&created, &ma, "needle four", 20).await;

    let mine = p
        .same_hits(SearchScope::ChatsOf(alice), "needle", 100)
        .await;
    assert_eq!(mine.len(), 3);
    assert_eq!(mine[0], "needle four");
    assert_eq!(
        p.same_hits(SearchScope::AllChats, "needle", 100).await[0],
        "needle three"
    );
    assert_eq!(
        p.same_hits(SearchScope::ChatsOf(bob), "needle", 100).await,
        ["needle two"]
    );
    assert!(p
        .same_hits(
            SearchScope::ChatsOf(AccountId::from_u128(id())),
            "needle",
            100
        )
        .await
        .is_empty());
}

/// A small deterministic generator (no dependency needed for this).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[tokio::test]
async fn random_data_gives_the_same_hits_as_the_memory_adapter() {
    let Some(schema) = TestSchema::new("random_data_gives_the_same_hits_as_the_memory_adapter")
    else {
        return;
    };
    let p = pair(&schema).await;
    let vocab = [
        "alpha", "Beta", "gamma", "delta", "ÉPSILON", "zeta", "eta", "θήτα", "iota", "kappa",
    ];
    // Two rare words: statistics make searches for common words walk the newest
    // messages, for rare ones read the GIN index, and over small scopes read the scope.
    let rare = ["Omicron", "sampi"];
    let seps = [" ", ", ", "-", "... ", "\n", "'", "@"];
    let accounts: Vec<AccountId> = (0..3).map(|_| AccountId::from_u128(id())).collect();
    let mut rng = Lcg(42);
    let mut chats = Vec::new();
    for i in 0..4 {
        let chat = chat_by(accounts[i % 3]);
        p.chat(&chat).await;
        let joiner = accounts[rng.next(3)];
        let m = member_of(chat.id, joiner, "m");
        p.join(&m).await;
        chats.push((chat, m));
    }
    for i in 0..200 {
        let (chat, m) = &chats[rng.next(chats.len())];
        let n = 1 + rng.next(8);
        let mut text = String::new();
        for _ in 0..n {
            let word = if rng.next(60) == 0 {
                rare[rng.next(rare.len())]
            } else {
                vocab[rng.next(vocab.len())]
            };
            text.push_str(word);
            text.push_str(seps[rng.next(seps.len())]);
        }
        // Some messages share a time, so the id decides their order.
        p.post(chat, m, &text, (i / 3) as i64).await;
    }
    // Messages outside every scope searched, matching no query: the scopes are a small
    // part of the table, so reading a scope whole beats walking the newest messages.
    let outsider = chat_by(AccountId::from_u128(id()));
    p.chat(&outsider).await;
    let filler = member_of(outsider.id, outsider.creator, "f");
    p.join(&filler).await;
    for i in 0..600 {
        p.post(&outsider, &filler, "filler", i).await;
    }
    // Statistics, read by the first search.
    schema
        .client()
        .await
        .batch_execute("ANALYZE messages")
        .await
        .unwrap();
    let (mut compared, mut with_hits) = (0u32, 0u32);
    for _ in 0..120 {
        let n = 1 + rng.next(3);
        let mut q = String::new();
        let quoted = rng.next(3) == 0;
        if quoted {
            q.push('"');
        }
        for k in 0..n {
            if k > 0 {
                q.push(' ');
            }
            let word = if rng.next(4) == 0 {
                rare[rng.next(rare.len())]
            } else {
                vocab[rng.next(vocab.len())]
            };
            q.push_str(&word.to_uppercase());
        }
        if quoted {
            q.push('"');
        }
        if SearchQuery::parse(&q).is_err() {
            continue;
        }
        let cap = [1, 5, 1000][rng.next(3)];
        let scope = if rng.next(2) == 0 {
            SearchScope::AllChats
        } else {
            SearchScope::ChatsOf(accounts[rng.next(3)])
        };
        let hits = p.same_hits(scope, &q, cap).await;
        compared += 1;
        if !hits.is_empty() {
            with_hits += 1;
        }
    }
    // Agreeing on nothing would prove nothing: most queries find something.
    println!("{compared} queries compared, {with_hits} with hits");
    assert!(compared >= 60, "only {compared} queries compared");
    assert!(
        with_hits * 2 >= compared,
        "only {with_hits} of {compared} queries found anything"
    );
}

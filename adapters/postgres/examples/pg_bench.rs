//! Seeds one chat with N messages through the adapter, then times `page_after` at the
//! start and deep in the chat, and `search` over all of them.
//!
//! ```text
//! MESSENGER_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test \
//!   cargo run --release -p messenger-postgres --example pg_bench -- 1000000
//! ```
//!
//! `APPEND_SECS` (15) sets how long 32 writers append into one chat, then into 32 chats;
//! `APPEND_ONLY=1` stops after that.
//!
//! `SEARCH_SCHEMA=<schema>` only times the searches over a schema seeded beforehand with
//! `examples/seed_search.sql` (`psql -v schema=<schema> -f …`) or `bench/seed_chat.sql`
//! (`SEARCH_ACCOUNT=<the chat's creator>`); `EXPLAIN=1` prints the way each is read and
//! `EXPLAIN (ANALYZE, BUFFERS)` of it instead.
//!
//! It works in a fresh schema (`messenger_bench_<random>`) that it drops at the end
//! (`KEEP=1` keeps it). Seeding commits without waiting for the WAL flush
//! (`synchronous_commit=off` for the seeding connections only): it measures reads, and a
//! million fsyncs would take most of an hour on a small machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use messenger_domain::{
    AccountId, Chat, ChatId, Member, MemberId, MessageId, SearchQuery, Timestamp,
};
use messenger_ports::{Chats, Members, MessageSearch, Messages, NewMessage, SearchScope};
use messenger_postgres::{PgConfig, PgStore};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A small xorshift generator: deterministic data without a dependency.
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

/// Word `i` of a 20,000-word vocabulary; low indices are drawn far more often (log-uniform),
/// so some words are common and most are rare, as in real chats.
fn word(rng: &mut Rng) -> String {
    let i = (20_000f64.powf(rng.unit()) as u64).saturating_sub(1);
    format!("word{i}")
}

fn text(rng: &mut Rng) -> String {
    let n = 5 + rng.next() % 16;
    let mut t = String::new();
    for k in 0..n {
        if k > 0 {
            t.push(' ');
        }
        t.push_str(&word(rng));
    }
    t
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{label:<48} n={:<5} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

/// Times `calls` sequential page reads after positions from `after`.
async fn pages(
    store: &PgStore,
    chat: ChatId,
    after: impl Fn(usize) -> u64,
    calls: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls {
        let t = Instant::now();
        let page = store.page_after(chat, after(i), 100).await.unwrap();
        out.push(t.elapsed());
        assert!(!page.messages.is_empty());
    }
    out
}

/// Times page reads from `clients` concurrent tasks, `each` reads per task.
async fn concurrent_pages(
    store: &PgStore,
    chat: ChatId,
    last: u64,
    clients: usize,
    each: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9 + c as u64);
            let mut out = Vec::with_capacity(each);
            for _ in 0..each {
                let after = (rng.next() % (last / 100)) * 100;
                let t = Instant::now();
                store.page_after(chat, after, 100).await.unwrap();
                out.push(t.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, start.elapsed())
}

/// Durable appends (synchronous commit, as the service runs) from 32 writers, each to its
/// own chat or all to one, for `secs`: the adapter's side of "POST vs a raw INSERT"
/// (pgbench).
async fn append_rate(store: &PgStore, account: AccountId, secs: Duration, one_chat: bool) {
    let stop = Instant::now() + secs;
    let shared = ChatId::from_u128(uuid::Uuid::new_v4().as_u128());
    let mut tasks = Vec::new();
    for w in 0..32u128 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = if one_chat {
                shared
            } else {
                ChatId::from_u128(uuid::Uuid::new_v4().as_u128())
            };
            let chat = Chat {
                id,
                name: format!("writer {w}"),
                creator: account,
                created_at: Timestamp::from_micros(0),
            };
            // With one chat, the first writer creates it and the others find it there.
            let _ = store.insert_chat(&chat).await;
            let member = Member {
                id: MemberId::from_u128(uuid::Uuid::new_v4().as_u128()),
                chat_id: chat.id,
                account_id: account,
                name: "writer".into(),
                joined_at: Timestamp::from_micros(0),
            };
            store.join(&member, true).await.unwrap();
            let mut rng = Rng(0x1234_5678 + w as u64);
            let mut samples = Vec::new();
            while Instant::now() < stop {
                let m = NewMessage {
                    id: MessageId::from_u128(uuid::Uuid::new_v4().as_u128()),
                    chat_id: chat.id,
                    user_id: member.id,
                    account: Some(member.account_id),
                    text: text(&mut rng),
                    now: Timestamp::from_micros(1_700_000_000_000_000),
                    idempotency: None,
                };
                let t = Instant::now();
                store.append(m).await.unwrap();
                samples.push(t.elapsed());
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let chats = if one_chat { "one chat" } else { "32 chats" };
    println!(
        "durable appends: {:.0} messages/s from 32 writers to {chats}",
        all.len() as f64 / secs.as_secs_f64()
    );
    report("append (synchronous commit), 32 concurrent", all);
}

/// The query shapes of the conformance suite (words, several words, phrases, a phrase in
/// the other order, an absent word) over the seeded vocabulary.
const SHAPES: [(&str, &str); 9] = [
    ("search a common word", "word0"),
    ("search a mid word", "word150"),
    ("search a rare word", "word15000"),
    ("search two words", "word1 word2"),
    ("search two mid words", "word150 word300"),
    ("search a phrase", "\"word0 word1\""),
    ("search a phrase, other order", "\"word1 word0\""),
    ("search a mid phrase", "\"word150 word151\""),
    ("search an absent word", "nothing matches"),
];

/// Times `search` for the query shapes of the conformance suite (words, several words,
/// phrases, a phrase in the other order, an absent word), over every chat and over the
/// chats of `account`, 20 times each.
async fn search_shapes(store: &PgStore, account: AccountId) {
    for (label, q) in SHAPES {
        let q = SearchQuery::parse(q).unwrap();
        for (scope_label, scope) in [
            ("all chats", SearchScope::AllChats),
            ("chats of the account", SearchScope::ChatsOf(account)),
        ] {
            let mut samples = Vec::new();
            let mut hits = 0;
            for _ in 0..20 {
                let t = Instant::now();
                hits = store.search(scope, &q, 1000).await.unwrap().len();
                samples.push(t.elapsed());
            }
            report(&format!("{label} ({scope_label}, {hits} hits)"), samples);
        }
    }
}

/// Prints the way each query shape is read and `EXPLAIN (ANALYZE, BUFFERS)` of it, over
/// the chats of `account` (the scope a search over the API has).
async fn explain_shapes(store: &PgStore, account: AccountId) {
    for (label, q) in SHAPES {
        let query = SearchQuery::parse(q).unwrap();
        let (plan, lines) = store
            .explain_search(SearchScope::ChatsOf(account), &query, 1000)
            .await
            .unwrap();
        println!("\n-- {label}: {q} (plan {plan})");
        for line in lines {
            println!("{line}");
        }
    }
}

/// Drops the bench's schema (unless `KEEP` is set).
async fn client_drop(url: &str, schema: &str) {
    if std::env::var("KEEP").is_ok() {
        return;
    }
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    println!("dropped schema {schema}");
}

#[tokio::main]
async fn main() {
    let url = std::env::var("MESSENGER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    // Searches only, over a schema seeded beforehand (`examples/seed_search.sql`: 1,000,000
    // messages in a minute, the searches' account being the first one).
    if let Ok(schema) = std::env::var("SEARCH_SCHEMA") {
        let store = PgStore::without_migrating(
            &PgConfig::from_url(&url)
                .unwrap()
                .with_schema(&schema)
                .unwrap()
                .with_pool_size(4),
        )
        .unwrap();
        // The searching account: SEARCH_ACCOUNT (a uuid, e.g. the creator of a chat seeded
        // with bench/seed_chat.sql), else seed_search.sql's first account.
        let account = std::env::var("SEARCH_ACCOUNT").map_or(AccountId::from_u128(1), |a| {
            AccountId::from_u128(uuid::Uuid::parse_str(&a).unwrap().as_u128())
        });
        println!("searching the messages of schema {schema}");
        if std::env::var("EXPLAIN").is_ok() {
            explain_shapes(&store, account).await;
        } else {
            search_shapes(&store, account).await;
        }
        return;
    }
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().unwrap());
    let schema = format!("messenger_bench_{}", uuid::Uuid::new_v4().simple());
    let config = PgConfig::from_url(&url)
        .unwrap()
        .with_schema(&schema)
        .unwrap()
        .with_pool_size(32)
        .with_dependency_timeout(Duration::from_secs(30));
    let store = PgStore::connect(&config, Duration::from_secs(10))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let seeding = PgStore::without_migrating(
        &PgConfig::from_url(&format!("{url}{sep}options=-c%20synchronous_commit%3Doff"))
            .unwrap()
            .with_schema(&schema)
            .unwrap()
            .with_pool_size(8)
            .with_dependency_timeout(Duration::from_secs(30)),
    )
    .unwrap();

    let account = AccountId::from_u128(1);
    let chat = Chat {
        id: ChatId::from_u128(uuid::Uuid::new_v4().as_u128()),
        name: "bench".into(),
        creator: account,
        created_at: Timestamp::from_micros(0),
    };
    store.insert_chat(&chat).await.unwrap();
    let member = store
        .join(
            &Member {
                id: MemberId::from_u128(2),
                chat_id: chat.id,
                account_id: account,
                name: "bencher".into(),
                joined_at: Timestamp::from_micros(0),
            },
            true,
        )
        .await
        .unwrap();

    let secs: u64 = std::env::var("APPEND_SECS").map_or(15, |s| s.parse().unwrap());
    if secs > 0 {
        append_rate(&store, account, Duration::from_secs(secs), true).await;
        append_rate(&store, account, Duration::from_secs(secs), false).await;
        if std::env::var("APPEND_ONLY").is_ok() {
            client_drop(&url, &schema).await;
            return;
        }
    }

    println!("seeding {n} messages into one chat (schema {schema})");
    let seeded = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let (seeding, seeded, member) = (seeding.clone(), seeded.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (w + 1));
            loop {
                let i = seeded.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let m = NewMessage {
                    id: MessageId::from_u128(uuid::Uuid::new_v4().as_u128()),
                    chat_id: member.chat_id,
                    user_id: member.id,
                    account: Some(member.account_id),
                    text: text(&mut rng),
                    now: Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * 1000),
                    idempotency: None,
                };
                seeding.append(m).await.unwrap();
                if i % 100_000 == 0 && i > 0 {
                    println!("  {i} messages");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = start.elapsed();
    println!(
        "seeded in {took:.1?} ({:.0} messages/s through the adapter, 8 writers, one chat)",
        n as f64 / took.as_secs_f64()
    );
    // Fresh statistics for the planner, as autovacuum would gather soon anyway.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    for sql in [
        format!("SET search_path = {schema}"),
        "VACUUM ANALYZE messages".into(),
        "VACUUM ANALYZE chats".into(),
    ] {
        client.batch_execute(&sql).await.unwrap();
    }

    let last = store.page_after(chat.id, 0, 1).await.unwrap().last_seq;
    assert_eq!(last, n);
    // Warm the pool and the cache the way a running service would be.
    pages(&store, chat.id, |_| 0, 50).await;
    report(
        "page_after first page (limit 100)",
        pages(&store, chat.id, |_| 0, 1000).await,
    );
    let deep = (n / 100 - 1) * 100;
    report(
        &format!("page_after page {} (after seq {deep})", n / 100),
        pages(&store, chat.id, |_| deep, 1000).await,
    );
    let mut rng = Rng(7);
    let positions: Vec<u64> = (0..1000).map(|_| (rng.next() % (n / 100)) * 100).collect();
    report(
        "page_after random pages",
        pages(&store, chat.id, |i| positions[i], 1000).await,
    );
    let (samples, wall) = concurrent_pages(&store, chat.id, n, 32, 200).await;
    let count = samples.len();
    report("page_after random pages, 32 concurrent", samples);
    println!(
        "  {:.0} pages/s with 32 concurrent readers",
        count as f64 / wall.as_secs_f64()
    );

    search_shapes(&store, account).await;

    if std::env::var("KEEP").is_err() {
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        println!("dropped schema {schema}");
    }
}

//! Test support: a fresh schema per test (dropped afterwards), ids, fixtures, and a TCP
//! proxy between the adapter and PostgreSQL that can be cut or blackholed.

use messenger_domain::{Account, AccountId, Chat, ChatId, Member, MemberId, MessageId, Timestamp};
use messenger_ports::{AppendOutcome, Chats, Members, Messages, NewMessage};
use messenger_postgres::{PgConfig, PgStore};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::NoTls;

/// The test database's URL, or `None` (after saying the test is skipped).
pub fn database_url(test: &str) -> Option<String> {
    match std::env::var("MESSENGER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: {test} needs MESSENGER_TEST_DATABASE_URL");
            None
        }
    }
}

/// A unique, lowercase schema name.
pub fn unique_schema() -> String {
    format!("messenger_test_{}", uuid::Uuid::new_v4().simple())
}

/// A schema of its own for one test, dropped (with everything in it) when this goes away,
/// also when the test fails.
pub struct TestSchema {
    pub url: String,
    pub name: String,
}

impl TestSchema {
    /// A fresh schema name on the test database, or `None` when the tests are skipped.
    pub fn new(test: &str) -> Option<Self> {
        let url = database_url(test)?;
        Some(Self {
            url,
            name: unique_schema(),
        })
    }

    /// The configuration for this schema: small pool, the default 1 s deadlines.
    pub fn config(&self) -> PgConfig {
        PgConfig::from_url(&self.url)
            .unwrap()
            .with_schema(&self.name)
            .unwrap()
            .with_pool_size(4)
    }

    /// A migrated store over this schema.
    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.config(), Duration::from_secs(5))
            .await
            .unwrap()
    }

    /// A plain connection to the test database with this schema as its search path.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("SET search_path = {}", self.name))
            .await
            .unwrap();
        client
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread
        // with a runtime of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&sql).await.ok()
            })
        })
        .join();
        if !matches!(done, Ok(Some(()))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh 128-bit id: random high half, counter low half (distinct and spread).
pub fn id() -> u128 {
    (uuid::Uuid::new_v4().as_u128() & !0xffff_ffff_ffff_ffff)
        | u128::from(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

pub fn ts(us: i64) -> Timestamp {
    Timestamp::from_micros(us)
}

/// A chat created by `creator` at time 1,000.
pub fn chat_by(creator: AccountId) -> Chat {
    Chat {
        id: ChatId::from_u128(id()),
        name: "a chat".into(),
        creator,
        created_at: ts(1_000),
    }
}

pub fn account(name: &str) -> Account {
    Account {
        id: AccountId::from_u128(id()),
        name: name.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: ts(1_000),
    }
}

pub fn member_of(chat: ChatId, account: AccountId, name: &str) -> Member {
    Member {
        id: MemberId::from_u128(id()),
        chat_id: chat,
        account_id: account,
        name: name.into(),
        joined_at: ts(2_000),
    }
}

pub fn new_message(chat: ChatId, member: &Member, text: &str, now: i64) -> NewMessage {
    NewMessage {
        id: MessageId::from_u128(id()),
        chat_id: chat,
        user_id: member.id,
        account: Some(member.account_id),
        text: text.into(),
        now: ts(now),
        idempotency: None,
    }
}

/// A fresh chat stored in `store`, and its creator joined to it as `me`.
pub async fn chat_with_creator_joined(store: &PgStore) -> (Chat, Member) {
    let owner = AccountId::from_u128(id());
    let chat = chat_by(owner);
    store.insert_chat(&chat).await.unwrap();
    let member = store
        .join(&member_of(chat.id, owner, "me"), true)
        .await
        .unwrap();
    (chat, member)
}

/// Appends and expects it stored.
pub async fn post(store: &dyn Messages, m: NewMessage) -> messenger_domain::Message {
    match store.append(m).await.unwrap() {
        AppendOutcome::Stored(m) => m,
        other => panic!("expected a stored message, got {other:?}"),
    }
}

pub use messenger_postgres::testing::{Proxy, ProxyMode};

/// The test database's address and a configuration reaching it through `proxy`.
pub fn proxied_config(url: &str, schema: &str, proxy: SocketAddr) -> PgConfig {
    let pg: tokio_postgres::Config = url.parse().unwrap();
    let password = pg
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    PgConfig::from_parts(
        &proxy.to_string(),
        pg.get_dbname().unwrap_or("postgres"),
        pg.get_user().unwrap_or("postgres"),
        password.as_deref(),
    )
    .unwrap()
    .with_schema(schema)
    .unwrap()
    .with_pool_size(4)
}

/// The socket address of the test database (TCP URLs only).
pub fn upstream_addr(url: &str) -> SocketAddr {
    messenger_postgres::testing::upstream_addr(url).unwrap()
}

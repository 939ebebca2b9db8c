//! The closed-loop workers, one kind per scenario.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::HeaderValue;

use crate::api::{self, ChatRef, Credentials, Session};
use crate::conn::Conn;
use crate::error::BenchError;
use crate::load::Worker;

/// The text of the `serial`-th benchmark message: about 100 bytes, like the
/// limit server's page, with a `tagN` word (N = serial mod 100) so a search
/// for one tag matches 1 % of the messages.
pub fn message_text(serial: u64) -> String {
    format!(
        "benchmark alpha message {serial:06} tag{} lorem ipsum dolor sit amet consectetur adipiscing elit",
        serial % 100
    )
}

/// Which text the posting workers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Text {
    /// [`message_text`]: ~100 bytes, every message holds `alpha`, 1 % a given `tagN`.
    #[default]
    Tagged,
    /// [`words_text`]: 5 to 20 words of a 20,000-word vocabulary drawn log-uniformly.
    Words,
}

impl Text {
    /// The text of the `serial`-th message.
    pub fn of(self, serial: u64) -> String {
        match self {
            Self::Tagged => message_text(serial),
            Self::Words => words_text(serial),
        }
    }
}

/// The text of the `serial`-th message for the search scenarios: 5 to 20 words `wordI`,
/// `I = floor(20000^u) - 1` with `u` uniform, so low indices are common and most words
/// rare, as in real chats (`word0` is in about 57 % of the messages, `word150` in about
/// 0.8 %, `word15000` in about 0.008 %). `bench/seed_chat.sql -v words=1` and the
/// PostgreSQL adapter's `pg_bench` draw from the same distribution, so figures of the
/// memory and PostgreSQL setups search alike data. Deterministic in `serial`.
pub fn words_text(serial: u64) -> String {
    // splitmix64 of the serial seeds a xorshift stream (never zero).
    let mut z = serial.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut state = (z ^ (z >> 31)) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let count = 5 + next() % 16;
    let mut text = String::with_capacity(12 * count as usize);
    for k in 0..count {
        let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
        let index = (20_000f64.powf(unit) as u64).saturating_sub(1);
        if k > 0 {
            text.push(' ');
        }
        text.push_str("word");
        text.push_str(&index.to_string());
    }
    text
}

/// `GET /ping`, answer 200.
pub struct Ping;

impl Worker for Ping {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        api::ping(conn).await
    }
}

/// `GET` of one fixed path (the same page again and again), answer 200.
pub struct FixedGet {
    /// Origin-form path with query.
    pub path: Arc<str>,
    /// `Authorization` value, if the route needs one.
    pub auth: Option<HeaderValue>,
}

impl Worker for FixedGet {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        api::get_ok(conn, &self.path, self.auth.as_ref()).await
    }
}

/// Walks a chat's history page by page with `next.iterator`, starting over
/// from the first page after the last one.
pub struct CursorWalk {
    /// The reader.
    pub session: Session,
    /// The chat walked.
    pub chat_id: Arc<str>,
    /// Page size.
    pub limit: u32,
    /// Where the next page starts (`None`: the chat's first message).
    pub from: Option<String>,
}

impl Worker for CursorWalk {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        let path = api::page_path(&self.chat_id, self.limit, self.from.as_deref());
        let page = api::read_page(conn, &self.session, &path).await?;
        // A short page is the end of the history: start over. Otherwise the
        // cursor is followed even if the next page turns out empty.
        self.from = if page.count < self.limit as usize {
            None
        } else {
            Some(page.next)
        };
        Ok(())
    }
}

/// Posts ~100-byte messages, cycling over a set of chats.
pub struct Post {
    /// The poster.
    pub session: Session,
    /// Chats to post to, in turn.
    pub chats: Arc<[ChatRef]>,
    /// Index of the next chat (workers start at different ones).
    pub next_chat: usize,
    /// Serial number of the next message (workers use disjoint ranges).
    pub serial: u64,
    /// What the messages say.
    pub text: Text,
}

impl Post {
    /// Worker `index` of a set: starts at its own chat, numbers its
    /// messages from `index * 2^40` so no two workers share serials.
    pub fn new(session: Session, chats: Arc<[ChatRef]>, index: usize) -> Self {
        Self {
            session,
            chats,
            next_chat: index,
            serial: (index as u64) << 40,
            text: Text::Tagged,
        }
    }

    /// The same worker writing `text`.
    pub fn with_text(self, text: Text) -> Self {
        Self { text, ..self }
    }

    /// The same worker in seeding round `round`: its serials (and so its texts) differ
    /// from those of the other rounds' workers.
    pub fn with_round(self, round: u8) -> Self {
        Self {
            serial: self.serial + (u64::from(round) << 32),
            ..self
        }
    }
}

impl Worker for Post {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        let chat = &self.chats[self.next_chat % self.chats.len()];
        self.next_chat = self.next_chat.wrapping_add(1);
        let text = self.text.of(self.serial);
        self.serial += 1;
        api::post_message(conn, &self.session, chat, &text).await
    }
}

/// Logs in with the right password (failed-login limits never trigger).
pub struct Login {
    /// The account.
    pub credentials: Credentials,
}

impl Worker for Login {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        api::login(conn, &self.credentials).await.map(|_| ())
    }
}

/// A search round trip: start a task, poll its status until `SUCCESS`.
pub struct Search {
    /// The searching account.
    pub session: Session,
    /// `{"message": "<query>"}`.
    pub query: Bytes,
    /// Pause between two status polls.
    pub poll_interval: Duration,
    /// The most a task may take before the round trip counts as failed.
    pub task_deadline: Duration,
    /// Status requests made, shared by all search workers.
    pub polls: Arc<AtomicU64>,
    /// Tasks started, shared by all search workers.
    pub tasks: Arc<AtomicU64>,
}

impl Worker for Search {
    async fn step(&mut self, conn: &mut Conn) -> Result<(), BenchError> {
        let began = Instant::now();
        let task_id = api::start_search(conn, &self.session, &self.query).await?;
        self.tasks.fetch_add(1, Ordering::Relaxed);
        loop {
            let status = api::search_status(conn, &self.session, &task_id).await?;
            self.polls.fetch_add(1, Ordering::Relaxed);
            match status.as_str() {
                "SUCCESS" => return Ok(()),
                "WAITING" | "IN_PROCESS" => {}
                _ => return Err(BenchError::Task(status)),
            }
            if began.elapsed() >= self.task_deadline {
                return Err(BenchError::TaskDeadline(self.task_deadline));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn messages_are_about_100_bytes_and_tagged_by_serial() {
        let text = message_text(1_234_507);
        assert!((90..=110).contains(&text.len()), "{} bytes", text.len());
        assert!(text.split(' ').any(|w| w == "tag7"));
        assert!(text.contains("1234507"));
    }

    #[test]
    fn word_texts_are_deterministic_and_common_words_are_common() {
        assert_eq!(words_text(42), words_text(42));
        let texts: Vec<String> = (0..20_000).map(words_text).collect();
        let share = |word: &str| {
            texts
                .iter()
                .filter(|t| t.split(' ').any(|w| w == word))
                .count() as f64
                / texts.len() as f64
        };
        assert!((0.5..0.65).contains(&share("word0")), "{}", share("word0"));
        assert!(
            (0.004..0.015).contains(&share("word150")),
            "{}",
            share("word150")
        );
        assert!(texts
            .iter()
            .all(|t| (5..=20).contains(&t.split(' ').count())));
    }

    #[test]
    fn post_workers_spread_over_chats_and_never_share_serials() {
        let session = Session {
            auth: HeaderValue::from_static("session_id x"),
        };
        let chats: Arc<[ChatRef]> = (0..4)
            .map(|i| ChatRef {
                chat_id: format!("c{i}"),
                user_id: format!("u{i}"),
            })
            .collect();
        let workers: Vec<Post> = (0..3)
            .map(|i| Post::new(session.clone(), Arc::clone(&chats), i))
            .collect();
        let starts: HashSet<usize> = workers.iter().map(|w| w.next_chat % 4).collect();
        assert_eq!(starts.len(), 3);
        assert!(workers[1].serial - workers[0].serial >= 1 << 40);
    }
}

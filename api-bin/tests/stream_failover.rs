//! Live updates across two real instances over one PostgreSQL: clients follow the event
//! stream of instance A while posters post through instance B; A is killed hard
//! (SIGKILL) half-way and every client resumes on B with `Last-Event-ID`. In the end every
//! client has received every acknowledged message of its chats exactly once, each chat's
//! messages in the chat's order. Before the kill, a post on B reaches the streams on A
//! (the wake-up crosses instances through `LISTEN/NOTIFY`).
//!
//! Runs when `MESSENGER_TEST_DATABASE_URL` is set; otherwise it says it is skipped.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test: failing loudly is the point

mod common;

use common::{drop_schema, fresh_schema, get_json, post_json, Server, DATABASE_VAR};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long posters post; A is killed `KILL_AFTER` into it.
const POSTING: Duration = Duration::from_secs(3);
const KILL_AFTER: Duration = Duration::from_millis(1200);
/// Posts on B awaited one by one on A's streams before the posters start.
const WAKE_UP_PROBES: u32 = 5;
/// The bound on each of those deliveries across instances.
const WAKE_UP_BOUND: Duration = Duration::from_secs(2);
/// The bound on their average: a stream re-reads the log every second by itself, so
/// without the wake-up the average would be near 500 ms.
const WAKE_UP_AVERAGE: Duration = Duration::from_millis(300);

/// One `message.created` a client received.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    chat_id: String,
    message_id: String,
}

/// What a follower shares with the test while it runs.
#[derive(Default)]
struct Follower {
    /// Every `message.created`, in the order the streams gave them.
    received: Mutex<Vec<Received>>,
    /// Every event id, of any type, in order.
    event_ids: Mutex<Vec<String>>,
    /// Its first stream is open (the `retry:` line came).
    live: AtomicBool,
    /// Streams opened on the second instance.
    reconnects: AtomicUsize,
}

/// Splits complete SSE blocks off `buffer`; returns `(id, event, data)` of each event
/// block and whether a `retry:` line came (comments are skipped).
fn take_blocks(buffer: &mut String) -> (Vec<(String, String, String)>, bool) {
    let mut events = Vec::new();
    let mut retry = false;
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let (mut id, mut kind, mut data) = (None, None, String::new());
        for line in block.lines().filter(|l| !l.starts_with(':')) {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            match field {
                "id" => id = Some(value),
                "event" => kind = Some(value),
                "data" => data.push_str(&value),
                "retry" => retry = true,
                _ => {}
            }
        }
        if let (Some(id), Some(kind)) = (id, kind) {
            events.push((id, kind, data));
        }
    }
    (events, retry)
}

/// Follows the stream on `first` from `after`; when that stream breaks, resumes on
/// `second` with `Last-Event-ID` (again after every break) until `stop`.
async fn follow(
    client: reqwest::Client,
    token: String,
    first: String,
    second: String,
    after: String,
    state: Arc<Follower>,
    stop: Arc<AtomicBool>,
) {
    let mut base = first;
    let mut last_id: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        // Positions are hex: nothing to escape in the query.
        let request = match &last_id {
            Some(id) => client
                .get(format!("{base}/v1/events/stream"))
                .header("Last-Event-ID", id.as_str()),
            None => client.get(format!("{base}/v1/events/stream?after={after}")),
        };
        let request = request.header("Authorization", format!("session_id {token}"));
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(_) => {
                // The instance is gone: go on with the other one.
                base.clone_from(&second);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        assert_eq!(
            response.status().as_u16(),
            200,
            "opening a stream on {base}"
        );
        if base == second {
            state.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        let mut buffer = String::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let chunk =
                match tokio::time::timeout(Duration::from_millis(100), response.chunk()).await {
                    Err(_) => continue,
                    Ok(Ok(Some(bytes))) => bytes,
                    Ok(Ok(None) | Err(_)) => break, // the stream broke: resume
                };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            let (events, retry) = take_blocks(&mut buffer);
            if retry {
                state.live.store(true, Ordering::Relaxed);
            }
            for (id, kind, data) in events {
                state.event_ids.lock().unwrap().push(id.clone());
                if kind == "message.created" {
                    let data: Value = serde_json::from_str(&data).expect("a frame's JSON");
                    state.received.lock().unwrap().push(Received {
                        event_id: id.clone(),
                        chat_id: data["chat_id"].as_str().expect("chat_id").to_owned(),
                        message_id: data["message"]["message_id"]
                            .as_str()
                            .expect("message_id")
                            .to_owned(),
                    });
                }
                last_id = Some(id);
            }
        }
        base.clone_from(&second);
    }
}

/// Posts through one instance as any of the accounts.
#[derive(Clone)]
struct Poster {
    client: reqwest::Client,
    base: String,
    chats: Arc<Vec<String>>,
    /// (account, chat index) → its user_id there.
    user_ids: Arc<HashMap<(usize, usize), String>>,
    tokens: Arc<Vec<String>>,
}

impl Poster {
    /// Posts `text` as `account` into chat `c`, asserting 201; the message id.
    async fn post(&self, account: usize, c: usize, text: String) -> String {
        let url = format!(
            "{}/v1/chats/{}/messages?user_id={}",
            self.base,
            self.chats[c],
            self.user_ids[&(account, c)]
        );
        let r = self
            .client
            .post(url)
            .header(
                "Authorization",
                format!("session_id {}", self.tokens[account]),
            )
            .json(&json!({ "message": text }))
            .send()
            .await
            .expect("B answers");
        assert_eq!(r.status().as_u16(), 201, "a post on B");
        let body: Value = r.json().await.expect("a JSON answer");
        body["message_id"]
            .as_str()
            .expect("a message id")
            .to_owned()
    }
}

/// The message ids of a chat in the chat's order, paged from `base`.
async fn stored_order(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    chat: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = get_json(
            client,
            &format!("{base}/v1/chats/{chat}/messages?limit=1000&from={from}"),
            token,
        )
        .await;
        assert_eq!(status, 200, "paging a chat");
        let messages = page["messages"].as_array().expect("messages").clone();
        if messages.is_empty() {
            return ids;
        }
        ids.extend(
            messages
                .iter()
                .map(|m| m["message_id"].as_str().expect("message_id").to_owned()),
        );
        from = page["next"]["iterator"].as_str().expect("next").to_owned();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_resume_on_another_instance_after_a_hard_kill() {
    let Ok(url) = std::env::var(DATABASE_VAR) else {
        println!("skipped: {DATABASE_VAR} not set");
        return;
    };
    let schema = fresh_schema("messenger_failover");
    let outcome = tokio::time::timeout(Duration::from_secs(60), run(&url, &schema)).await;
    drop_schema(&url, &schema).await;
    outcome.expect("the test took more than 60 s");
}

async fn run(url: &str, schema: &str) {
    let began = Instant::now();
    // One after the other: the first applies the migrations.
    let mut a = Server::start(url, schema).await;
    let b = Server::start(url, schema).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let streaming = reqwest::Client::new(); // streams have no total timeout

    // Four accounts; chat X has all four, chat Y only the first two.
    let mut tokens = Vec::new();
    for i in 0..4 {
        let creds = json!({"user_name": format!("follower{i}"), "password": "follower-password"});
        let (s, _) = post_json(
            &client,
            &format!("{}/v1/auth/register", b.base),
            None,
            creds.clone(),
        )
        .await;
        assert_eq!(s, 201, "register");
        let (s, login) =
            post_json(&client, &format!("{}/v1/auth/login", b.base), None, creds).await;
        assert_eq!(s, 201, "login");
        tokens.push(login["session_id"].as_str().expect("a token").to_owned());
    }
    let mut chats = Vec::new();
    for name in ["x", "y"] {
        let (s, chat) = post_json(
            &client,
            &format!("{}/v1/chats", b.base),
            Some(&tokens[0]),
            json!({"chat_name": name}),
        )
        .await;
        assert_eq!(s, 201, "create a chat");
        chats.push(chat["chat_id"].as_str().expect("a chat id").to_owned());
    }
    let members_of = |account: usize| if account < 2 { vec![0, 1] } else { vec![0] };
    // (account, chat index) → user_id
    let mut user_ids = HashMap::new();
    for (account, token) in tokens.iter().enumerate() {
        for c in members_of(account) {
            let (s, member) = post_json(
                &client,
                &format!("{}/v1/chats/{}/users", b.base, chats[c]),
                Some(token),
                json!({"user_name": format!("member{account}")}),
            )
            .await;
            assert_eq!(s, 201, "join");
            user_ids.insert(
                (account, c),
                member["user_id"].as_str().expect("a user id").to_owned(),
            );
        }
    }

    // Each client follows A's stream from its chat list's position.
    let stop = Arc::new(AtomicBool::new(false));
    let mut followers = Vec::new();
    let mut tasks = Vec::new();
    for token in &tokens {
        let (s, list) = get_json(&client, &format!("{}/v1/chats?limit=10", a.base), token).await;
        assert_eq!(s, 200, "the chat list");
        let after = list["events"]["iterator"]
            .as_str()
            .expect("events.iterator")
            .to_owned();
        let state = Arc::new(Follower::default());
        followers.push(state.clone());
        tasks.push(tokio::spawn(follow(
            streaming.clone(),
            token.clone(),
            a.base.clone(),
            b.base.clone(),
            after,
            state,
            stop.clone(),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !followers.iter().all(|f| f.live.load(Ordering::Relaxed)) {
        assert!(Instant::now() < deadline, "the streams on A did not open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A post on B reaches every stream on A.
    let b_posts = Poster {
        client: client.clone(),
        base: b.base.clone(),
        chats: Arc::new(chats.clone()),
        user_ids: Arc::new(user_ids),
        tokens: Arc::new(tokens.clone()),
    };
    // Several posts one after the other, each awaited on every stream: each must come
    // within the bound, and on average well before the streams' own periodic re-read of
    // the log (every second) would find it, which only the wake-up across instances does.
    let mut probes = Vec::new();
    let mut wake_ups = Vec::new();
    for i in 0..WAKE_UP_PROBES {
        let id = b_posts.post(0, 0, format!("across instances {i}")).await;
        let posted_at = Instant::now();
        loop {
            let all = followers.iter().all(|f| {
                f.received
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|r| r.message_id == id)
            });
            if all {
                wake_ups.push(posted_at.elapsed());
                break;
            }
            assert!(
                posted_at.elapsed() < WAKE_UP_BOUND,
                "a post on B did not reach every stream on A within {WAKE_UP_BOUND:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        probes.push(id);
    }
    let wake_up = wake_ups.iter().sum::<Duration>() / WAKE_UP_PROBES;
    assert!(
        wake_up < WAKE_UP_AVERAGE,
        "posts on B reached the streams on A in {wake_ups:?}: {wake_up:?} on average, \
         as if only the periodic re-read found them"
    );

    // Posters on B: accounts 0 and 1 alternate between X and Y, 2 and 3 post in X.
    let mut posters = Vec::new();
    for account in 0..4 {
        let poster = b_posts.clone();
        let chats_of = members_of(account);
        posters.push(tokio::spawn(async move {
            let began = Instant::now();
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while began.elapsed() < POSTING {
                let c = chats_of[i % chats_of.len()];
                acknowledged.push((
                    c,
                    poster
                        .post(account, c, format!("poster {account} message {i}"))
                        .await,
                ));
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acknowledged
        }));
    }
    tokio::time::sleep(KILL_AFTER).await;
    a.kill();
    let killed_at = Instant::now();

    let mut acknowledged: Vec<HashSet<String>> =
        vec![probes.iter().cloned().collect(), HashSet::new()];
    for p in posters {
        for (c, id) in p.await.expect("a poster") {
            acknowledged[c].insert(id);
        }
    }
    let total: usize = acknowledged.iter().map(HashSet::len).sum();

    // Wait until every client has every acknowledged message of its chats (or give up).
    let expected: Vec<HashSet<String>> = (0..4)
        .map(|account| {
            members_of(account)
                .into_iter()
                .flat_map(|c| acknowledged[c].iter().cloned())
                .collect()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = followers.iter().zip(&expected).all(|(f, want)| {
            let got: HashSet<String> = f
                .received
                .lock()
                .unwrap()
                .iter()
                .map(|r| r.message_id.clone())
                .collect();
            want.is_subset(&got)
        });
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = killed_at.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a stray repeat
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a follower");
    }

    // Each chat's order as stored.
    let order: Vec<Vec<String>> = {
        let mut order = Vec::new();
        for chat in &chats {
            order.push(stored_order(&client, &b.base, &tokens[0], chat).await);
        }
        order
    };
    for (c, ids) in order.iter().enumerate() {
        let stored: HashSet<&String> = ids.iter().collect();
        assert!(
            acknowledged[c].iter().all(|id| stored.contains(id)),
            "an acknowledged message is not stored"
        );
    }

    for (account, f) in followers.iter().enumerate() {
        let event_ids = f.event_ids.lock().unwrap().clone();
        let unique: HashSet<&String> = event_ids.iter().collect();
        assert_eq!(
            unique.len(),
            event_ids.len(),
            "client {account}: an event id came twice"
        );
        assert!(
            f.reconnects.load(Ordering::Relaxed) >= 1,
            "client {account} never resumed on B"
        );
        let received = f.received.lock().unwrap().clone();
        for c in members_of(account) {
            let got: Vec<&String> = received
                .iter()
                .filter(|r| r.chat_id == chats[c])
                .map(|r| &r.message_id)
                .collect();
            let want: Vec<&String> = order[c].iter().collect();
            assert_eq!(
                got.len(),
                want.len(),
                "client {account}, chat {c}: {} received, {} stored (missing or repeated)",
                got.len(),
                want.len()
            );
            assert_eq!(
                got, want,
                "client {account}, chat {c}: not exactly the chat's messages in order"
            );
        }
        for r in &received {
            assert!(
                members_of(account).iter().any(|&c| chats[c] == r.chat_id),
                "client {account} got a message of a chat it is not in ({})",
                r.event_id
            );
        }
    }
    println!(
        "{total} acknowledged messages; posts on B reached the 4 streams on A in {wake_up:?} on average; \
         after the SIGKILL every client had everything in {caught_up:?}; {:?} in all",
        began.elapsed()
    );
}

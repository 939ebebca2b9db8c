//! Fixtures made over the API before anything is measured: accounts,
//! sessions, chats joined, messages stored.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::api::{self, ChatRef, Credentials, Session};
use crate::conn::Conn;
use crate::error::BenchError;
use crate::load::{self, Budget, Outcome};
use crate::target::Target;
use crate::workers::{Post, Text};

/// The password of every account the tool registers.
const PASSWORD: &str = "benchmark-password-1";

/// The most pages [`page_starts`] reads.
const MAX_WALKED_PAGES: usize = 100_000;

/// Where and how to send setup requests.
#[derive(Clone)]
pub struct Ctx {
    /// The server.
    pub target: Arc<Target>,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Ctx {
    /// A fresh connection to the server.
    pub fn conn(&self) -> Conn {
        Conn::new(Arc::clone(&self.target), self.timeout)
    }
}

/// Waits until `target` answers `GET /ping` with 200, for at most `within`.
///
/// # Errors
/// [`BenchError::NotReady`] when it never does.
pub async fn wait_ready(target: &Arc<Target>, within: Duration) -> Result<(), BenchError> {
    let began = Instant::now();
    let mut conn = Conn::new(Arc::clone(target), Duration::from_secs(1));
    while began.elapsed() < within {
        if api::ping(&mut conn).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::NotReady(target.url.clone(), within))
}

/// A name no earlier run used: `prefix`, this process id, the time in µs.
pub fn unique_name(prefix: &str) -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{prefix}-{}-{micros}", std::process::id())
}

/// Registers a new account and logs it in.
///
/// # Errors
/// Any failed call (registration is limited per address when throttling is on).
pub async fn new_account(ctx: &Ctx, prefix: &str) -> Result<(Credentials, Session), BenchError> {
    let credentials = Credentials::new(&unique_name(prefix), PASSWORD);
    let mut conn = ctx.conn();
    api::register(&mut conn, &credentials).await?;
    let session = api::login(&mut conn, &credentials).await?;
    Ok((credentials, session))
}

/// Creates `count` chats named `label N` and joins each as `label`.
///
/// # Errors
/// Any failed call.
pub async fn new_chats(
    ctx: &Ctx,
    session: &Session,
    count: usize,
    label: &str,
) -> Result<Vec<ChatRef>, BenchError> {
    let mut conn = ctx.conn();
    let mut chats = Vec::with_capacity(count);
    for i in 0..count {
        chats.push(api::create_and_join(&mut conn, session, &format!("{label} {i}"), label).await?);
    }
    Ok(chats)
}

/// Stores `total` messages saying `text`, cycling over `chats`, over `connections`
/// connections, stopping at `deadline` whatever is left.
///
/// # Errors
/// A connection that cannot be opened; failed posts are counted in the outcome.
pub async fn store_messages(
    ctx: &Ctx,
    session: &Session,
    chats: Arc<[ChatRef]>,
    total: u64,
    connections: usize,
    deadline: Duration,
    text: Text,
) -> Result<Outcome, BenchError> {
    let workers = (0..connections)
        .map(|i| Post::new(session.clone(), Arc::clone(&chats), i).with_text(text))
        .collect();
    load::drive(
        &ctx.target,
        ctx.timeout,
        Budget::Count { total, deadline },
        workers,
    )
    .await
}

/// Fails with the first error when a setup step lost any message.
///
/// # Errors
/// [`BenchError::Option`] describing how many failed and why.
pub fn all_stored(what: &str, outcome: &Outcome, wanted: u64) -> Result<(), BenchError> {
    if outcome.ok == wanted {
        return Ok(());
    }
    Err(BenchError::Option(format!(
        "{what}: stored {} of {wanted} messages ({} failed; first error: {})",
        outcome.ok,
        outcome.errors,
        outcome
            .first_error
            .as_deref()
            .unwrap_or("none; ran out of time")
    )))
}

/// Walks a chat once and returns the `from` of every page, starting with
/// `None` (the first page), so walkers can start spread over the history.
///
/// # Errors
/// Any failed read.
pub async fn page_starts(
    ctx: &Ctx,
    session: &Session,
    chat_id: &str,
    limit: u32,
) -> Result<Vec<Option<String>>, BenchError> {
    let mut conn = ctx.conn();
    let mut starts = vec![None];
    let mut from: Option<String> = None;
    // Bounded even if the chat keeps growing while it is walked.
    for _ in 0..MAX_WALKED_PAGES {
        let path = api::page_path(chat_id, limit, from.as_deref());
        let page = api::read_page(&mut conn, session, &path).await?;
        if page.count < limit as usize {
            break;
        }
        from = Some(page.next);
        starts.push(from.clone());
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_between_calls() {
        let a = unique_name("bench");
        std::thread::sleep(Duration::from_millis(1));
        let b = unique_name("bench");
        assert_ne!(a, b);
        assert!(a.starts_with("bench-"));
        assert!(a.chars().count() <= 255);
    }
}

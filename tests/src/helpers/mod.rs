//! Helpers for black-box tests: start the service, call it, read its answers.

pub mod app;
pub mod backend;
pub mod conversations;
pub mod events;
pub mod hashers;
pub mod reply;
pub mod requests;

pub use app::{spawn_app, TestApp, TestOptions};
pub use backend::Backend;
pub use conversations::{
    conversation_routes, parse_message_page, parse_summary, rfc3339_micros, ChatList, ChatSummary,
    LastMessage, Member, MemberPage, MessagePage, MyUser, ReadMarker, SUMMARY_KEYS,
};
pub use events::{EventsAnswer, Frame, Read, SseReader, WireEvent};
pub use hashers::SlowHasher;
pub use reply::Reply;
pub use requests::{
    authenticated_routes, Auth, Hit, Message, Next, Page, RouteCall, User, PASSWORD,
};

/// A name nobody else uses: `prefix` and 12 random hex digits. Backends that keep data
/// between runs (PostgreSQL, Redis) need it; in memory it does no harm.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// Whether `s` is 32 lowercase hex digits (how the service writes ids, tokens, cursors).
pub fn is_lower_hex_32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The dashed 8-4-4-4-12 form of a 32-hex id.
pub fn dashed(id: &str) -> String {
    assert_eq!(id.len(), 32, "not a 32-hex id: {id}");
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// A cursor with the same scope as `cursor` but at `position` (the format is 64 bits of
/// a scope hash, then the 64-bit position, both in hex — `DECISIONS.md`).
pub fn cursor_at(cursor: &str, position: u64) -> String {
    assert!(is_lower_hex_32(cursor), "not a cursor: {cursor}");
    format!("{}{position:016x}", &cursor[..16])
}

/// The position a cursor marks.
pub fn cursor_position(cursor: &str) -> u64 {
    assert!(is_lower_hex_32(cursor), "not a cursor: {cursor}");
    u64::from_str_radix(&cursor[16..], 16).expect("hex")
}

/// Instantiates each named test function once per backend combination: for a function
/// `async fn name(backend: Backend)` in scope, a module `name` with one `#[tokio::test]`
/// per backend — `memory` (always), `postgres`, `postgres_redis` and
/// `postgres_redis_rabbitmq` (each only when its `MESSENGER_TEST_*` variables are set;
/// otherwise it prints why it is skipped and passes; likewise while the service cannot use
/// that backend yet, see [`Backend::is_wired`]). A function left out of the list is
/// dead code, which the lints refuse, so no test is forgotten. The calling crate needs
/// `tokio` (with `macros` and `rt-multi-thread`) as a dependency.
///
/// ```text
/// async fn posting_to_a_chat_you_did_not_join_is_404(backend: Backend) { /* … */ }
///
/// backend_tests!(posting_to_a_chat_you_did_not_join_is_404);
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        // A module and a function may share a name: they live in different namespaces.
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name($crate::helpers::Backend::memory()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    if backend.is_wired().await {
                        super::$name(backend).await;
                    }
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                if let Some(backend) = $crate::helpers::Backend::postgres_redis() {
                    if backend.is_wired().await {
                        super::$name(backend).await;
                    }
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis_rabbitmq() {
                if let Some(backend) = $crate::helpers::Backend::postgres_redis_rabbitmq() {
                    if backend.is_wired().await {
                        // Run as a task, so the queues are deleted even when it fails.
                        let outcome = tokio::spawn(super::$name(backend)).await;
                        $crate::helpers::app::delete_finished_queues().await;
                        if let Err(e) = outcome {
                            if e.is_panic() {
                                std::panic::resume_unwind(e.into_panic());
                            }
                        }
                    }
                }
            }
        }
    )*};
}

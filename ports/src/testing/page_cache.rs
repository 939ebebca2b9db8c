//! [`PageCache`]: full pages round-trip, keys are independent.

use super::support::{ok, unique_u128, wall_now};
use crate::{PageCache, PageKey};
use messenger_domain::{ChatId, MemberId, Message, MessageId};
use std::sync::Arc;
use std::time::Duration;

/// Runs every check of [`PageCache`]:
/// - a put page is got back equal, message for message (odd texts verbatim); a key never
///   put is `None`;
/// - keys that differ in chat, position or limit are independent.
pub async fn page_cache_suite(cache: &dyn PageCache) {
    put_page_is_got_back(cache).await;
    keys_are_independent(cache).await;
}

/// A full page of `limit` messages of `chat` after `after`.
fn page(chat: ChatId, after: u64, limit: u32) -> Arc<Vec<Message>> {
    let user = MemberId::from_u128(unique_u128());
    let base = wall_now();
    Arc::new(
        (1..=u64::from(limit))
            .map(|i| Message {
                id: MessageId::from_u128(unique_u128()),
                chat_id: chat,
                seq: after + i,
                user_id: user,
                user_name: "Pat 🙂 \"q\"".to_owned(),
                text: format!("text {i}: '; DROP TABLE x; -- \\ Привет 東京 \n"),
                created_at: base.plus(Duration::from_micros(i)),
            })
            .collect(),
    )
}

/// A put page is got back equal; an unknown key finds nothing.
pub async fn put_page_is_got_back(cache: &dyn PageCache) {
    let chat = ChatId::from_u128(unique_u128());
    for (after, limit) in [(0, 1), (0, 100), (250, 50)] {
        let key = PageKey { chat, after, limit };
        let messages = page(chat, after, limit);
        ok(cache.put(&key, Arc::clone(&messages)).await, "put");
        let got = ok(cache.get(&key).await, "get");
        assert_eq!(
            got.as_deref(),
            Some(&*messages),
            "get must return the page put under {key:?}, message for message"
        );
    }
    let unknown = PageKey {
        chat: ChatId::from_u128(unique_u128()),
        after: 0,
        limit: 10,
    };
    let got = ok(cache.get(&unknown).await, "get");
    assert_eq!(got, None, "a key never put must find no page");
}

/// Keys differing in chat, position or limit do not see each other's pages.
pub async fn keys_are_independent(cache: &dyn PageCache) {
    let chat = ChatId::from_u128(unique_u128());
    let other_chat = ChatId::from_u128(unique_u128());
    let key = PageKey {
        chat,
        after: 10,
        limit: 5,
    };
    let messages = page(chat, 10, 5);
    ok(cache.put(&key, Arc::clone(&messages)).await, "put");
    for other in [
        PageKey {
            chat: other_chat,
            ..key
        },
        PageKey { after: 11, ..key },
        PageKey { after: 0, ..key },
        PageKey { limit: 4, ..key },
        PageKey { limit: 6, ..key },
    ] {
        let got = ok(cache.get(&other).await, "get");
        assert_eq!(
            got, None,
            "{other:?} must not find the page put under {key:?}"
        );
    }
    let neighbour = PageKey { after: 15, ..key };
    let next = page(chat, 15, 5);
    ok(cache.put(&neighbour, Arc::clone(&next)).await, "put");
    let got = ok(cache.get(&key).await, "get");
    assert_eq!(
        got.as_deref(),
        Some(&*messages),
        "another key's put must not touch a page"
    );
    let got = ok(cache.get(&neighbour).await, "get");
    assert_eq!(got.as_deref(), Some(&*next), "each key keeps its own page");
}

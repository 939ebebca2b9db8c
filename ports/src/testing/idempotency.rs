//! [`Messages`] and idempotency keys: retries replay the first message, concurrent
//! duplicates store one, and purging drops the keys stored before a time.

use super::messages::{keyed, post, stored, Setup};
use super::support::{ok, unique_name};
use crate::{AppendOutcome, Clock, Messages, NewMessage};
use futures_util::future::join_all;
use messenger_domain::MessageId;
use std::time::Duration;

/// The same scope, key and fingerprint replay the first message; another fingerprint is
/// `KeyReused`; neither stores anything. The key in another chat or scope is new.
pub async fn idempotent_retries_replay_the_first_message(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Keyed").await;
    let (other_chat, other_member) = setup.chat_with_poster("Keyed").await;
    let scope = format!("account:{}", member.account_id);
    let key = unique_name("key-");
    let now = clock.now();

    let first = stored(
        messages
            .append(keyed(&member, "hello", now, &scope, &key))
            .await,
        "append with a new key",
    );
    let retry = ok(
        messages
            .append(keyed(&member, "hello", now, &scope, &key))
            .await,
        "append",
    );
    assert_eq!(
        retry,
        AppendOutcome::Replayed(first.id),
        "a retry with the same scope, key and fingerprint must replay the first message id"
    );
    let reused = ok(
        messages
            .append(keyed(&member, "hello, edited", now, &scope, &key))
            .await,
        "append",
    );
    assert_eq!(
        reused,
        AppendOutcome::KeyReused,
        "the same scope and key with another fingerprint must be KeyReused"
    );
    let page = ok(messages.page_after(chat, 0, 10).await, "page_after");
    assert_eq!(
        page.messages,
        vec![first.clone()],
        "a replayed or refused post must store nothing"
    );

    let elsewhere = stored(
        messages
            .append(keyed(&other_member, "hello", now, &scope, &key))
            .await,
        "append with the same key in another chat",
    );
    assert_eq!(
        elsewhere.seq, 1,
        "a key is unique per chat: another chat stores it anew"
    );
    let other_scope = format!("member:{}", member.id);
    let second = stored(
        messages
            .append(keyed(&member, "hello", now, &other_scope, &key))
            .await,
        "append with the same key in another scope",
    );
    assert_eq!(
        second.seq, 2,
        "a key is unique per scope: another scope stores it anew"
    );

    let unkeyed = stored(messages.append(post(&member, "hello", now)).await, "append");
    assert_eq!(unkeyed.seq, 3, "a post without a key is always stored");
    let later = ok(
        messages
            .append(keyed(&member, "hello", now, &scope, &key))
            .await,
        "append",
    );
    assert_eq!(
        later,
        AppendOutcome::Replayed(first.id),
        "a retry after other posts must still replay the first message"
    );
    let later = ok(
        messages
            .append(keyed(&member, "hello", now, &other_scope, &key))
            .await,
        "append",
    );
    assert_eq!(
        later,
        AppendOutcome::Replayed(second.id),
        "each scope replays its own message"
    );
    let page = ok(messages.page_after(chat, 0, 10).await, "page_after");
    assert_eq!(page.last_seq, 3, "replays store nothing");
    let page = ok(messages.page_after(other_chat, 0, 10).await, "page_after");
    assert_eq!(
        page.messages,
        vec![elsewhere],
        "the other chat holds only its own message"
    );
}

/// Eight concurrent posts with the same scope, key and fingerprint store one message;
/// the others replay its id.
pub async fn concurrent_duplicate_appends_store_one(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Twin").await;
    let scope = format!("account:{}", member.account_id);
    let key = unique_name("race-");
    let now = clock.now();
    let racers: Vec<NewMessage> = (0..8)
        .map(|_| keyed(&member, "only once", now, &scope, &key))
        .collect();
    let outcomes = join_all(racers.iter().map(|m| messages.append(m.clone()))).await;
    let outcomes: Vec<AppendOutcome> = outcomes
        .into_iter()
        .map(|o| ok(o, "racing idempotent append"))
        .collect();
    let stored_ids: Vec<MessageId> = outcomes
        .iter()
        .filter_map(|o| match o {
            AppendOutcome::Stored(m) => Some(m.id),
            _ => None,
        })
        .collect();
    assert_eq!(
        stored_ids.len(),
        1,
        "exactly one of 8 racing duplicates must be stored; outcomes: {outcomes:?}"
    );
    for o in &outcomes {
        assert!(
            matches!(o, AppendOutcome::Stored(_)) || *o == AppendOutcome::Replayed(stored_ids[0]),
            "a racing duplicate must wait for the first and replay it, got {o:?}"
        );
    }
    let page = ok(messages.page_after(chat, 0, 10).await, "page_after");
    assert_eq!(page.last_seq, 1, "racing duplicates must store one message");
}

/// Purging keys stored before a time older than the key keeps it (retries still replay);
/// purging before a later time deletes it (the same post is then stored anew), and counts
/// it.
pub async fn purge_removes_idempotency_keys_stored_before(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Purger").await;
    let key = unique_name("purge-");
    let scopes = ["scope-a", "scope-b"];
    let stored_at = clock.now();
    let mut first = Vec::new();
    for scope in scopes {
        first.push(stored(
            messages
                .append(keyed(&member, "keep me", stored_at, scope, &key))
                .await,
            "append with a key",
        ));
    }

    ok(
        messages
            .purge_idempotency_keys(stored_at.minus(Duration::from_secs(1)))
            .await,
        "purge_idempotency_keys",
    );
    for (scope, m) in scopes.iter().zip(&first) {
        let retry = ok(
            messages
                .append(keyed(&member, "keep me", clock.now(), scope, &key))
                .await,
            "append",
        );
        assert_eq!(
            retry,
            AppendOutcome::Replayed(m.id),
            "a key stored after the purge time must survive purge_idempotency_keys"
        );
    }

    let purged = ok(
        messages
            .purge_idempotency_keys(clock.now().plus(Duration::from_secs(1)))
            .await,
        "purge_idempotency_keys",
    );
    assert!(
        purged >= 2,
        "purge_idempotency_keys must count the keys it deleted (at least this check's 2), \
         got {purged}"
    );
    for (i, scope) in scopes.iter().enumerate() {
        let again = stored(
            messages
                .append(keyed(&member, "keep me", clock.now(), scope, &key))
                .await,
            "append with a purged key (must be stored anew)",
        );
        assert_eq!(
            again.seq,
            3 + i as u64,
            "a purged key's post is a new message"
        );
    }
    let page = ok(messages.page_after(chat, 0, 10).await, "page_after");
    assert_eq!(page.last_seq, 4, "purging keys deletes no message");
}

//! [`Messages`]: gap-free sequence numbers, exact keyset paging, `created_at` that never
//! runs backwards, idempotency keys (also under races), purging keys, verbatim texts.

use super::support::{chat_by, fresh_account, ok, unique_name, unique_u128};
use crate::{
    Accounts, AppendOutcome, Chats, Clock, IdempotencyRecord, Members, Messages, NewMessage,
    PortError,
};
use futures_util::future::{join, join_all};
use messenger_domain::{
    idempotency_fingerprint, ChatId, Member, MemberId, Message, MessageId, Timestamp,
};
use std::collections::HashMap;
use std::time::Duration;

/// Runs every check of [`Messages`]. `accounts`, `chats` and `members` set up fresh chats
/// and posters; `clock` is the clock the adapter stamps idempotency keys with (for a
/// database that stamps with its own time, a system clock of the same machine), and the
/// base of the messages' `now`:
/// - a new chat reads as empty with `last_seq` 0; sequence numbers are 1, 2, 3, … per
///   chat, and `append` returns the stored message;
/// - paging with any limit returns every message exactly once, in order, with the chat's
///   `last_seq`; positions at or past the end read as empty;
/// - `created_at` is the later of `now` and the chat's previous message;
/// - texts (and display names) are stored verbatim: Unicode, quotes, SQL-looking text,
///   backslashes, emoji, surrounding whitespace, the longest text;
/// - idempotency: the same scope, key and fingerprint replay the first message id and
///   store nothing; another fingerprint is `KeyReused`; the same key in another chat or
///   scope is a new message;
/// - 8 concurrent posters × 25 messages to one chat get exactly sequence numbers 1..=200;
///   a reader paging while posts race never sees a gap (`seq` n+1 before n), a `last_seq`
///   that disagrees with the page it came with, a chat going back, or a `seq` that later
///   holds another message;
///   8 concurrent duplicates of one idempotent post store one message;
/// - `append` to an unknown chat is `NotFound`; `page_after` of one reads as empty with
///   `last_seq` 0;
/// - the poster must be a current member of the chat and of the given account (any
///   account when none is given), checked before the key (`posters`);
/// - `purge_idempotency_keys` deletes keys stored before the given time, and only those.
///   It purges every key older than about now + 1 s, so it must not share a store with
///   tests that rely on idempotency keys at the same moment.
pub async fn messages_suite(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let setup = Setup {
        accounts,
        chats,
        members,
    };
    sequence_numbers_have_no_gaps(&setup, messages, clock).await;
    paging_is_exact_with_any_limit(&setup, messages, clock).await;
    created_at_never_runs_backwards(&setup, messages, clock).await;
    texts_are_stored_verbatim(&setup, messages, clock).await;
    super::idempotency::idempotent_retries_replay_the_first_message(&setup, messages, clock).await;
    concurrent_appends_get_consecutive_seqs(&setup, messages, clock).await;
    readers_never_see_gaps_while_posts_race(&setup, messages, clock).await;
    super::idempotency::concurrent_duplicate_appends_store_one(&setup, messages, clock).await;
    unknown_chats_are_not_found_and_read_empty(&setup, messages, clock).await;
    super::posters::posters_suite(&setup, messages, clock).await;
    super::idempotency::purge_removes_idempotency_keys_stored_before(&setup, messages, clock).await;
}

/// The ports that create the chats and members messages need.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// Stores the chats' creators and posters.
    pub accounts: &'a dyn Accounts,
    /// Stores the chats.
    pub chats: &'a dyn Chats,
    /// Stores the posting members.
    pub members: &'a dyn Members,
}

impl Setup<'_> {
    /// A fresh chat with one member (named `poster`) to post as.
    pub(super) async fn chat_with_poster(&self, poster: &str) -> (ChatId, Member) {
        let creator = fresh_account(self.accounts).await;
        let chat = chat_by(creator, &unique_name("messages-"));
        ok(self.chats.insert_chat(&chat).await, "insert_chat");
        let member = Member {
            id: MemberId::from_u128(unique_u128()),
            chat_id: chat.id,
            account_id: creator,
            name: poster.to_owned(),
            joined_at: chat.created_at,
        };
        let member = ok(self.members.join(&member, true).await, "join");
        (chat.id, member)
    }
}

/// A message by `member` in its chat, with a fresh id.
pub(super) fn post(member: &Member, text: &str, now: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::from_u128(unique_u128()),
        chat_id: member.chat_id,
        user_id: member.id,
        account: Some(member.account_id),
        text: text.to_owned(),
        now,
        idempotency: None,
    }
}

/// The same, with an idempotency key in `scope`.
pub(super) fn keyed(
    member: &Member,
    text: &str,
    now: Timestamp,
    scope: &str,
    key: &str,
) -> NewMessage {
    NewMessage {
        idempotency: Some(IdempotencyRecord {
            scope: scope.to_owned(),
            key: key.to_owned(),
            fingerprint: idempotency_fingerprint(member.id, text),
        }),
        ..post(member, text, now)
    }
}

/// The message an append must store, or a failure saying what came instead.
#[track_caller]
pub(super) fn stored(outcome: crate::PortResult<AppendOutcome>, step: &str) -> Message {
    match ok(outcome, step) {
        AppendOutcome::Stored(m) => m,
        other => panic!("{step}: expected the message to be stored, got {other:?}"),
    }
}

/// What a stored message must look like.
fn expected(new: &NewMessage, name: &str, seq: u64, created_at: Timestamp) -> Message {
    Message {
        id: new.id,
        chat_id: new.chat_id,
        seq,
        user_id: new.user_id,
        user_name: name.to_owned(),
        text: new.text.clone(),
        created_at,
    }
}

/// Every message of `chat`, read in pages of `limit`, checking each page's shape.
async fn read_all(messages: &dyn Messages, chat: ChatId, limit: u32, total: u64) -> Vec<Message> {
    let mut all: Vec<Message> = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(messages.page_after(chat, after, limit).await, "page_after");
        assert_eq!(
            page.last_seq, total,
            "page_after(after {after}, limit {limit}) must report the chat's last_seq"
        );
        let want = (total.saturating_sub(after)).min(u64::from(limit));
        assert_eq!(
            page.messages.len() as u64,
            want,
            "page_after(after {after}, limit {limit}) of {total} messages must hold {want}"
        );
        let Some(last) = page.messages.last() else {
            break;
        };
        after = last.seq;
        all.extend(page.messages);
    }
    all
}

/// Sequence numbers are 1, 2, 3, … and `append` returns the stored message, which
/// `page_after` then returns identically.
pub async fn sequence_numbers_have_no_gaps(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Poster").await;
    let empty = ok(messages.page_after(chat, 0, 10).await, "page_after");
    assert!(
        empty.messages.is_empty() && empty.last_seq == 0,
        "a new chat must read as empty with last_seq 0, got {} messages and last_seq {}",
        empty.messages.len(),
        empty.last_seq
    );
    let base = clock.now();
    let mut want = Vec::new();
    for i in 0..5u64 {
        let now = base.plus(Duration::from_millis(i));
        let new = post(&member, &format!("message {i}"), now);
        let message = stored(messages.append(new.clone()).await, "append");
        let expect = expected(&new, &member.name, i + 1, now);
        assert_eq!(
            message,
            expect,
            "append must return the stored message with seq {} (its chat's next)",
            i + 1
        );
        want.push(expect);
    }
    let page = ok(messages.page_after(chat, 0, 100).await, "page_after");
    assert_eq!(page.last_seq, 5, "last_seq after 5 appends");
    assert_eq!(
        page.messages, want,
        "page_after must return the messages as stored"
    );
    let (access, end) = ok(
        setup
            .members
            .chat_access_and_end(chat, member.account_id)
            .await,
        "chat_access_and_end",
    );
    assert_eq!(
        access,
        crate::ChatAccess::Participant,
        "the poster's access"
    );
    assert!(
        end.is_none_or(|end| end == 5),
        "chat_access_and_end must give the chat's last seq (5) or none, got {end:?}"
    );
}

/// Paging through a chat with any limit returns every message exactly once, in order;
/// a position at or past the end reads as empty with the right `last_seq`.
pub async fn paging_is_exact_with_any_limit(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Pager").await;
    let base = clock.now();
    let mut want = Vec::new();
    for i in 0..23u64 {
        let new = post(&member, &format!("page text {i}"), base);
        want.push(stored(messages.append(new).await, "append"));
    }
    for limit in [1, 2, 3, 5, 7, 10, 22, 23, 24, 1000] {
        let all = read_all(messages, chat, limit, 23).await;
        assert_eq!(
            all, want,
            "paging with limit {limit} must return every message exactly once, in order"
        );
    }
    let middle = ok(messages.page_after(chat, 10, 5).await, "page_after");
    let seqs: Vec<u64> = middle.messages.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        [11, 12, 13, 14, 15],
        "page_after(10, 5) must hold seqs 11..=15"
    );
    for after in [23, 24, 1_000_000] {
        let page = ok(messages.page_after(chat, after, 10).await, "page_after");
        assert!(
            page.messages.is_empty() && page.last_seq == 23,
            "page_after({after}) of a 23-message chat must be empty with last_seq 23, got {} \
             messages and last_seq {}",
            page.messages.len(),
            page.last_seq
        );
    }
}

/// The stored `created_at` is the later of the message's `now` and the chat's previous
/// `created_at`: a clock that steps back never makes a chat's times run backwards.
pub async fn created_at_never_runs_backwards(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("Timer").await;
    let t = clock.now();
    let steps = [
        (t, t),
        (t.minus(Duration::from_secs(10)), t),
        (
            t.plus(Duration::from_micros(5)),
            t.plus(Duration::from_micros(5)),
        ),
        (t, t.plus(Duration::from_micros(5))),
        (
            t.plus(Duration::from_secs(1)),
            t.plus(Duration::from_secs(1)),
        ),
    ];
    for (i, (now, want)) in steps.iter().enumerate() {
        let m = stored(messages.append(post(&member, "tick", *now)).await, "append");
        assert_eq!(
            m.created_at.as_micros(),
            want.as_micros(),
            "message {} posted with now = base{:+}µs must have created_at = base{:+}µs \
             (the later of now and the chat's last)",
            i + 1,
            now.as_micros() - t.as_micros(),
            want.as_micros() - t.as_micros()
        );
    }
    let page = ok(messages.page_after(chat, 0, 100).await, "page_after");
    let times: Vec<i64> = page
        .messages
        .iter()
        .map(|m| m.created_at.as_micros())
        .collect();
    let want: Vec<i64> = steps.iter().map(|(_, w)| w.as_micros()).collect();
    assert_eq!(
        times, want,
        "page_after must return the stored created_at values"
    );
}

/// Texts and display names come back byte for byte.
pub async fn texts_are_stored_verbatim(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member) = setup.chat_with_poster("  O'Brien \"the\" \\ 🙂 ").await;
    let texts = [
        "plain".to_owned(),
        "'; DROP TABLE messages; --".to_owned(),
        "Robert'); DELETE FROM chats WHERE ('a'='a".to_owned(),
        "back\\slash \\\\ \\n \\x00 \\' and %s %d $1 ?".to_owned(),
        "quotes: ' \" ` ´ « » „ “ ”".to_owned(),
        "Привет, мир! 東京タワー Ελληνικά עברית العربية ".to_owned(),
        "emoji 🙂👍🏽👨‍👩‍👧 and ZWJ".to_owned(),
        "  leading and trailing spaces  ".to_owned(),
        "line\nbreaks\r\nand\ttabs\n".to_owned(),
        "e\u{301} vs \u{e9}: not normalised".to_owned(),
        "x".repeat(10_000),
        "é".repeat(10_000),
    ];
    let mut want = Vec::new();
    for text in &texts {
        let m = stored(
            messages.append(post(&member, text, clock.now())).await,
            "append",
        );
        assert_eq!(&m.text, text, "append must return the text verbatim");
        assert_eq!(
            m.user_name, member.name,
            "append must return the display name verbatim"
        );
        want.push(m);
    }
    let page = ok(messages.page_after(chat, 0, 100).await, "page_after");
    for (got, want) in page.messages.iter().zip(&want) {
        assert_eq!(
            got.text, want.text,
            "page_after must return the text verbatim"
        );
        assert_eq!(
            got.user_name, want.user_name,
            "page_after must return the name verbatim"
        );
    }
    assert_eq!(page.messages.len(), want.len(), "every text must be stored");
}

/// Eight concurrent posters, 25 messages each, to one chat: sequence numbers are exactly
/// 1..=200, each poster's messages in its own order, and `created_at` follows `seq`.
pub async fn concurrent_appends_get_consecutive_seqs(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    const POSTERS: u64 = 8;
    const EACH: u64 = 25;
    let (chat, member) = setup.chat_with_poster("Crowd").await;
    let base = clock.now();
    let posters = (0..POSTERS).map(|p| {
        let member = &member;
        async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                // Times deliberately out of order across posters.
                let now = base.plus(Duration::from_micros((EACH - i) * 7 + p));
                let new = post(member, &format!("poster {p} message {i}"), now);
                seqs.push(stored(messages.append(new).await, "concurrent append").seq);
            }
            seqs
        }
    });
    let per_poster = join_all(posters).await;
    let mut all: Vec<u64> = Vec::new();
    for (p, seqs) in per_poster.iter().enumerate() {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "poster {p}'s sequential appends must get increasing seqs, got {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let want: Vec<u64> = (1..=POSTERS * EACH).collect();
    assert_eq!(
        all,
        want,
        "concurrent appends must get exactly the seqs 1..={}, no gap, no repeat",
        POSTERS * EACH
    );
    let stored_all = read_all(messages, chat, 1000, POSTERS * EACH).await;
    let seqs: Vec<u64> = stored_all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, want, "page_after must list the seqs 1..=200 in order");
    assert!(
        stored_all
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at),
        "created_at must never decrease along seq, even when posts race"
    );
}

/// While four posters race (20 messages each), a reader pages the chat again and again:
/// every page is contiguous from the requested position, its `last_seq` is the seq of
/// its last message (the page is never full, so it reaches the end the read saw), the
/// chat never goes back, and every message read is the one finally stored at that seq.
pub async fn readers_never_see_gaps_while_posts_race(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    const POSTERS: u64 = 4;
    const EACH: u64 = 20;
    const READS: u64 = 60;
    let (chat, member) = setup.chat_with_poster("Racer").await;
    let now = clock.now();
    let posters = join_all((0..POSTERS).map(|p| {
        let member = &member;
        async move {
            for i in 0..EACH {
                let new = post(member, &format!("poster {p} message {i}"), now);
                stored(messages.append(new).await, "concurrent append");
            }
        }
    }));
    let reader = async {
        let mut seen: HashMap<u64, Message> = HashMap::new();
        let mut highest = 0;
        for read in 0..READS {
            // Alternate between the start and half-way through what was seen so far.
            let after = if read % 2 == 0 { 0 } else { highest / 2 };
            let page = ok(messages.page_after(chat, after, 1000).await, "page_after");
            let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
            let want: Vec<u64> = (after + 1..=after + seqs.len() as u64).collect();
            assert_eq!(
                seqs,
                want,
                "a page read while posts race must be contiguous from after + 1 = {}",
                after + 1
            );
            if let Some(last) = page.messages.last() {
                assert_eq!(
                    page.last_seq, last.seq,
                    "a page that is not full ends at the chat's end: last_seq must be its \
                     last message's seq, as seen by the same read"
                );
            }
            assert!(
                page.last_seq >= highest,
                "last_seq went back from {highest} to {}",
                page.last_seq
            );
            highest = page.last_seq;
            for m in page.messages {
                seen.insert(m.seq, m);
            }
        }
        seen
    };
    let (_, seen) = join(posters, reader).await;
    let total = POSTERS * EACH;
    let all = read_all(messages, chat, 1000, total).await;
    for m in &all {
        if let Some(earlier) = seen.get(&m.seq) {
            assert_eq!(
                earlier, m,
                "seq {} was read as one message while posts raced and is now another",
                m.seq
            );
        }
    }
}

/// `append` to a chat that does not exist is `NotFound` (with or without a key) and
/// stores nothing; `page_after` of such a chat reads as empty with `last_seq` 0.
pub async fn unknown_chats_are_not_found_and_read_empty(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (_, member) = setup.chat_with_poster("Lost").await;
    let unknown = ChatId::from_u128(unique_u128());
    let mut stray = post(&member, "into the void", clock.now());
    stray.chat_id = unknown;
    assert_eq!(
        messages.append(stray.clone()).await,
        Err(PortError::NotFound),
        "append to an unknown chat must be NotFound"
    );
    let mut keyed_stray = keyed(&member, "into the void", clock.now(), "s", "k");
    keyed_stray.chat_id = unknown;
    assert_eq!(
        messages.append(keyed_stray).await,
        Err(PortError::NotFound),
        "append with a key to an unknown chat must be NotFound"
    );
    let page = ok(messages.page_after(unknown, 0, 10).await, "page_after");
    assert!(
        page.messages.is_empty() && page.last_seq == 0,
        "an unknown chat must read as empty with last_seq 0, got {} messages, last_seq {}",
        page.messages.len(),
        page.last_seq
    );
}

//! [`Messages::append`] checks the poster itself: a current member of the chat, of the
//! required account, before any idempotency key; the stored name is the member's.

use super::messages::{keyed, post, Setup};
use super::support::{fresh_account, ok, unique_u128};
use crate::{AppendOutcome, Clock, Messages};
use futures_util::future::join_all;
use messenger_domain::{AccountId, ChatId, Member, MemberId};

/// Runs every check of the poster.
pub(super) async fn posters_suite(setup: &Setup<'_>, messages: &dyn Messages, clock: &dyn Clock) {
    only_a_current_member_of_the_account_stores(setup, messages, clock).await;
    membership_is_checked_before_the_key(setup, messages, clock).await;
    refused_posters_in_a_busy_chat_leave_no_gap(setup, messages, clock).await;
}

/// A fresh chat with its poster, and an account that takes no part in it.
async fn chat_and_stranger(setup: &Setup<'_>, poster: &str) -> (ChatId, Member, AccountId) {
    let (chat, member) = setup.chat_with_poster(poster).await;
    (chat, member, fresh_account(setup.accounts).await)
}

/// What the chat's last sequence number is now.
async fn last_seq(messages: &dyn Messages, member: &Member) -> u64 {
    ok(
        messages.page_after(member.chat_id, 0, 1).await,
        "page_after",
    )
    .last_seq
}

/// Another account's member, an unknown member id and a member of another chat are
/// refused; without an account (legacy mode) any current member stores, under its own
/// stored name; a member who left is refused. A refused post stores nothing.
async fn only_a_current_member_of_the_account_stores(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member, stranger) = chat_and_stranger(setup, "Poster").await;
    let (_, elsewhere) = setup.chat_with_poster("Elsewhere").await;

    let mut other_account = post(&member, "not mine", clock.now());
    other_account.account = Some(stranger);
    let mut unknown = post(&member, "nobody", clock.now());
    unknown.user_id = MemberId::from_u128(unique_u128());
    let mut other_chat = post(&elsewhere, "wrong room", clock.now());
    other_chat.chat_id = chat;
    for (case, new) in [
        ("a member of another account", other_account),
        ("an unknown member id", unknown),
        ("a member of another chat", other_chat),
    ] {
        assert_eq!(
            ok(messages.append(new).await, case),
            AppendOutcome::NotMember,
            "{case} must not post"
        );
    }
    assert_eq!(
        last_seq(messages, &member).await,
        0,
        "refused posts store nothing"
    );

    let mut legacy = post(&member, "any account", clock.now());
    legacy.account = None;
    match ok(messages.append(legacy).await, "legacy post") {
        AppendOutcome::Stored(m) => {
            assert_eq!(m.seq, 1, "the first message");
            assert_eq!(
                m.user_name, "Poster",
                "the name comes from the member's row"
            );
        }
        other => panic!("a member's post without an account must store, got {other:?}"),
    }

    ok(setup.members.leave(chat, member.id, false).await, "leave");
    assert_eq!(
        ok(
            messages.append(post(&member, "gone", clock.now())).await,
            "after leaving"
        ),
        AppendOutcome::NotMember,
        "a member who left must not post"
    );
    assert_eq!(
        last_seq(messages, &member).await,
        1,
        "nothing stored after the leave"
    );
}

/// A refused poster's key is not stored (the member's own post with it then stores), and
/// a retry of a stored post after its poster left is refused, not replayed.
async fn membership_is_checked_before_the_key(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (chat, member, stranger) = chat_and_stranger(setup, "Keyed").await;
    let mut refused = keyed(&member, "first words", clock.now(), "scope", "k1");
    refused.account = Some(stranger);
    assert_eq!(
        ok(
            messages.append(refused).await,
            "keyed post of another account"
        ),
        AppendOutcome::NotMember
    );
    // Each attempt with a fresh message id, as the use case makes them.
    let own = || keyed(&member, "other words", clock.now(), "scope", "k1");
    let stored = match ok(messages.append(own()).await, "the member's keyed post") {
        AppendOutcome::Stored(m) => m,
        other => panic!("a refused post's key must not be stored, got {other:?}"),
    };
    assert_eq!(
        ok(messages.append(own()).await, "retry"),
        AppendOutcome::Replayed(stored.id),
        "a member's retry replays"
    );
    ok(setup.members.leave(chat, member.id, false).await, "leave");
    assert_eq!(
        ok(messages.append(own()).await, "retry after leaving"),
        AppendOutcome::NotMember,
        "membership is checked before the key"
    );
}

/// Posts of members and refused posts racing into one chat: the members' posts get
/// exactly 1..=n, the refused ones store nothing.
async fn refused_posters_in_a_busy_chat_leave_no_gap(
    setup: &Setup<'_>,
    messages: &dyn Messages,
    clock: &dyn Clock,
) {
    let (_, member, stranger) = chat_and_stranger(setup, "Busy").await;
    let posts = (0..24).map(|i| {
        let mut new = if i % 3 == 0 {
            keyed(
                &member,
                &format!("post {i}"),
                clock.now(),
                "busy",
                &format!("k{i}"),
            )
        } else {
            post(&member, &format!("post {i}"), clock.now())
        };
        if i % 2 == 1 {
            new.account = Some(stranger);
        }
        new
    });
    let outcomes = join_all(posts.map(|new| messages.append(new))).await;
    let mut seqs = Vec::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match (i % 2, ok(outcome, "racing post")) {
            (0, AppendOutcome::Stored(m)) => seqs.push(m.seq),
            (1, AppendOutcome::NotMember) => {}
            (_, other) => panic!("post {i}: unexpected {other:?}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=12).collect::<Vec<u64>>(),
        "the members' posts, gap-free"
    );
    assert_eq!(last_seq(messages, &member).await, 12);
}

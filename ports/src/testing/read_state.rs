//! Read markers, members in joining order, leaving and removal, and paging backwards:
//! checks of [`super::conversations_suite`].

use super::conversations::{chat_at, join, own, post, summary, Repos};
use super::support::{fresh_account, ok, unique_u128, wall_now};
use crate::{ChatAccess, PortError, ReadUpdate};
use messenger_domain::{ChatId, Member, MemberId};
use std::time::Duration;

/// Creator at 0, joiner at the end, poster at its message, forward only, beyond the end
/// refused, two accounts independent; unread = last_seq − marker.
pub async fn read_markers_follow_join_post_and_read(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let poster = fresh_account(r.accounts).await;
    let reader = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let unread = |s: messenger_domain::ChatSummary| (s.read_seq, s.unread_count());
    assert_eq!(unread(summary(r, chat.id, own(creator)).await), (0, 0));
    let p = join(r, chat.id, poster, "P").await;
    for i in 0..3 {
        post(r, &p, &format!("m{i}"), wall_now()).await;
    }
    assert_eq!(
        unread(summary(r, chat.id, own(creator)).await),
        (0, 3),
        "a creator that never read has every message unread"
    );
    assert_eq!(
        unread(summary(r, chat.id, own(poster)).await),
        (3, 0),
        "posting moves the poster's marker to its message"
    );
    join(r, chat.id, reader, "R").await;
    assert_eq!(
        unread(summary(r, chat.id, own(reader)).await),
        (3, 0),
        "joining puts the marker at the chat's end"
    );
    post(r, &p, "m3", wall_now()).await;
    post(r, &p, "m4", wall_now()).await;
    assert_eq!(unread(summary(r, chat.id, own(reader)).await), (3, 2));
    let mark = |account, upto| async move {
        ok(
            r.members.mark_read(chat.id, account, upto).await,
            "mark_read",
        )
    };
    assert_eq!(
        mark(reader, 4).await,
        ReadUpdate::Marked {
            read_seq: 4,
            last_seq: 5
        },
        "mark_read moves the marker forward"
    );
    assert_eq!(
        mark(reader, 2).await,
        ReadUpdate::Marked {
            read_seq: 4,
            last_seq: 5
        },
        "mark_read never moves the marker back"
    );
    assert_eq!(
        mark(reader, 6).await,
        ReadUpdate::BeyondEnd,
        "mark_read past the chat's end is refused"
    );
    assert_eq!(unread(summary(r, chat.id, own(reader)).await), (4, 1));
    assert_eq!(
        unread(summary(r, chat.id, own(creator)).await),
        (0, 5),
        "another account's marker is independent"
    );
    assert_eq!(
        mark(creator, 5).await,
        ReadUpdate::Marked {
            read_seq: 5,
            last_seq: 5
        }
    );
    assert_eq!(unread(summary(r, chat.id, own(reader)).await), (4, 1));
    assert_eq!(
        r.members
            .mark_read(ChatId::from_u128(unique_u128()), reader, 0)
            .await,
        Err(PortError::NotFound),
        "mark_read in an unknown chat is NotFound"
    );
}

/// Current members in joining order, paged by join number, without those that left.
pub async fn members_page_in_joining_order(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let mut joined: Vec<Member> = Vec::new();
    for i in 0..5 {
        let account = fresh_account(r.accounts).await;
        joined.push(join(r, chat.id, account, &format!("M{i}")).await);
    }
    ok(r.members.leave(chat.id, joined[1].id, false).await, "leave");
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(
            r.members.members_page(chat.id, after, 2).await,
            "members_page",
        );
        assert_eq!(page.last_join_seq, 5, "the chat's last join number");
        let Some(last) = page.members.last() else {
            break;
        };
        assert!(last.join_seq > after, "join numbers grow along the pages");
        after = last.join_seq;
        seen.extend(page.members.into_iter().map(|e| e.member));
    }
    let want: Vec<Member> = joined
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(
        seen, want,
        "members_page must give the current members in joining order, each once"
    );
    let unknown = ok(
        r.members
            .members_page(ChatId::from_u128(unique_u128()), 0, 10)
            .await,
        "members_page",
    );
    assert!(unknown.members.is_empty() && unknown.last_join_seq == 0);
}

/// Leaving ends a membership (not current, count down, access gone unless another
/// identity or the chat's creation keeps it); a bar stops re-joining; re-joining after
/// leaving stores a new member.
pub async fn members_leave_and_removal(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let leaver = fresh_account(r.accounts).await;
    let spammer = fresh_account(r.accounts).await;
    let twice = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let own_member = join(r, chat.id, creator, "Owner").await;
    let l = join(r, chat.id, leaver, "Leaver").await;
    let s = join(r, chat.id, spammer, "Spam").await;
    let t1 = join(r, chat.id, twice, "T1").await;
    let t2 = join(r, chat.id, twice, "T2").await;
    let access =
        |account| async move { ok(r.members.chat_access(chat.id, account).await, "chat_access") };
    assert_eq!(summary(r, chat.id, own(creator)).await.member_count, 5);

    ok(r.members.leave(chat.id, l.id, false).await, "leave");
    let found = ok(r.members.member(chat.id, l.id).await, "member");
    assert_eq!(found, None, "a member that left is not a current member");
    assert_eq!(
        r.members.leave(chat.id, l.id, false).await,
        Err(PortError::NotFound),
        "leaving twice is NotFound"
    );
    assert_eq!(
        access(leaver).await,
        ChatAccess::Outsider,
        "an account with no identity left is an Outsider"
    );
    let back = join(r, chat.id, leaver, "Leaver").await;
    assert_ne!(
        back.id, l.id,
        "re-joining after leaving stores a new member"
    );
    assert_eq!(access(leaver).await, ChatAccess::Participant);

    ok(r.members.leave(chat.id, s.id, true).await, "remove");
    assert_eq!(access(spammer).await, ChatAccess::Outsider);
    for reuse in [true, false] {
        let again = Member {
            id: MemberId::from_u128(unique_u128()),
            chat_id: chat.id,
            account_id: spammer,
            name: "Spam".into(),
            joined_at: wall_now(),
        };
        assert_eq!(
            r.members.join(&again, reuse).await,
            Err(PortError::NotFound),
            "a removed account may not join again (reuse: {reuse})"
        );
    }

    ok(r.members.leave(chat.id, t1.id, false).await, "leave");
    assert_eq!(
        access(twice).await,
        ChatAccess::Participant,
        "an account with another identity left still participates"
    );
    ok(
        r.members.leave(chat.id, own_member.id, false).await,
        "leave",
    );
    assert_eq!(
        access(creator).await,
        ChatAccess::Participant,
        "the creator participates without an identity"
    );
    let s = summary(r, chat.id, own(twice)).await;
    assert_eq!(
        s.my_users,
        vec![t2],
        "my_users holds only current identities"
    );
    assert_eq!(
        s.member_count, 2,
        "member_count after three leaves and a re-join"
    );
    assert_eq!(
        r.members
            .leave(ChatId::from_u128(unique_u128()), t1.id, false)
            .await,
        Err(PortError::NotFound)
    );
}

/// The newest `limit` at or below a point, oldest first; walking back visits each message
/// once; past the end reads as the end; an unknown chat reads as empty.
pub async fn page_before_reads_backwards(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let m = join(r, chat.id, creator, "Writer").await;
    let empty = ok(
        r.messages.page_before(chat.id, None, 5).await,
        "page_before",
    );
    assert!(
        empty.messages.is_empty() && empty.last_seq == 0,
        "an empty chat"
    );
    let base = wall_now();
    for i in 0..23u64 {
        post(r, &m, &format!("t{i}"), base.plus(Duration::from_millis(i))).await;
    }
    let seqs = |before: Option<u64>, limit: u32| async move {
        let page = ok(
            r.messages.page_before(chat.id, before, limit).await,
            "page_before",
        );
        assert_eq!(page.last_seq, 23, "page_before reports the chat's last_seq");
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(None, 5).await, vec![19, 20, 21, 22, 23], "the end");
    assert_eq!(seqs(Some(10), 4).await, vec![7, 8, 9, 10]);
    assert_eq!(seqs(Some(2), 5).await, vec![1, 2], "near the start");
    assert_eq!(
        seqs(Some(0), 5).await,
        Vec::<u64>::new(),
        "before the first"
    );
    assert_eq!(seqs(Some(100), 3).await, vec![21, 22, 23], "past the end");
    for limit in [1, 4, 7, 23, 50] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = seqs(before, limit).await;
            let Some(&first) = page.first() else { break };
            seen.splice(0..0, page);
            before = Some(first - 1);
        }
        assert_eq!(
            seen,
            (1..=23).collect::<Vec<_>>(),
            "walking back with limit {limit} visits each message once"
        );
    }
    let unknown = ok(
        r.messages
            .page_before(ChatId::from_u128(unique_u128()), None, 5)
            .await,
        "page_before",
    );
    assert!(unknown.messages.is_empty() && unknown.last_seq == 0);
}

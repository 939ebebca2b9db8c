//! The conversation use cases over the memory adapters, called directly: the chat list,
//! read markers and unread counts, members, leaving and removal, paging backwards through
//! the page cache, legacy mode.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod events;
mod live;
mod world;

use messenger_domain::{
    ChatId, ChatName, DisplayName, Error, IdParam, Limit, MemberId, MessageText, UncheckedCursor,
};
use messenger_ports::PageAnchor;
use std::sync::atomic::Ordering;
use world::{domain_err, world};

#[tokio::test]
async fn unread_counts_follow_join_post_read_and_leave() {
    let w = world(false);
    let (ann, bob) = (w.account("ann").await, w.account("bob").await);
    let chat = w.chat(&ann, "room").await;
    let a = w.join(&ann, chat, "Ann").await;
    for i in 0..3 {
        w.post(&ann, chat, a, &format!("a{i}")).await;
    }
    assert_eq!(w.unread(&ann, chat).await, 0, "the poster read its posts");
    let b = w.join(&bob, chat, "Bob").await;
    assert_eq!(w.unread(&bob, chat).await, 0, "history is not unread");
    w.post(&ann, chat, a, "a3").await;
    w.post(&ann, chat, a, "a4").await;
    assert_eq!(w.unread(&bob, chat).await, 2);
    let summary = w.m.chat_summary(&bob, chat).await.unwrap();
    let read =
        w.m.mark_read(
            &bob,
            chat,
            UncheckedCursor::parse(&summary.end_cursor().encode()),
        )
        .await
        .unwrap();
    assert_eq!(read.unread_count, 0);
    assert_eq!(read.read, summary.end_cursor());
    // Going back is ignored: the marker stays at the end.
    let earlier = summary.read_cursor();
    let again =
        w.m.mark_read(&bob, chat, UncheckedCursor::parse(&earlier.encode()))
            .await
            .unwrap();
    assert_eq!(
        again.read,
        summary.end_cursor(),
        "a marker never moves back"
    );
    w.post(&bob, chat, b, "b0").await;
    assert_eq!(w.unread(&ann, chat).await, 1, "ann's marker is her own");
    assert_eq!(w.unread(&bob, chat).await, 0);
    // Leaving: bob no longer sees the chat at all.
    w.m.remove_member(&bob, chat, IdParam::Valid(b))
        .await
        .unwrap();
    assert_eq!(
        domain_err(w.m.chat_summary(&bob, chat).await),
        Error::ChatNotFound
    );
    assert_eq!(w.list(&bob, 10).await, Vec::<ChatId>::new());
    // A cursor beyond the end or of another chat is a bad cursor.
    let other = w.chat(&ann, "other").await;
    let foreign = w.m.chat_summary(&ann, other).await.unwrap().end_cursor();
    for bad in [foreign.encode(), "zz".into()] {
        let e = domain_err(
            w.m.mark_read(&ann, chat, UncheckedCursor::parse(&bad))
                .await,
        );
        assert_eq!(e, Error::BadCursor, "{bad}");
    }
}

#[tokio::test]
async fn a_removed_account_cannot_read_post_or_join_again() {
    let w = world(false);
    let (owner, spammer, guest) = (
        w.account("owner").await,
        w.account("spammer").await,
        w.account("guest").await,
    );
    let chat = w.chat(&owner, "room").await;
    let s = w.join(&spammer, chat, "Spam").await;
    let g = w.join(&guest, chat, "Guest").await;
    w.post(&spammer, chat, s, "buy now").await;
    // Error order: chat-not-found, user-not-found, forbidden.
    let stranger = w.account("stranger").await;
    assert_eq!(
        domain_err(w.m.remove_member(&stranger, chat, IdParam::Valid(s)).await),
        Error::ChatNotFound
    );
    let unknown = MemberId::from_u128(999_999);
    assert_eq!(
        domain_err(
            w.m.remove_member(&guest, chat, IdParam::Valid(unknown))
                .await
        ),
        Error::UserNotFound
    );
    assert_eq!(
        domain_err(w.m.remove_member(&guest, chat, IdParam::Valid(s)).await),
        Error::Forbidden
    );
    w.m.remove_member(&owner, chat, IdParam::Valid(s))
        .await
        .unwrap();
    let page = PageAnchor::From(None);
    let limit = Limit::messages(10).unwrap();
    assert_eq!(
        domain_err(w.m.read_messages(&spammer, chat, page, limit).await),
        Error::ChatNotFound,
        "a removed account cannot read"
    );
    let text = MessageText::parse("again").unwrap();
    assert_eq!(
        domain_err(
            w.m.post_message(&spammer, chat, IdParam::Valid(s), text, None)
                .await
        ),
        Error::ChatNotFound,
        "a removed account cannot post"
    );
    let name = DisplayName::parse("Spam").unwrap();
    assert_eq!(
        domain_err(w.m.join_chat(&spammer, chat, name).await),
        Error::ChatNotFound,
        "a removed account cannot join again"
    );
    // The message stays, with its name; the guest still reads and posts.
    let msgs = w.m.read_messages(&guest, chat, page, limit).await.unwrap();
    assert_eq!(msgs.messages[0].user_name, "Spam");
    w.post(&guest, chat, g, "hi").await;
    // A member that left (not removed) cannot post under its old id, but may join again.
    w.m.remove_member(&guest, chat, IdParam::Valid(g))
        .await
        .unwrap();
    let text = MessageText::parse("late").unwrap();
    let e =
        w.m.post_message(&guest, chat, IdParam::Valid(g), text, None)
            .await;
    assert_eq!(
        domain_err(e),
        Error::ChatNotFound,
        "no identity left: no access"
    );
    let back = w.join(&guest, chat, "Guest").await;
    assert_ne!(back, g, "re-joining after leaving gives a new member");
    let text = MessageText::parse("late").unwrap();
    let e =
        w.m.post_message(&guest, chat, IdParam::Valid(g), text, None)
            .await;
    assert_eq!(
        domain_err(e),
        Error::UserNotFound,
        "the old identity cannot post"
    );
    // Members: in joining order, the caller's marked.
    let members =
        w.m.list_members(&guest, chat, None, Limit::members(10).unwrap())
            .await
            .unwrap();
    let listed: Vec<(MemberId, bool)> = members
        .members
        .iter()
        .map(|m| (m.member.id, m.is_mine))
        .collect();
    assert_eq!(listed, vec![(back, true)]);
}

#[tokio::test]
async fn renaming_is_for_the_creator() {
    let w = world(false);
    let (owner, member) = (w.account("owner").await, w.account("member").await);
    let chat = w.chat(&owner, "old").await;
    w.join(&member, chat, "M").await;
    let name = || ChatName::parse("new").unwrap();
    assert_eq!(
        domain_err(w.m.rename_chat(&member, chat, name()).await),
        Error::Forbidden
    );
    let renamed = w.m.rename_chat(&owner, chat, name()).await.unwrap();
    assert_eq!(renamed.chat.name, "new");
    let outsider = w.account("outsider").await;
    assert_eq!(
        domain_err(w.m.rename_chat(&outsider, chat, name()).await),
        Error::ChatNotFound
    );
}

#[tokio::test]
async fn the_list_follows_activity_while_others_post() {
    let w = world(false);
    let (me, other) = (w.account("me").await, w.account("other").await);
    let mut chats = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..6 {
        let chat = w.chat(&me, &format!("c{i}")).await;
        theirs.push(w.join(&other, chat, "O").await);
        chats.push(chat);
    }
    let newest_first: Vec<ChatId> = chats.iter().rev().copied().collect();
    assert_eq!(w.list(&me, 4).await, newest_first);
    // Others post into the two oldest: they move to the top, newest post first.
    w.post(&other, chats[0], theirs[0], "x").await;
    w.post(&other, chats[1], theirs[1], "y").await;
    let mut expected = vec![chats[1], chats[0]];
    expected.extend(chats[2..].iter().rev());
    assert_eq!(w.list(&me, 4).await, expected);
    // Paging while others post never shows a chat twice.
    let first =
        w.m.list_chats(&me, None, Limit::chats(3).unwrap())
            .await
            .unwrap();
    w.post(&other, chats[5], theirs[5], "z").await;
    w.post(&other, chats[2], theirs[2], "w").await;
    let from = Some(UncheckedCursor::parse(&first.next.encode()));
    let rest =
        w.m.list_chats(&me, from, Limit::chats(10).unwrap())
            .await
            .unwrap();
    let mut seen: Vec<ChatId> = first.chats.iter().map(|c| c.chat.id).collect();
    seen.extend(rest.chats.iter().map(|c| c.chat.id));
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no chat twice: {seen:?}");
    assert!(
        rest.events > first.events,
        "the event position grows with the changes"
    );
}

#[tokio::test]
async fn before_paging_walks_back_once_each_and_shares_the_cache() {
    let w = world(false);
    let me = w.account("me").await;
    let chat = w.chat(&me, "history").await;
    let my = w.join(&me, chat, "Me").await;
    for i in 0..25 {
        w.post(&me, chat, my, &format!("m{i}")).await;
    }
    let limit = Limit::messages(5).unwrap();
    let mut seen = Vec::new();
    let mut anchor = PageAnchor::Before(None);
    loop {
        let page = w.m.read_messages(&me, chat, anchor, limit).await.unwrap();
        // Others keep posting: the way back is not disturbed.
        w.post(&me, chat, my, "later").await;
        let texts: Vec<String> = page.messages.iter().map(|m| m.text.clone()).collect();
        seen.splice(0..0, texts);
        match page.prev {
            Some(prev) => anchor = PageAnchor::Before(Some(UncheckedCursor::parse(&prev.encode()))),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected, "each message once, oldest first");
    // A `from` page after 10 is the `before` page ending at 15: one cache entry for both.
    let hits = w.cache.hits.load(Ordering::SeqCst);
    let from =
        w.m.read_messages(&me, chat, PageAnchor::From(None), limit)
            .await
            .unwrap();
    let next = Some(UncheckedCursor::parse(&from.next.encode()));
    let second =
        w.m.read_messages(&me, chat, PageAnchor::From(next), limit)
            .await
            .unwrap();
    assert_eq!(from.prev, None, "the first page has no prev");
    assert_eq!(
        second.prev,
        Some(from.next),
        "prev is the point before the page"
    );
    assert_eq!(
        w.cache.hits.load(Ordering::SeqCst),
        hits + 2,
        "full pages read backwards are served to forwards readers from the cache"
    );
}

#[tokio::test]
async fn legacy_mode_sees_every_chat_as_its_creator() {
    let w = world(true);
    let anon = w.m.authenticate("").await.unwrap();
    let a = w.chat(&anon, "a").await;
    let b = w.chat(&anon, "b").await;
    let first = w.join(&anon, a, "Same").await;
    let second = w.join(&anon, a, "Same").await;
    assert_ne!(first, second, "each legacy join is a new member");
    w.post(&anon, a, first, "hello").await;
    assert_eq!(w.list(&anon, 1).await, vec![a, b]);
    let s = w.m.chat_summary(&anon, b).await.unwrap();
    assert!(s.is_creator);
    let s = w.m.chat_summary(&anon, a).await.unwrap();
    assert_eq!(
        (s.member_count, s.my_users.len(), s.unread_count()),
        (2, 2, 0)
    );
    // Any member may be removed: the one account owns them all.
    w.m.remove_member(&anon, a, IdParam::Valid(second))
        .await
        .unwrap();
    assert_eq!(w.m.chat_summary(&anon, a).await.unwrap().member_count, 1);
}

//! Conversations over [`Chats`], [`Members`] and [`Messages`]: the chat list and its
//! order, chat summaries, renaming (the events they record are checked in `events`). Read markers, members and paging
//! backwards are in `read_state`.

use super::read_state::{members_leave_and_removal, members_page_in_joining_order};
use super::read_state::{page_before_reads_backwards, read_markers_follow_join_post_and_read};
use super::support::{chat_by, fresh_account, ok, some, unique_name, unique_u128, wall_now};
use crate::{Accounts, AppendOutcome, ChatViewer, Chats, Members, Messages, NewMessage};
use messenger_domain::{
    AccountId, Chat, ChatId, ChatListCursor, ChatSummary, Member, MemberId, MessageId, Timestamp,
    PREVIEW_CHARS,
};
use std::time::Duration;

/// The repositories the conversation checks use together.
#[derive(Clone, Copy)]
pub struct Repos<'a> {
    /// Stores accounts.
    pub accounts: &'a dyn Accounts,
    /// Chats, summaries, the list.
    pub chats: &'a dyn Chats,
    /// Members and read markers.
    pub members: &'a dyn Members,
    /// Messages.
    pub messages: &'a dyn Messages,
}

/// Runs every conversation check of [`Chats`], [`Members`] and [`Messages`]:
/// - the chat list holds the chats an account created or has a current member in, newest
///   activity first (a message's time, else the chat's creation), ties by chat id
///   descending; paging with the cursor of [`ChatListCursor::after_page`] shows each chat
///   once, also across ties; a post moves a chat to the top; another account's list does
///   not show them until it joins; the every-chat view shows every chat, as creator;
/// - a summary has the chat, `is_creator`, the viewer's current identities in joining
///   order, the member count, the last message cut to 280 characters (flagged), the read
///   marker and the last sequence number; it exists (not visible) for a stranger; an
///   unknown chat has none;
/// - renaming changes the name everywhere; an unknown chat is `NotFound`;
/// - read markers: creator at 0, joiner at the end, poster at its message, forward only,
///   beyond the end refused, per account; unread = last_seq − marker;
/// - members in joining order, without those that left; leaving and removal (with a bar
///   on re-joining); a member that left is not current, and its account no longer
///   participates unless it has another identity or created the chat;
/// - `page_before` gives the newest `limit` at or below a point, oldest first, and walking
///   back visits each message once.
pub async fn conversations_suite(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
    messages: &dyn Messages,
) {
    let r = Repos {
        accounts,
        chats,
        members,
        messages,
    };
    chat_list_is_ordered_by_activity_and_pages_exactly(&r).await;
    every_chat_view_shows_every_chat_as_creator(&r).await;
    summaries_show_the_viewers_state(&r).await;
    renaming_changes_the_name(&r).await;
    read_markers_follow_join_post_and_read(&r).await;
    members_page_in_joining_order(&r).await;
    members_leave_and_removal(&r).await;
    page_before_reads_backwards(&r).await;
}

/// A viewer with auth on.
pub(crate) fn own(account: AccountId) -> ChatViewer {
    ChatViewer {
        account,
        every_chat: false,
    }
}

/// Stores a chat created by `creator` at `created_at`.
pub(crate) async fn chat_at(r: &Repos<'_>, creator: AccountId, created_at: Timestamp) -> Chat {
    let mut chat = chat_by(creator, &unique_name("conv-"));
    chat.created_at = created_at;
    ok(r.chats.insert_chat(&chat).await, "insert_chat");
    chat
}

/// Joins `account` to `chat` under `name` (with reuse).
pub(crate) async fn join(r: &Repos<'_>, chat: ChatId, account: AccountId, name: &str) -> Member {
    let member = Member {
        id: MemberId::from_u128(unique_u128()),
        chat_id: chat,
        account_id: account,
        name: name.to_owned(),
        joined_at: wall_now(),
    };
    ok(r.members.join(&member, true).await, "join")
}

/// Posts `text` as `member` at `now` and returns its sequence number.
pub(crate) async fn post(r: &Repos<'_>, member: &Member, text: &str, now: Timestamp) -> u64 {
    let outcome = r
        .messages
        .append(NewMessage {
            id: MessageId::from_u128(unique_u128()),
            chat_id: member.chat_id,
            user_id: member.id,
            account: Some(member.account_id),
            text: text.to_owned(),
            now,
            idempotency: None,
        })
        .await;
    match ok(outcome, "append") {
        AppendOutcome::Stored(m) => m.seq,
        other => panic!("append: expected a stored message, got {other:?}"),
    }
}

/// The summary, which must exist.
pub(crate) async fn summary(r: &Repos<'_>, chat: ChatId, viewer: ChatViewer) -> ChatSummary {
    some(
        ok(r.chats.chat_summary(chat, viewer).await, "chat_summary"),
        "chat_summary of an existing chat",
    )
}

/// The whole list of `viewer`, in pages of `limit`, checking no chat repeats.
async fn whole_list(r: &Repos<'_>, viewer: ChatViewer, limit: u32) -> Vec<ChatSummary> {
    let mut cursor = ChatListCursor::start(viewer.account);
    let mut all: Vec<ChatSummary> = Vec::new();
    loop {
        let page = ok(
            r.chats.list_chats(viewer, cursor, limit).await,
            "list_chats",
        );
        assert!(
            page.chats.len() <= limit as usize,
            "a page of the chat list must hold at most {limit} chats"
        );
        if page.chats.is_empty() {
            return all;
        }
        cursor = cursor.after_page(page.chats.iter().map(|c| c.activity));
        for c in page.chats {
            assert!(
                all.iter().all(|seen| seen.chat.id != c.chat.id),
                "paging the chat list (limit {limit}) showed chat {} twice",
                c.chat.id
            );
            all.push(c);
        }
    }
}

fn ids(list: &[ChatSummary]) -> Vec<ChatId> {
    list.iter().map(|c| c.chat.id).collect()
}

/// The list's order, paging across ties, a post moving a chat up, other accounts' lists.
pub async fn chat_list_is_ordered_by_activity_and_pages_exactly(r: &Repos<'_>) {
    let me = fresh_account(r.accounts).await;
    let other = fresh_account(r.accounts).await;
    let base = wall_now();
    let at = |s: u64| base.plus(Duration::from_secs(s));
    // Activities 1, 2, 2, 2, 3 s: a run of ties in the middle.
    let mut mine = Vec::new();
    for s in [1, 2, 2, 2, 3] {
        mine.push(chat_at(r, me, at(s)).await);
    }
    let mut expected: Vec<(Timestamp, ChatId)> =
        mine.iter().map(|c| (c.created_at, c.id)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<ChatId> = expected.into_iter().map(|(_, id)| id).collect();
    for limit in [1, 2, 3, 100] {
        let list = whole_list(r, own(me), limit).await;
        assert_eq!(
            ids(&list),
            expected,
            "the list (limit {limit}) must hold the account's chats, newest activity first, \
             ties by chat id descending"
        );
    }
    assert!(
        whole_list(r, own(other), 10).await.is_empty(),
        "a fresh account's list must be empty"
    );

    // The oldest chat gets a message: it moves to the top, with its time as activity.
    let oldest = mine[0].id;
    let poster = join(r, oldest, other, "Poster").await;
    post(r, &poster, "news", at(10)).await;
    let list = whole_list(r, own(me), 2).await;
    assert_eq!(
        list.first().map(|c| (c.chat.id, c.activity)),
        Some((oldest, at(10))),
        "a chat with a new message must lead the list with the message's time as activity"
    );
    assert_eq!(list.len(), 5, "moving up must not add or drop chats");
    let theirs = whole_list(r, own(other), 10).await;
    assert_eq!(
        ids(&theirs),
        vec![oldest],
        "an account's list must show a chat it joined (and only that)"
    );
}

/// The every-chat (legacy) view: every chat, each as its creator.
pub async fn every_chat_view_shows_every_chat_as_creator(r: &Repos<'_>) {
    let someone = fresh_account(r.accounts).await;
    let viewer = ChatViewer {
        account: fresh_account(r.accounts).await,
        every_chat: true,
    };
    let a = chat_at(r, someone, wall_now()).await;
    let b = chat_at(r, someone, wall_now().plus(Duration::from_secs(1))).await;
    let list = whole_list(r, viewer, 50).await;
    let pos = |id: ChatId| list.iter().position(|c| c.chat.id == id);
    let (pa, pb) = (
        some(pos(a.id), "a chat in the every-chat list"),
        some(pos(b.id), "a chat in the every-chat list"),
    );
    assert!(pb < pa, "the every-chat list must be newest activity first");
    assert!(
        list.iter().all(|c| c.is_creator),
        "the every-chat view must count the viewer as creator of every chat"
    );
    for pair in list.windows(2) {
        assert!(
            (pair[0].activity, pair[0].chat.id) > (pair[1].activity, pair[1].chat.id),
            "the every-chat list must be ordered by (activity, chat id) descending"
        );
    }
}

/// A summary's fields, for the creator, a member with two identities, and a stranger.
pub async fn summaries_show_the_viewers_state(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let member = fresh_account(r.accounts).await;
    let stranger = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let first = join(r, chat.id, member, "First").await;
    let second = join(r, chat.id, member, "Second").await;
    let other = join(r, chat.id, stranger, "Other").await;
    ok(r.members.leave(chat.id, other.id, false).await, "leave");
    post(r, &first, "short", wall_now()).await;
    let long = "🙂".repeat(PREVIEW_CHARS + 20);
    let last = post(r, &second, &long, wall_now()).await;

    let mine = summary(r, chat.id, own(member)).await;
    assert_eq!(mine.chat, chat, "a summary must hold the chat as stored");
    assert!(!mine.is_creator, "a member that did not create the chat");
    assert_eq!(
        mine.my_users,
        vec![first.clone(), second.clone()],
        "my_users must be the viewer's current identities in joining order"
    );
    assert_eq!(mine.member_count, 2, "member_count counts current members");
    assert_eq!(
        (mine.last_seq, mine.read_seq),
        (last, last),
        "the poster read up to its post"
    );
    let preview = some(mine.last_message.clone(), "last_message");
    assert_eq!(
        preview.message.seq, last,
        "last_message is the last message"
    );
    assert_eq!(
        (preview.message.text, preview.truncated),
        ("🙂".repeat(PREVIEW_CHARS), true),
        "last_message is cut to {PREVIEW_CHARS} characters and flagged"
    );
    assert!(mine.is_visible(), "a member sees the chat");

    let theirs = summary(r, chat.id, own(creator)).await;
    assert!(theirs.is_creator && theirs.my_users.is_empty() && theirs.is_visible());
    assert_eq!(theirs.unread_count(), last, "the creator has read nothing");
    let outsider = summary(r, chat.id, own(stranger)).await;
    assert!(
        !outsider.is_visible(),
        "an account whose only member left must not see the chat"
    );
    let unknown = ok(
        r.chats
            .chat_summary(ChatId::from_u128(unique_u128()), own(creator))
            .await,
        "chat_summary",
    );
    assert_eq!(unknown, None, "an unknown chat has no summary");
}

/// Renaming changes the name in `chat` and summaries; an unknown chat is `NotFound`.
pub async fn renaming_changes_the_name(r: &Repos<'_>) {
    let creator = fresh_account(r.accounts).await;
    let chat = chat_at(r, creator, wall_now()).await;
    let name = unique_name("renamed 🙂 ");
    ok(r.chats.rename_chat(chat.id, &name).await, "rename_chat");
    let stored = some(ok(r.chats.chat(chat.id).await, "chat"), "the renamed chat");
    assert_eq!(stored.name, name, "rename_chat must store the new name");
    assert_eq!(summary(r, chat.id, own(creator)).await.chat.name, name);
    assert_eq!(
        r.chats
            .rename_chat(ChatId::from_u128(unique_u128()), "x")
            .await,
        Err(crate::PortError::NotFound),
        "renaming an unknown chat must be NotFound"
    );
}

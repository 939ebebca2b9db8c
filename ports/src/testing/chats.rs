//! [`Chats`] and [`Members`]: storing chats, joining them (with and without reuse of a
//! member of the same name), and who may access a chat.

use super::support::{chat_by, fresh_account, ok, unique_name, unique_u128, wall_now};
use crate::{Accounts, ChatAccess, Chats, Members, PortError};
use futures_util::future::join_all;
use messenger_domain::{AccountId, Chat, ChatId, Member, MemberId};

/// Runs every check of [`Chats`] and [`Members`] (`accounts` stores the accounts used, for
/// adapters that enforce the reference):
/// - a stored chat is found, field for field (odd names verbatim); an unknown id is `None`;
///   a second chat with the same id is a `Conflict`;
/// - joining stores and returns the member as given; joining an unknown chat is
///   `NotFound`;
/// - with reuse, the same account joining the same chat under exactly the same name gets
///   the first member back (also for eight concurrent joins), while another name (case
///   counts), another account or another chat gives a new member; without reuse every
///   join is a new member;
/// - `member` finds a member only in its own chat;
/// - `chat_access`: `NoChat` for an unknown chat, `Participant` for the creator (without
///   joining) and for an account with a member, `Outsider` otherwise (also for an account
///   with a member in another chat only).
pub async fn chats_suite(accounts: &dyn Accounts, chats: &dyn Chats, members: &dyn Members) {
    stored_chat_is_found(accounts, chats).await;
    joining_an_unknown_chat_is_not_found(accounts, members).await;
    joined_member_is_stored(accounts, chats, members).await;
    join_with_reuse_returns_the_same_member(accounts, chats, members).await;
    concurrent_joins_with_reuse_store_one_member(accounts, chats, members).await;
    join_without_reuse_always_stores_a_new_member(accounts, chats, members).await;
    member_is_found_only_in_its_chat(accounts, chats, members).await;
    chat_access_tells_creators_members_and_outsiders(accounts, chats, members).await;
}

/// A new member (unique id) of `chat` for `account`, not yet stored.
fn member_of(chat: ChatId, account: AccountId, name: &str) -> Member {
    Member {
        id: MemberId::from_u128(unique_u128()),
        chat_id: chat,
        account_id: account,
        name: name.to_owned(),
        joined_at: wall_now(),
    }
}

/// Stores a fresh chat created by a fresh account.
async fn fresh_chat(accounts: &dyn Accounts, chats: &dyn Chats) -> Chat {
    let creator = fresh_account(accounts).await;
    let chat = chat_by(creator, &unique_name("chat-"));
    ok(chats.insert_chat(&chat).await, "insert_chat");
    chat
}

#[track_caller]
fn joined(result: crate::PortResult<Member>) -> Member {
    ok(result, "join")
}

/// A stored chat is found with every field as stored; an unknown id finds nothing; a
/// second insert with the same id is a `Conflict` and changes nothing.
pub async fn stored_chat_is_found(accounts: &dyn Accounts, chats: &dyn Chats) {
    let creator = fresh_account(accounts).await;
    for name in [
        unique_name("plain "),
        format!("'; DROP TABLE chats; -- \\\"{}\"", unique_name("")),
        format!("  Чат 東京 🙂  {}", unique_name("")),
    ] {
        let chat = chat_by(creator, &name);
        ok(chats.insert_chat(&chat).await, "insert_chat");
        let found = ok(chats.chat(chat.id).await, "chat");
        assert_eq!(
            found.as_ref(),
            Some(&chat),
            "chat() must return the stored chat, field for field (name {name:?} verbatim)"
        );
    }
    let chat = chat_by(creator, &unique_name("first-"));
    ok(chats.insert_chat(&chat).await, "insert_chat");
    let mut clash = chat_by(creator, &unique_name("second-"));
    clash.id = chat.id;
    assert_eq!(
        chats.insert_chat(&clash).await,
        Err(PortError::Conflict),
        "inserting a second chat with an existing id must be a Conflict"
    );
    let found = ok(chats.chat(chat.id).await, "chat");
    assert_eq!(
        found.as_ref(),
        Some(&chat),
        "a refused duplicate must change nothing"
    );
    let found = ok(chats.chat(ChatId::from_u128(unique_u128())).await, "chat");
    assert_eq!(found, None, "an unknown chat id must find no chat");
}

/// Joining a chat that does not exist is `NotFound`, with and without reuse.
pub async fn joining_an_unknown_chat_is_not_found(accounts: &dyn Accounts, members: &dyn Members) {
    let account = fresh_account(accounts).await;
    for reuse in [true, false] {
        let member = member_of(ChatId::from_u128(unique_u128()), account, "ghost");
        assert_eq!(
            members.join(&member, reuse).await,
            Err(PortError::NotFound),
            "joining an unknown chat (reuse: {reuse}) must be NotFound"
        );
    }
}

/// A join returns the member as given, and `member` then finds it.
pub async fn joined_member_is_stored(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let chat = fresh_chat(accounts, chats).await;
    let account = fresh_account(accounts).await;
    for (reuse, name) in [(true, "Ann 🙂 'quoted' \\"), (false, " spaced name ")] {
        let member = member_of(chat.id, account, name);
        let stored = joined(members.join(&member, reuse).await);
        assert_eq!(
            stored, member,
            "a first join (reuse: {reuse}) must store and return the member as given"
        );
        let found = ok(members.member(chat.id, member.id).await, "member");
        assert_eq!(
            found.as_ref(),
            Some(&member),
            "member() must find a joined member, field for field"
        );
    }
}

/// With reuse, the same account, chat and exact name give back the first member and
/// store nothing; another name, account or chat gives a new member.
pub async fn join_with_reuse_returns_the_same_member(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let chat = fresh_chat(accounts, chats).await;
    let other_chat = fresh_chat(accounts, chats).await;
    let account = fresh_account(accounts).await;
    let other_account = fresh_account(accounts).await;

    let first = joined(
        members
            .join(&member_of(chat.id, account, "Bob"), true)
            .await,
    );
    let retry = member_of(chat.id, account, "Bob");
    let again = joined(members.join(&retry, true).await);
    assert_eq!(
        again, first,
        "joining again with reuse under the same name must return the first member"
    );
    let found = ok(members.member(chat.id, retry.id).await, "member");
    assert_eq!(
        found, None,
        "a join answered with an existing member must not store the new one"
    );

    for (what, candidate) in [
        ("another name", member_of(chat.id, account, "Bobby")),
        (
            "a name differing in case",
            member_of(chat.id, account, "bob"),
        ),
        ("another account", member_of(chat.id, other_account, "Bob")),
        ("another chat", member_of(other_chat.id, account, "Bob")),
    ] {
        let stored = joined(members.join(&candidate, true).await);
        assert_eq!(
            stored, candidate,
            "a join with reuse but {what} must store and return a new member"
        );
    }
    // The original is still the one reused.
    let once_more = joined(
        members
            .join(&member_of(chat.id, account, "Bob"), true)
            .await,
    );
    assert_eq!(
        once_more.id, first.id,
        "reuse must keep returning the first member"
    );
}

/// Eight concurrent joins with reuse of one account, chat and name all return one and
/// the same member, and only that one is stored.
pub async fn concurrent_joins_with_reuse_store_one_member(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let chat = fresh_chat(accounts, chats).await;
    let account = fresh_account(accounts).await;
    let candidates: Vec<Member> = (0..8)
        .map(|_| member_of(chat.id, account, "Racer"))
        .collect();
    let results = join_all(candidates.iter().map(|m| members.join(m, true))).await;
    let returned: Vec<Member> = results.into_iter().map(joined).collect();
    let winner = returned[0].clone();
    assert!(
        candidates.contains(&winner),
        "the member returned must be one of those offered"
    );
    for m in &returned {
        assert_eq!(
            m, &winner,
            "every racing join with reuse must return the same member"
        );
    }
    for c in &candidates {
        let found = ok(members.member(chat.id, c.id).await, "member");
        if c.id == winner.id {
            assert_eq!(
                found.as_ref(),
                Some(&winner),
                "the returned member must be stored"
            );
        } else {
            assert_eq!(
                found, None,
                "racing joins with reuse must store exactly one member, but {} exists too",
                c.id
            );
        }
    }
}

/// Without reuse, every join stores and returns a new member, even under the same name.
pub async fn join_without_reuse_always_stores_a_new_member(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let chat = fresh_chat(accounts, chats).await;
    let account = fresh_account(accounts).await;
    let first = joined(
        members
            .join(&member_of(chat.id, account, "Legacy"), true)
            .await,
    );
    for _ in 0..3 {
        let candidate = member_of(chat.id, account, "Legacy");
        let stored = joined(members.join(&candidate, false).await);
        assert_eq!(
            stored, candidate,
            "a join without reuse must always store and return the new member"
        );
        let found = ok(members.member(chat.id, candidate.id).await, "member");
        assert_eq!(
            found.as_ref(),
            Some(&candidate),
            "the new member must be stored"
        );
    }
    let found = ok(members.member(chat.id, first.id).await, "member");
    assert_eq!(found.as_ref(), Some(&first), "earlier members stay");
}

/// `member` finds a member in its own chat only; unknown ids find nothing.
pub async fn member_is_found_only_in_its_chat(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let chat = fresh_chat(accounts, chats).await;
    let other_chat = fresh_chat(accounts, chats).await;
    let account = fresh_account(accounts).await;
    let member = joined(
        members
            .join(&member_of(chat.id, account, "Mia"), true)
            .await,
    );
    let found = ok(members.member(other_chat.id, member.id).await, "member");
    assert_eq!(
        found, None,
        "member() must not find a member of another chat"
    );
    let unknown_chat = ChatId::from_u128(unique_u128());
    let found = ok(members.member(unknown_chat, member.id).await, "member");
    assert_eq!(found, None, "member() of an unknown chat must find nothing");
    let found = ok(
        members
            .member(chat.id, MemberId::from_u128(unique_u128()))
            .await,
        "member",
    );
    assert_eq!(found, None, "an unknown member id must find nothing");
}

/// `chat_access`: `NoChat`, then `Participant` for the creator without joining, `Outsider`
/// for others until they join (a member elsewhere does not count), then `Participant`.
pub async fn chat_access_tells_creators_members_and_outsiders(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
) {
    let creator = fresh_account(accounts).await;
    let stranger = fresh_account(accounts).await;
    let unknown = ChatId::from_u128(unique_u128());
    assert_eq!(
        ok(members.chat_access(unknown, creator).await, "chat_access"),
        ChatAccess::NoChat,
        "chat_access on an unknown chat must be NoChat"
    );

    let chat = chat_by(creator, &unique_name("access-"));
    ok(chats.insert_chat(&chat).await, "insert_chat");
    assert_eq!(
        ok(members.chat_access(chat.id, creator).await, "chat_access"),
        ChatAccess::Participant,
        "the creator of a chat is a Participant without joining"
    );
    assert_eq!(
        ok(members.chat_access(chat.id, stranger).await, "chat_access"),
        ChatAccess::Outsider,
        "an account that neither created nor joined the chat is an Outsider"
    );

    let elsewhere = fresh_chat(accounts, chats).await;
    joined(
        members
            .join(&member_of(elsewhere.id, stranger, "Sam"), true)
            .await,
    );
    assert_eq!(
        ok(members.chat_access(chat.id, stranger).await, "chat_access"),
        ChatAccess::Outsider,
        "a member of another chat is still an Outsider here"
    );

    joined(
        members
            .join(&member_of(chat.id, stranger, "Sam"), true)
            .await,
    );
    assert_eq!(
        ok(members.chat_access(chat.id, stranger).await, "chat_access"),
        ChatAccess::Participant,
        "an account with a member in the chat is a Participant"
    );
    let legacy = fresh_account(accounts).await;
    joined(
        members
            .join(&member_of(chat.id, legacy, "Lee"), false)
            .await,
    );
    assert_eq!(
        ok(members.chat_access(chat.id, legacy).await, "chat_access"),
        ChatAccess::Participant,
        "an account that joined without reuse is a Participant too"
    );
}

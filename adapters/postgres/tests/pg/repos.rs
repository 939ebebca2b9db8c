//! The repository contracts, one behaviour per test.

use crate::helpers::*;
use messenger_domain::{AccountId, ChatId, MemberId, Session, TokenHash};
use messenger_ports::{
    Accounts, AppendOutcome, ChatAccess, Chats, IdempotencyRecord, Members, Messages, PortError,
    Sessions,
};

#[tokio::test]
async fn account_names_are_unique_case_sensitively() {
    let Some(schema) = TestSchema::new("account_names_are_unique_case_sensitively") else {
        return;
    };
    let store = schema.store().await;
    let bob = account("Bob");
    store.insert_account(&bob).await.unwrap();
    assert_eq!(
        store.insert_account(&account("Bob")).await,
        Err(PortError::Conflict)
    );
    store.insert_account(&account("bob")).await.unwrap();
    assert_eq!(store.account_by_name("Bob").await.unwrap(), Some(bob));
    assert_eq!(store.account_by_name("BOB").await.unwrap(), None);
}

#[tokio::test]
async fn sessions_are_stored_revoked_and_purged() {
    let Some(schema) = TestSchema::new("sessions_are_stored_revoked_and_purged") else {
        return;
    };
    let store = schema.store().await;
    let session = |b: u8, expires: i64| Session {
        token_hash: TokenHash([b; 32]),
        account_id: AccountId::from_u128(id()),
        created_at: ts(10),
        expires_at: ts(expires),
        revoked: false,
        client_address: "127.0.0.1".into(),
        user_agent: None,
    };
    let s1 = session(1, 100);
    let s2 = session(2, 200);
    store.insert_session(&s1).await.unwrap();
    store.insert_session(&s2).await.unwrap();
    assert_eq!(store.insert_session(&s1).await, Err(PortError::Conflict));
    assert_eq!(
        store.session(&s1.token_hash).await.unwrap(),
        Some(s1.clone())
    );
    assert!(store.revoke_session(&s1.token_hash).await.unwrap());
    assert!(
        store.revoke_session(&s1.token_hash).await.unwrap(),
        "idempotent"
    );
    assert!(!store.revoke_session(&TokenHash([9; 32])).await.unwrap());
    assert!(
        store
            .session(&s1.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(
        store.purge_sessions(ts(100)).await.unwrap(),
        0,
        "expires_at is not before 100"
    );
    assert_eq!(store.purge_sessions(ts(150)).await.unwrap(), 1);
    assert_eq!(store.session(&s1.token_hash).await.unwrap(), None);
    assert_eq!(store.session(&s2.token_hash).await.unwrap(), Some(s2));
}

#[tokio::test]
async fn chats_round_trip_and_ids_are_unique() {
    let Some(schema) = TestSchema::new("chats_round_trip_and_ids_are_unique") else {
        return;
    };
    let store = schema.store().await;
    let mut chat = chat_by(AccountId::from_u128(0));
    chat.name = "'; DROP TABLE chats; -- ünïcode 東京".into();
    store.insert_chat(&chat).await.unwrap();
    assert_eq!(store.insert_chat(&chat).await, Err(PortError::Conflict));
    assert_eq!(store.chat(chat.id).await.unwrap(), Some(chat));
    assert_eq!(store.chat(ChatId::from_u128(id())).await.unwrap(), None);
}

#[tokio::test]
async fn joins_reuse_names_per_account_unless_legacy() {
    let Some(schema) = TestSchema::new("joins_reuse_names_per_account_unless_legacy") else {
        return;
    };
    let store = schema.store().await;
    let alice = AccountId::from_u128(id());
    let bob = AccountId::from_u128(id());
    let chat = chat_by(alice);
    store.insert_chat(&chat).await.unwrap();

    let first = member_of(chat.id, bob, "bob");
    assert_eq!(store.join(&first, true).await.unwrap(), first);
    let again = store
        .join(&member_of(chat.id, bob, "bob"), true)
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "the same account and name give the same member"
    );
    let other_name = member_of(chat.id, bob, "Bob");
    assert_eq!(store.join(&other_name, true).await.unwrap(), other_name);
    let other_account = member_of(chat.id, alice, "bob");
    assert_eq!(
        store.join(&other_account, true).await.unwrap(),
        other_account
    );

    // Legacy mode: each join is a new member, also with a name already taken.
    let anon = AccountId::from_u128(0);
    let l1 = member_of(chat.id, anon, "guest");
    let l2 = member_of(chat.id, anon, "guest");
    assert_eq!(store.join(&l1, false).await.unwrap(), l1);
    assert_eq!(store.join(&l2, false).await.unwrap(), l2);
    assert_eq!(store.member(chat.id, l2.id).await.unwrap(), Some(l2));
    // A reusing join afterwards gets the first of that name.
    assert_eq!(
        store
            .join(&member_of(chat.id, anon, "guest"), true)
            .await
            .unwrap(),
        l1
    );

    let missing = member_of(ChatId::from_u128(id()), bob, "bob");
    assert_eq!(store.join(&missing, true).await, Err(PortError::NotFound));
    assert_eq!(store.join(&missing, false).await, Err(PortError::NotFound));
}

#[tokio::test]
async fn members_belong_to_their_chat_and_access_is_one_read() {
    let Some(schema) = TestSchema::new("members_belong_to_their_chat_and_access_is_one_read")
    else {
        return;
    };
    let store = schema.store().await;
    let creator = AccountId::from_u128(id());
    let joiner = AccountId::from_u128(id());
    let stranger = AccountId::from_u128(id());
    let chat = chat_by(creator);
    let other = chat_by(creator);
    store.insert_chat(&chat).await.unwrap();
    store.insert_chat(&other).await.unwrap();
    let m = store
        .join(&member_of(chat.id, joiner, "j"), true)
        .await
        .unwrap();
    assert_eq!(store.member(chat.id, m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(store.member(other.id, m.id).await.unwrap(), None);
    assert_eq!(
        store
            .member(chat.id, MemberId::from_u128(id()))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        store.chat_access(chat.id, creator).await.unwrap(),
        ChatAccess::Participant
    );
    assert_eq!(
        store.chat_access(chat.id, joiner).await.unwrap(),
        ChatAccess::Participant
    );
    assert_eq!(
        store.chat_access(chat.id, stranger).await.unwrap(),
        ChatAccess::Outsider
    );
    assert_eq!(
        store.chat_access(other.id, joiner).await.unwrap(),
        ChatAccess::Outsider
    );
    assert_eq!(
        store
            .chat_access(ChatId::from_u128(id()), creator)
            .await
            .unwrap(),
        ChatAccess::NoChat
    );
}

#[tokio::test]
async fn messages_get_gapless_sequence_numbers_and_times_that_never_run_backwards() {
    let Some(schema) = TestSchema::new("messages_get_gapless_sequence_numbers") else {
        return;
    };
    let store = schema.store().await;
    let (chat, m) = chat_with_creator_joined(&store).await;

    let first = post(&store, new_message(chat.id, &m, "one", 5_000)).await;
    assert_eq!((first.seq, first.created_at), (1, ts(5_000)));
    // A clock that went back: the stored time stays at the chat's last.
    let second = post(&store, new_message(chat.id, &m, "two", 4_000)).await;
    assert_eq!((second.seq, second.created_at), (2, ts(5_000)));
    let third = post(&store, new_message(chat.id, &m, "three", 6_000)).await;
    assert_eq!((third.seq, third.created_at), (3, ts(6_000)));

    let page = store.page_after(chat.id, 0, 100).await.unwrap();
    assert_eq!(page.last_seq, 3);
    assert_eq!(
        page.messages,
        vec![first.clone(), second.clone(), third.clone()]
    );
    let page = store.page_after(chat.id, 1, 1).await.unwrap();
    assert_eq!((page.messages, page.last_seq), (vec![second], 3));
    let page = store.page_after(chat.id, 3, 10).await.unwrap();
    assert_eq!((page.messages.len(), page.last_seq), (0, 3));
    let page = store.page_after(chat.id, u64::MAX, 10).await.unwrap();
    assert_eq!((page.messages.len(), page.last_seq), (0, 3));

    let empty = chat_by(chat.creator);
    store.insert_chat(&empty).await.unwrap();
    let page = store.page_after(empty.id, 0, 10).await.unwrap();
    assert_eq!((page.messages.len(), page.last_seq), (0, 0));
    let page = store
        .page_after(ChatId::from_u128(id()), 0, 10)
        .await
        .unwrap();
    assert_eq!((page.messages.len(), page.last_seq), (0, 0));

    assert_eq!(
        store
            .append(new_message(ChatId::from_u128(id()), &m, "x", 1))
            .await,
        Err(PortError::NotFound)
    );
}

#[tokio::test]
async fn texts_are_stored_verbatim() {
    let Some(schema) = TestSchema::new("texts_are_stored_verbatim") else {
        return;
    };
    let store = schema.store().await;
    let owner = AccountId::from_u128(id());
    let chat = chat_by(owner);
    store.insert_chat(&chat).await.unwrap();
    let m = store
        .join(
            &member_of(chat.id, owner, "Robert'); DROP TABLE members;--"),
            true,
        )
        .await
        .unwrap();
    let texts = [
        "'; DROP TABLE messages; --",
        "\\x00 \\ ' \" $1 %s {} ${}",
        "  leading and trailing  \n\t",
        "emoji 👋🏽 combining é (e\u{301}) RTL مرحبا 東京",
        "line1\r\nline2",
    ];
    for t in texts {
        let stored = post(&store, new_message(chat.id, &m, t, 1)).await;
        let page = store.page_after(chat.id, stored.seq - 1, 1).await.unwrap();
        assert_eq!(page.messages[0].text, t);
        assert_eq!(page.messages[0].user_name, m.name);
    }
}

fn with_key(mut m: messenger_ports::NewMessage, key: &str) -> messenger_ports::NewMessage {
    m.idempotency = Some(IdempotencyRecord {
        scope: "account:x".into(),
        key: key.into(),
        fingerprint: messenger_domain::idempotency_fingerprint(m.user_id, &m.text),
    });
    m
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_and_purge() {
    let Some(schema) = TestSchema::new("idempotency_keys_replay_refuse_and_purge") else {
        return;
    };
    let store = schema.store().await;
    let (chat, m) = chat_with_creator_joined(&store).await;

    let first = post(
        &store,
        with_key(new_message(chat.id, &m, "hello", 100), "k1"),
    )
    .await;
    let retry = store
        .append(with_key(new_message(chat.id, &m, "hello", 200), "k1"))
        .await
        .unwrap();
    assert_eq!(retry, AppendOutcome::Replayed(first.id));
    let other_body = store
        .append(with_key(new_message(chat.id, &m, "bye", 200), "k1"))
        .await
        .unwrap();
    assert_eq!(other_body, AppendOutcome::KeyReused);
    assert_eq!(store.page_after(chat.id, 0, 10).await.unwrap().last_seq, 1);

    // Keys are per chat and scope.
    let other_chat = chat_by(chat.creator);
    store.insert_chat(&other_chat).await.unwrap();
    let m2 = store
        .join(&member_of(other_chat.id, chat.creator, "me"), true)
        .await
        .unwrap();
    post(
        &store,
        with_key(new_message(other_chat.id, &m2, "hello", 100), "k1"),
    )
    .await;
    let mut other_scope = with_key(new_message(chat.id, &m, "hello", 300), "k1");
    other_scope.idempotency.as_mut().unwrap().scope = "account:y".into();
    post(&store, other_scope).await;

    // Unknown chat with a key: not found, and the key is not kept.
    let missing = ChatId::from_u128(id());
    assert_eq!(
        store
            .append(with_key(new_message(missing, &m, "hello", 100), "k9"))
            .await,
        Err(PortError::NotFound)
    );

    assert_eq!(store.purge_idempotency_keys(ts(100)).await.unwrap(), 0);
    assert_eq!(store.purge_idempotency_keys(ts(101)).await.unwrap(), 2);
    // After purging, the key is free again.
    let again = post(&store, with_key(new_message(chat.id, &m, "bye", 400), "k1")).await;
    assert_eq!(again.seq, 3);
    assert_eq!(store.purge_idempotency_keys(ts(i64::MAX)).await.unwrap(), 2);
}

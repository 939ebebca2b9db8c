//! The use cases over the memory adapters, called directly (the HTTP suite covers the
//! wire; these pin the rules that span ports).

use messenger_domain::{
    ChatName, CursorParam, DisplayName, Error, IdParam, Limit, MessageText, Password, SearchQuery,
    TaskStatus, Timestamp, UncheckedCursor, UserName,
};
use messenger_memory::*;
use messenger_ports::{AppError, Messenger, PageAnchor, Ports, Settings, TaskConsumer};
use std::sync::Arc;
use std::time::Duration;

struct World {
    messenger: Messenger,
    clock: Arc<ManualClock>,
    consumer: MemoryTaskConsumer,
}

fn world(settings: Settings) -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_700_000_000_000_000,
    )));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let (queue, consumer) = memory_task_queue(100);
    let ports = Ports {
        accounts: store.clone(),
        sessions: store.clone(),
        chats: store.clone(),
        members: store.clone(),
        messages: store.clone(),
        events: store.clone(),
        bus: Arc::new(MemoryEventBus::new()),
        search: store.clone(),
        session_cache: Arc::new(MemorySessionCache::new(1000, clock.clone())),
        page_cache: Some(Arc::new(MemoryPageCache::new(10_000))),
        login_attempts: Arc::new(MemoryAttempts::new(clock.clone())),
        register_limiter: Arc::new(GcraLimiter::per_minute(1000, 1000, clock.clone())),
        task_queue: Arc::new(queue),
        task_store: Arc::new(MemoryTaskStore::new(clock.clone())),
        hasher: Arc::new(PlainHasher),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
    };
    World {
        messenger: Messenger::new(ports, settings),
        clock,
        consumer,
    }
}

fn domain_err<T: std::fmt::Debug>(r: Result<T, AppError>) -> Error {
    match r {
        Err(AppError::Domain(e)) => e,
        other => panic!("expected a domain error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_conversation_pages_exactly_and_search_finds_it() {
    let w = world(Settings::default());
    let m = &w.messenger;
    let name = UserName::parse("alice").unwrap();
    let pw = Password::parse("pw").unwrap();
    m.register(name.clone(), pw.clone(), "127.0.0.1")
        .await
        .unwrap();
    let token = m.login(name, pw, "127.0.0.1").await.unwrap();
    let caller = m.authenticate(token.as_str()).await.unwrap();
    let chat = m
        .create_chat(&caller, ChatName::parse("room").unwrap())
        .await
        .unwrap();
    let me = m
        .join_chat(&caller, chat, DisplayName::parse("Al").unwrap())
        .await
        .unwrap();
    for i in 0..25 {
        m.post_message(
            &caller,
            chat,
            IdParam::Valid(me),
            MessageText::parse(format!("hello {i}")).unwrap(),
            None,
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut from = None;
    loop {
        let page = m
            .read_messages(
                &caller,
                chat,
                PageAnchor::From(from),
                Limit::messages(7).unwrap(),
            )
            .await
            .unwrap();
        if page.messages.is_empty() {
            break;
        }
        seen.extend(page.messages.iter().map(|m| m.text.clone()));
        from = Some(UncheckedCursor::parse(&page.next.encode()));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("hello {i}")).collect();
    assert_eq!(seen, expected);

    let task = m
        .start_search(&caller, SearchQuery::parse("HELLO 7").unwrap())
        .await
        .unwrap();
    assert_eq!(
        m.search_status(&caller, task).await.unwrap(),
        TaskStatus::Waiting
    );
    assert_eq!(
        domain_err(
            m.search_results(
                &caller,
                task,
                CursorParam::Start,
                Limit::search_hits(10).unwrap()
            )
            .await
        ),
        Error::TaskNotComplete
    );
    let d = w.consumer.next().await.unwrap().unwrap();
    messenger_ports::process_delivery(m, d).await;
    assert_eq!(
        m.search_status(&caller, task).await.unwrap(),
        TaskStatus::Success
    );
    let hits = m
        .search_results(
            &caller,
            task,
            CursorParam::Start,
            Limit::search_hits(10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(hits.hits.len(), 1);
    assert_eq!(hits.hits[0].text, "hello 7");
}

#[tokio::test]
async fn sessions_expire_and_logout_revokes() {
    let w = world(Settings::default());
    let m = &w.messenger;
    let name = UserName::parse("bob").unwrap();
    let pw = Password::parse("pw").unwrap();
    m.register(name.clone(), pw.clone(), "a").await.unwrap();
    assert_eq!(
        domain_err(m.register(name.clone(), pw.clone(), "a").await),
        Error::UserAlreadyExists
    );
    assert_eq!(
        domain_err(
            m.login(name.clone(), Password::parse("no").unwrap(), "a")
                .await
        ),
        Error::BadPassword
    );
    let t1 = m.login(name.clone(), pw.clone(), "a").await.unwrap();
    let t2 = m.login(name.clone(), pw.clone(), "a").await.unwrap();
    let c1 = m.authenticate(t1.as_str()).await.unwrap();
    m.logout(&c1).await.unwrap();
    assert_eq!(
        domain_err(m.authenticate(t1.as_str()).await),
        Error::InvalidSessionId
    );
    assert!(m.authenticate(t2.as_str()).await.is_ok());
    w.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        domain_err(m.authenticate(t2.as_str()).await),
        Error::SessionIdExpired
    );
    assert_eq!(
        domain_err(m.authenticate(t1.as_str()).await),
        Error::InvalidSessionId
    );
    assert_eq!(
        domain_err(m.authenticate("zz").await),
        Error::InvalidSessionId
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_address() {
    let w = world(Settings::default());
    let m = &w.messenger;
    let name = UserName::parse("carol").unwrap();
    let pw = Password::parse("pw").unwrap();
    m.register(name.clone(), pw.clone(), "a").await.unwrap();
    for _ in 0..10 {
        let e = domain_err(
            m.login(name.clone(), Password::parse("x").unwrap(), "a")
                .await,
        );
        assert_eq!(e, Error::BadPassword);
    }
    let e = domain_err(m.login(name.clone(), pw.clone(), "a").await);
    assert!(matches!(e, Error::RequestLimitExceeded { retry_after_secs } if retry_after_secs > 0));
    // Another address is not locked out.
    assert!(m.login(name.clone(), pw.clone(), "b").await.is_ok());
    w.clock.advance(Duration::from_secs(15 * 60));
    assert!(m.login(name, pw, "a").await.is_ok());
}

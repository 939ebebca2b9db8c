//! The data the chosen scenarios need, prepared over the API before anything is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{self, ChatRef, Credentials, Session};
use crate::cli::{RunArgs, Scenario};
use crate::error::BenchError;
use crate::setup::{self, Ctx};
use crate::workers::Text;

/// Messages in the chat whose first page is read again and again: more
/// than one page, so that page is full (and may be cached, as the design allows).
const PAGE_CHAT_MESSAGES: u64 = 200;

/// Connections used to store setup messages.
const SETUP_CONNECTIONS: usize = 32;

/// The most time one setup batch of messages may take.
const SETUP_DEADLINE: Duration = Duration::from_secs(300);

/// The accounts, chats and messages the chosen scenarios use.
pub(super) struct Fixture {
    pub(super) credentials: Credentials,
    pub(super) session: Session,
    pub(super) page_path: Option<Arc<str>>,
    pub(super) walk: Option<(Arc<str>, Vec<Option<String>>)>,
    pub(super) post_chats: Option<Arc<[ChatRef]>>,
    pub(super) search_session: Option<Session>,
    pub(super) list_session: Option<Session>,
}

/// Prepares what the scenarios in `args` need.
pub(super) async fn build_fixture(ctx: &Ctx, args: &RunArgs) -> Result<Fixture, BenchError> {
    let wants = |s: Scenario| args.scenarios.contains(&s);
    let (credentials, session) = setup::new_account(ctx, "bench").await?;

    let page_path = if wants(Scenario::Page) || wants(Scenario::Flood) {
        let chats: Arc<[ChatRef]> = setup::new_chats(ctx, &session, 1, "page").await?.into();
        let chat_id = chats[0].chat_id.clone();
        let stored = setup::store_messages(
            ctx,
            &session,
            chats,
            PAGE_CHAT_MESSAGES,
            SETUP_CONNECTIONS,
            SETUP_DEADLINE,
            Text::Tagged,
        )
        .await?;
        setup::all_stored("page chat", &stored, PAGE_CHAT_MESSAGES)?;
        Some(Arc::from(api::page_path(&chat_id, args.page_limit, None)))
    } else {
        None
    };

    let walk = if let Some(chat_id) = args
        .walk_chat
        .as_deref()
        .filter(|_| wants(Scenario::Cursor) || wants(Scenario::Newest))
    {
        let chat = api::join(&mut ctx.conn(), &session, chat_id, "walker").await?;
        let chat_id: Arc<str> = Arc::from(chat.chat_id.as_str());
        let starts = if wants(Scenario::Cursor) {
            setup::page_starts(ctx, &session, &chat_id, args.page_limit).await?
        } else {
            vec![None]
        };
        Some((chat_id, starts))
    } else if wants(Scenario::Cursor) || wants(Scenario::Newest) {
        let chats: Arc<[ChatRef]> = setup::new_chats(ctx, &session, 1, "walk").await?.into();
        let chat_id: Arc<str> = Arc::from(chats[0].chat_id.as_str());
        let began = Instant::now();
        let stored = setup::store_messages(
            ctx,
            &session,
            chats,
            args.walk_messages,
            SETUP_CONNECTIONS,
            SETUP_DEADLINE,
            Text::Tagged,
        )
        .await?;
        setup::all_stored("walked chat", &stored, args.walk_messages)?;
        eprintln!(
            "stored {} messages in the walked chat in {:.1} s",
            args.walk_messages,
            began.elapsed().as_secs_f64()
        );
        let starts = setup::page_starts(ctx, &session, &chat_id, args.page_limit).await?;
        Some((chat_id, starts))
    } else {
        None
    };

    let post_chats = if wants(Scenario::Post) {
        Some(
            setup::new_chats(ctx, &session, args.post_chats, "post")
                .await?
                .into(),
        )
    } else {
        None
    };

    let search_session = if let Some(chat_id) = args
        .search_chat
        .as_deref()
        .filter(|_| wants(Scenario::Search) || wants(Scenario::Shapes))
    {
        let (_, search_session) = setup::new_account(ctx, "bench-search").await?;
        api::join(&mut ctx.conn(), &search_session, chat_id, "searcher").await?;
        Some(search_session)
    } else if wants(Scenario::Search) || wants(Scenario::Shapes) {
        // Its own account, so the searched data is the same whatever ran before.
        let (_, search_session) = setup::new_account(ctx, "bench-search").await?;
        let chats: Arc<[ChatRef]> =
            setup::new_chats(ctx, &search_session, args.search_chats, "search")
                .await?
                .into();
        let stored = setup::store_messages(
            ctx,
            &search_session,
            chats,
            args.search_messages,
            SETUP_CONNECTIONS,
            SETUP_DEADLINE,
            Text::Tagged,
        )
        .await?;
        setup::all_stored("searched chats", &stored, args.search_messages)?;
        Some(search_session)
    } else {
        None
    };

    let list_session = if wants(Scenario::Chats) {
        // Its own account: its list holds exactly --list-chats chats, each with a message.
        let (_, list_session) = setup::new_account(ctx, "bench-list").await?;
        let chats: Arc<[ChatRef]> = setup::new_chats(ctx, &list_session, args.list_chats, "list")
            .await?
            .into();
        let count = chats.len() as u64;
        let stored = setup::store_messages(
            ctx,
            &list_session,
            chats,
            count,
            SETUP_CONNECTIONS,
            SETUP_DEADLINE,
            Text::Tagged,
        )
        .await?;
        setup::all_stored("listed chats", &stored, count)?;
        Some(list_session)
    } else {
        None
    };

    Ok(Fixture {
        credentials,
        session,
        page_path,
        walk,
        post_chats,
        search_session,
        list_session,
    })
}

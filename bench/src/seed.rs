//! `seed`: store many messages over many chats as fast as the server takes
//! them, e.g. 1,000,000 to measure the server's RSS with that much stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{self, ChatRef};
use crate::cli::SeedArgs;
use crate::error::BenchError;
use crate::load::{self, Budget};
use crate::rss;
use crate::setup::{self, Ctx};
use crate::target::Target;
use crate::workers::Post;

fn print_rss(pid: Option<u32>, when: &str) {
    if let Some(pid) = pid {
        match rss::read(pid) {
            Ok(rss) => println!("server RSS {when}: {rss}"),
            Err(e) => println!("server RSS {when}: {e}"),
        }
    }
}

/// Registers an account, creates and joins the chats, stores the messages,
/// and prints how long it took (and the server's RSS before and after).
///
/// # Errors
/// Bad options, a refused or silent target, or a failed setup call.
pub async fn seed(args: SeedArgs) -> Result<(), BenchError> {
    if args.chats == 0 || !(1..=4096).contains(&args.connections) {
        return Err(BenchError::Option(
            "--chats must be at least 1 and --connections 1..=4096".to_owned(),
        ));
    }
    let ctx = Ctx {
        target: Arc::new(Target::parse(&args.url)?),
        timeout: args.timeout,
    };
    setup::wait_ready(&ctx.target, Duration::from_secs(15)).await?;
    print_rss(args.rss_pid, "before seeding");
    let (_, session) = setup::new_account(&ctx, "bench-seed").await?;
    let chats: Arc<[ChatRef]> = match &args.into_chat {
        Some(chat_id) => {
            vec![api::join(&mut ctx.conn(), &session, chat_id, "seeder").await?].into()
        }
        None => setup::new_chats(&ctx, &session, args.chats, "seed")
            .await?
            .into(),
    };
    // For scripts that read the chat afterwards (`run --walk-chat`, `--search-chat`).
    println!("chat_id {}", chats[0].chat_id);
    let began = Instant::now();
    let workers = (0..args.connections)
        .map(|i| {
            Post::new(session.clone(), Arc::clone(&chats), i)
                .with_text(args.text)
                .with_round(args.round)
        })
        .collect();
    let outcome = load::drive(
        &ctx.target,
        ctx.timeout,
        Budget::Count {
            total: args.messages,
            deadline: args.max_time,
        },
        workers,
    )
    .await?;
    println!(
        "seeded {} messages over {} chats with {} connections in {:.1} s: {:.0} messages/s, p50 {:.3} ms, p99 {:.3} ms, {} failed",
        outcome.ok,
        chats.len(),
        args.connections,
        began.elapsed().as_secs_f64(),
        outcome.rate(),
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        outcome.errors
    );
    if let Some(error) = &outcome.first_error {
        println!("first error: {error}");
    }
    print_rss(
        args.rss_pid,
        &format!("after {} messages stored", outcome.ok),
    );
    setup::all_stored("seed", &outcome, args.messages)
}

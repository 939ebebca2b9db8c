//! `messenger-bench`: a load tool for a running messenger-api on this machine.
//!
//! It sets up its own fixtures over the API (accounts, chats, messages),
//! then measures each scenario — ping, the same page, pages by cursor,
//! posts, logins, the search round trip, page latency during a login
//! flood — over a fixed number of keep-alive connections, closed-loop,
//! for a fixed time after a warm-up, and prints req/s, p50 and p99. Given
//! the bare limit-server's URL, it measures that server's `/ping` in the
//! same run and shows every throughput as a fraction of it.
//!
//! Layout: `cli` (options), `target` (loopback-only URLs), `conn` (one
//! hyper HTTP/1.1 connection), `api` (one function per route), `load` (the
//! closed-loop driver and HDR histograms), `workers` (one per scenario),
//! `setup` (fixtures), `run` and `seed` (the subcommands), `report` (the
//! table), `rss` (`/proc/<pid>/status`), `argon` (the argon2 login bound),
//! `streams` and `sse` (the event-stream scenario and its frame reader).

mod api;
mod argon;
mod cli;
mod conn;
mod error;
mod load;
#[cfg(test)]
mod mock;
mod report;
mod rss;
mod run;
mod seed;
mod setup;
mod sse;
mod streams;
mod target;
#[cfg(test)]
mod tests;
mod workers;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::BenchError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("messenger-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> Result<(), BenchError> {
    match cli.command {
        Command::Rss { pid } => {
            println!("{}", rss::read(pid)?);
            Ok(())
        }
        Command::FreePort => {
            // The port is free when this returns; a script should use it at once.
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            Ok(())
        }
        Command::Run(args) => {
            let report = runtime(cli.threads)?.block_on(run::run(args))?;
            print!("{}", report.render());
            Ok(())
        }
        Command::Seed(args) => runtime(cli.threads)?.block_on(seed::seed(args)),
        Command::Streams(args) => {
            let report = runtime(cli.threads)?.block_on(streams::run(args))?;
            print!("{report}");
            Ok(())
        }
    }
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, BenchError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        if threads == 0 {
            return Err(BenchError::Option(
                "--threads must be at least 1".to_owned(),
            ));
        }
        builder.worker_threads(threads);
    }
    Ok(builder.enable_all().build()?)
}

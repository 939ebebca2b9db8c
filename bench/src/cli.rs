//! Command-line options.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::workers::Text;

const ABOUT: &str = "Load tool for messenger-api: req/s, p50 and p99 latency per scenario.";

const LONG_ABOUT: &str = "\
Load tool for messenger-api: req/s, p50 and p99 latency per scenario, over a
fixed number of keep-alive HTTP/1.1 connections, closed-loop, after a warm-up.

Run the server in memory with in-app throttling off and logs quiet, or the
throttle (100 requests/s per account) is what gets measured:

    NGINX_THROTTLING=y RUST_LOG=warn HOST=127.0.0.1 PORT=8080 messenger-api

Only 127.0.0.1 / localhost / [::1] targets are accepted. Every run stops by
itself after its duration or count.";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "messenger-bench", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Runtime threads of the load generator (default: the number of cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up fixtures over the API, then measure the chosen scenarios and print the table.
    #[command(long_about = LONG_ABOUT)]
    Run(RunArgs),
    /// Store many messages over many chats as fast as possible (for RSS after N messages).
    Seed(SeedArgs),
    /// Open N event streams on one chat, post M messages/s through a (second) instance,
    /// and check every stream gets every message once: delivery latency, RSS per stream,
    /// and (with --compare) /ping and posting with and without the streams open.
    Streams(StreamsArgs),
    /// Print a process's resident memory (VmRSS, VmHWM) from /proc/<pid>/status.
    Rss {
        /// The process id (e.g. of messenger-api).
        #[arg(long)]
        pid: u32,
    },
    /// Print a TCP port of 127.0.0.1 that is free right now (for scripts).
    FreePort,
}

/// A measured scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// GET /ping.
    Ping,
    /// GET the same 100-message page again and again.
    Page,
    /// GET pages following next.iterator through a long chat, starting over at its end.
    Cursor,
    /// POST messages, spread over --post-chats chats.
    Post,
    /// POST /v1/auth/login with a registered account and its right password.
    Login,
    /// POST /v1/chats/search, then poll its status until SUCCESS (the round trip).
    Search,
    /// GET page p99 while a login flood runs, against its idle p99.
    Flood,
    /// GET /v1/chats?limit=50 for an account in --list-chats chats (one message each).
    Chats,
    /// GET the walked chat's newest page (`before=` empty) and its first page, for the ratio.
    Newest,
    /// One search round trip at a time for each query shape of the search conformance
    /// suite (common, mid and rare words, two words, phrases, an absent word): p50 and
    /// p99 per shape, over messages seeded with `--text words` (or `seed_chat.sql -v words=1`).
    Shapes,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the messenger-api under test.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Base URL of the bare limit-server (shared/bench/limit); its GET /ping is
    /// measured in the same run and every throughput is shown as a fraction of it.
    #[arg(long)]
    pub limit_url: Option<String>,
    /// Concurrent connections (one closed-loop worker each).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured time per scenario (e.g. 10s, 500ms, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unrecorded warm-up before each scenario.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Scenarios to run, comma-separated, in this order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ping,page,cursor,post,login,search,flood"
    )]
    pub scenarios: Vec<Scenario>,
    /// Report the RSS of this process (the server) at start, after setup and at the end.
    #[arg(long)]
    pub rss_pid: Option<u32>,
    /// Login connections of the flood scenario (default: --connections).
    #[arg(long)]
    pub flood_connections: Option<usize>,
    /// Chats of the account whose chat list the chats scenario reads.
    #[arg(long, default_value_t = 1_000)]
    pub list_chats: usize,
    /// Messages of the chat the cursor and newest scenarios read.
    #[arg(long, default_value_t = 10_000)]
    pub walk_messages: u64,
    /// Read this existing chat (joined by the run's account) in the cursor and newest
    /// scenarios instead of filling a new one with --walk-messages over the API (for
    /// million-message chats seeded with bench/seed_chat.sql).
    #[arg(long)]
    pub walk_chat: Option<String>,
    /// Chats the post scenario spreads its messages over (at least 32 is meaningful).
    #[arg(long, default_value_t = 32)]
    pub post_chats: usize,
    /// Chats of the searching account.
    #[arg(long, default_value_t = 10)]
    pub search_chats: usize,
    /// Messages in the searching account's chats (1 % match the default query).
    #[arg(long, default_value_t = 10_000)]
    pub search_messages: u64,
    /// The searching account joins this existing chat (e.g. one seeded with 1,000,000
    /// messages) instead of filling --search-chats chats with --search-messages.
    #[arg(long)]
    pub search_chat: Option<String>,
    /// Measured time of each query shape of the shapes scenario (after a warm-up of at
    /// most --warmup, 1 s at most).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub shape_duration: Duration,
    /// Also append every row as `name<TAB>req/s<TAB>p50 ms<TAB>p99 ms<TAB>errors` to this
    /// file (for scripts that compare runs).
    #[arg(long)]
    pub summary: Option<std::path::PathBuf>,
    /// The search query.
    #[arg(long, default_value = "alpha tag7")]
    pub search_query: String,
    /// Pause between two status polls of a search task.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Messages per page of the page and cursor scenarios.
    #[arg(long, default_value_t = 100)]
    pub page_limit: u32,
    /// Timeout of one request (a search round trip: of one task).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Options of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Base URL of the messenger-api to fill.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Messages to store.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Chats to spread them over.
    #[arg(long, default_value_t = 1_000)]
    pub chats: usize,
    /// Post into this existing chat instead (a new account joins it), e.g. to grow a
    /// chat seeded earlier from 100,000 to 1,000,000 messages; --chats is then ignored.
    #[arg(long)]
    pub into_chat: Option<String>,
    /// What the messages say: `tagged` (~100 bytes, 1 % carry a given tag) or `words`
    /// (5 to 20 words of a log-uniform 20,000-word vocabulary, for the search shapes).
    #[arg(long, value_enum, default_value_t = Text::Tagged)]
    pub text: Text,
    /// Another round of seeding the same chat: its `words` texts differ from earlier
    /// rounds' (texts are drawn from the message's serial and the round).
    #[arg(long, default_value_t = 0)]
    pub round: u8,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Report the RSS of this process (the server) before and after.
    #[arg(long)]
    pub rss_pid: Option<u32>,
    /// Stop after this long even if not all messages are stored.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub max_time: Duration,
    /// Timeout of one request.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Options of `streams`.
#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// Base URL of the messenger-api whose event streams are opened (and /ping measured).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Base URL of the instance messages are posted through (default: --url); another
    /// instance over the same database measures delivery across instances.
    #[arg(long)]
    pub url2: Option<String>,
    /// Event streams to open (one connection each). The server's STREAMS_PER_ACCOUNT
    /// must allow streams ÷ --accounts per account.
    #[arg(long, default_value_t = 1_000)]
    pub streams: usize,
    /// Accounts the streams are spread over (all members of the one chat).
    #[arg(long, default_value_t = 4)]
    pub accounts: usize,
    /// Messages posted per second into the chat, spread evenly (0: no delivery phase,
    /// for idle streams).
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// How long messages are posted.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// After the last post, how long to wait for deliveries still on their way.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Also measure GET /ping (on --url) and closed-loop posting (through --url2)
    /// before the streams are opened and again while they are open.
    #[arg(long)]
    pub compare: bool,
    /// With --compare, post into the chat the streams follow (every post is delivered
    /// to every stream) instead of chats the streams' accounts are not in.
    #[arg(long)]
    pub compare_fanout: bool,
    /// Connections of the --compare measurements.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured time of each --compare measurement.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub compare_duration: Duration,
    /// Unrecorded warm-up before each --compare measurement.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Streams being opened at the same time.
    #[arg(long, default_value_t = 64)]
    pub open_concurrency: usize,
    /// Report the RSS of this process (the server whose streams are opened) before and
    /// after opening them.
    #[arg(long)]
    pub rss_pid: Option<u32>,
    /// With --rss-pid, first open this many plain keep-alive connections (one GET /ping
    /// each, then idle, held open to the end) and report what each costs the server:
    /// the floor under the cost of a stream. Streams + these must fit the fd limit.
    #[arg(long, default_value_t = 0)]
    pub idle_connections: usize,
    /// Timeout of one request (opening a stream: until its headers).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Parses `10`, `10s`, `500ms` or `2m`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 10s, 500ms, 2m)"))?;
    if !value.is_finite() || value < 0.0 || value * scale > 86_400.0 {
        return Err(format!("{text:?} is out of range (0 to 24 h)"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_milliseconds_and_minutes() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("2d").is_err());
    }

    #[test]
    fn scenarios_are_chosen_by_comma_separated_names() {
        let cli = Cli::try_parse_from([
            "messenger-bench",
            "run",
            "--scenarios",
            "ping,flood",
            "--duration",
            "1s",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.scenarios, vec![Scenario::Ping, Scenario::Flood]);
        assert_eq!(args.connections, 32);
        assert_eq!(args.duration, Duration::from_secs(1));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

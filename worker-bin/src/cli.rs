//! The command line: `messenger-worker` (or `run`) runs the worker; `healthcheck` asks its
//! `/ping` (the container's health check); `dead-letters list|requeue|purge` lets an
//! operator look at the task messages given up on. Every setting comes from the
//! environment, as for the API.

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run search tasks until SIGTERM/SIGINT (the default).
    Run,
    /// GET /ping on `HOST:WORKER_METRICS_PORT`; exit 0 on 200, 1 otherwise.
    Healthcheck,
    /// Act on the dead letters.
    DeadLetters(DeadLetterAction),
    /// Print the usage.
    Help,
}

/// A dead-letter command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterAction {
    /// Print up to `limit` dead letters of each queue (task id, queue, death count,
    /// reason), leaving them where they are.
    List {
        /// At most this many per queue.
        limit: usize,
    },
    /// Set their tasks back to `WAITING` and move the messages to the task queue.
    Requeue,
    /// Empty the dead-letter and parking queues.
    Purge,
}

/// The usage text.
pub const USAGE: &str = "\
usage: messenger-worker [run]                      run search tasks from RabbitMQ (default)
       messenger-worker healthcheck                GET /ping on HOST:WORKER_METRICS_PORT
       messenger-worker dead-letters list [--limit N]   show dead letters (default 100 per queue)
       messenger-worker dead-letters requeue       set their tasks WAITING and queue them again
       messenger-worker dead-letters purge         empty the dead-letter and parking queues
Settings come from the environment (and a .env file), as for messenger-api.";

/// A command line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}\n{USAGE}")]
pub struct UsageError(String);

/// Parses the arguments after the program name.
///
/// # Errors
/// [`UsageError`] naming what is wrong.
pub fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["run"] => Ok(Command::Run),
        ["healthcheck"] => Ok(Command::Healthcheck),
        ["help" | "-h" | "--help"] => Ok(Command::Help),
        ["dead-letters", "list"] => Ok(Command::DeadLetters(DeadLetterAction::List { limit: 100 })),
        ["dead-letters", "list", "--limit", n] => match n.parse::<usize>() {
            Ok(limit) if limit > 0 => Ok(Command::DeadLetters(DeadLetterAction::List { limit })),
            _ => Err(UsageError(format!(
                "--limit {n}: expected a whole number of at least 1"
            ))),
        },
        ["dead-letters", "requeue"] => Ok(Command::DeadLetters(DeadLetterAction::Requeue)),
        ["dead-letters", "purge"] => Ok(Command::DeadLetters(DeadLetterAction::Purge)),
        _ => Err(UsageError(format!("unknown command: {}", words.join(" ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        let none: [&str; 0] = [];
        assert_eq!(parse(none), Ok(Command::Run));
        assert_eq!(parse(["run"]), Ok(Command::Run));
        assert_eq!(parse(["healthcheck"]), Ok(Command::Healthcheck));
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        assert_eq!(
            parse(["dead-letters", "list"]),
            Ok(Command::DeadLetters(DeadLetterAction::List { limit: 100 }))
        );
        assert_eq!(
            parse(["dead-letters", "list", "--limit", "7"]),
            Ok(Command::DeadLetters(DeadLetterAction::List { limit: 7 }))
        );
        assert_eq!(
            parse(["dead-letters", "requeue"]),
            Ok(Command::DeadLetters(DeadLetterAction::Requeue))
        );
        assert_eq!(
            parse(["dead-letters", "purge"]),
            Ok(Command::DeadLetters(DeadLetterAction::Purge))
        );
    }

    #[test]
    fn refuses_the_rest_naming_it() {
        for bad in [
            vec!["serve"],
            vec!["dead-letters"],
            vec!["dead-letters", "list", "--limit", "0"],
            vec!["dead-letters", "list", "--limit", "x"],
            vec!["healthcheck", "now"],
        ] {
            let e = parse(&bad).unwrap_err().to_string();
            assert!(e.contains("usage:"), "{bad:?}: {e}");
        }
    }
}

//! The dead-letter commands (`messenger-worker dead-letters …`) and the periodic reading of
//! the queues' counts for `/metrics`.

use crate::cli::DeadLetterAction;
use messenger_ports::{parse_payload, Messenger};
use messenger_rabbitmq::{
    list_dead_letters, purge_dead_letters, requeue_dead_letters, AmqpConfig, AmqpError, QueueProbe,
};
use std::future::Future;
use std::time::Duration;

/// How often the queues' counts are read for `/metrics`.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Runs a dead-letter command, printing what it found or did. `messenger` (the task
/// store) is needed by `requeue` only, to set the tasks back to `WAITING`.
///
/// # Errors
/// [`AmqpError`] when the broker cannot be reached, or a task could not be revived.
pub async fn dead_letters(
    cfg: &AmqpConfig,
    action: DeadLetterAction,
    messenger: Option<&Messenger>,
) -> Result<(), AmqpError> {
    match action {
        DeadLetterAction::List { limit } => {
            let letters = list_dead_letters(cfg, limit).await?;
            println!("{:<34} {:<6} {:>6}  REASON", "TASK", "QUEUE", "DEATHS");
            for l in &letters {
                let task = parse_payload(&l.payload)
                    .map_or_else(|| "(malformed)".to_owned(), |id| id.to_string());
                let queue = if l.queue == cfg.parking_queue() {
                    "parked"
                } else {
                    "dead"
                };
                let reason = l.reason.as_deref().unwrap_or("-");
                println!("{task:<34} {queue:<6} {:>6}  {reason}", l.deaths);
            }
            println!("{} dead letter(s)", letters.len());
        }
        DeadLetterAction::Requeue => {
            let moved = requeue_dead_letters(cfg, |payload| async move {
                let (Some(m), Some(id)) = (messenger, parse_payload(&payload)) else {
                    return Ok(());
                };
                match m.revive_search_task(id).await {
                    Ok(revived) => {
                        if revived {
                            println!("task {id}: WAITING again");
                        }
                        Ok(())
                    }
                    Err(e) => Err(format!("task {id}: {e}")),
                }
            })
            .await?;
            println!("{moved} dead letter(s) moved back to {}", cfg.queue);
        }
        DeadLetterAction::Purge => {
            let (dead, parked) = purge_dead_letters(cfg).await?;
            println!(
                "purged {dead} from {} and {parked} from {}",
                cfg.dead_letter_queue(),
                cfg.parking_queue()
            );
        }
    }
    Ok(())
}

/// Reads the queues' counts every [`PROBE_EVERY`] into the metrics until `shutdown`.
pub async fn probe_queues<S>(probe: QueueProbe, shutdown: S)
where
    S: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        match probe.stats().await {
            Ok(stats) => crate::metrics::record_queues(Some(stats)),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the queues' counts");
                crate::metrics::record_queues(None);
            }
        }
    }
    probe.close().await;
}

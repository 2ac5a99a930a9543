//! Automatic relay (`--smtp-relay-auto QUERY|all`): every new message that matches is sent on
//! to its own envelope recipients (those `--smtp-relay-allow` lets through).
//!
//! The work is a queue in the store (`store/relay.rs`): ingest writes a job in the message's
//! own transaction, so a message acknowledged with 250 is relayed even after a kill, a restart
//! or a long relay outage. One worker takes due jobs in order: a message that does not match
//! the query (checked by the search's own SQL, one message at a time) or names no allowed
//! recipient is dropped from the queue; a failed attempt is retried with a doubling pause up
//! to `--smtp-relay-backoff-max`, and given up after `--smtp-relay-attempts`. The message stays
//! in its mailbox whatever happens, and deleting it takes its job along.
//!
//! A job is sent at least once: a kill between the relay's 250 and the job's update sends it
//! again after the restart.

use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::engine::Engine;
use crate::error::{Error, RelayError, Result};
use crate::query::Query;
use crate::relay_config::RelayConfig;
use crate::store::{RelayAttempt, RelayJob, RelayJobState};

/// Jobs read from the queue at once.
const BATCH: usize = 64;
/// Delay before the first retry; each later one doubles it, up to the configured maximum.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest single sleep while a retry is pending: due times are wall-clock, the sleep is not.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a store error before the worker tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Works the relay queue until `shutdown` turns true. It wakes on any event of the bus (a new
/// message queues a job), a settings change, when a retry is due, or at shutdown; it never
/// polls an empty queue.
pub(crate) async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let mut events = engine.events().subscribe();
    let mut settings = engine.subscribe_settings();
    loop {
        let sleep_for = tokio::select! {
            r = work_due(&engine) => match r {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "auto relay: cannot work the queue");
                    Some(RETRY_AFTER)
                }
            },
            _ = shutdown.changed() => return,
        };
        let due = crate::clock::sleep_or_never(sleep_for);
        tokio::select! {
            _ = due => {}
            e = events.recv() => {
                if matches!(e, Err(RecvError::Closed)) {
                    return;
                }
                // The queue is in the store: one look serves every event seen meanwhile.
                while !matches!(events.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
            }
            // The relay or its query changed: jobs may be workable now.
            _ = settings.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Works every due job; returns how long until the next pending one is due (`None`: none).
/// With automatic relay off, jobs stay queued for when it is on again.
async fn work_due(engine: &Engine) -> Result<Option<Duration>> {
    let Some(cfg) = super::current(engine) else {
        return Ok(None);
    };
    let Some(auto) = cfg.auto.clone() else {
        return Ok(None);
    };
    let query = auto.as_deref().map(crate::query::parse).transpose()?;
    loop {
        let now = now_ms();
        let jobs = engine.store().pending_relay_jobs(now, BATCH).await?;
        if jobs.is_empty() {
            return Ok(None);
        }
        for job in jobs {
            if job.next_at > now {
                let wait = u64::try_from(job.next_at - now).unwrap_or(0);
                return Ok(Some(Duration::from_millis(wait).min(MAX_SLEEP)));
            }
            work(engine, &cfg, query.as_ref(), &job).await?;
        }
    }
}

/// One attempt at one job. Errors are the store's; the relay's go on the job.
async fn work(
    engine: &Engine,
    cfg: &RelayConfig,
    query: Option<&Query>,
    job: &RelayJob,
) -> Result<()> {
    let store = engine.store();
    if let Some(q) = query {
        if !store.message_matches(job.message_seq, q.clone()).await? {
            return store.drop_relay_job(job.seq).await;
        }
    }
    let Some(message) = store
        .message(job.mailbox_id.clone(), job.message_id.clone())
        .await?
    else {
        // Deleted meanwhile: its job went with it.
        return Ok(());
    };
    let to: Vec<String> = message
        .envelope
        .rcpt_to
        .iter()
        .filter(|a| cfg.allows(a))
        .cloned()
        .collect();
    if to.is_empty() {
        tracing::info!(job = %job.id, "auto relay: no recipient the allow list lets through");
        return store.drop_relay_job(job.seq).await;
    }
    let Some(raw) = store
        .raw(job.mailbox_id.clone(), job.message_id.clone())
        .await?
    else {
        return Ok(());
    };
    let attempts = job.attempts.saturating_add(1);
    let now = now_ms();
    let sent = super::send(engine, cfg, &message.envelope.mail_from, &to, &raw).await;
    let attempt = match sent {
        Ok(r) => RelayAttempt {
            state: RelayJobState::Sent,
            attempts,
            next_at: now,
            error: None,
            response: Some(r.response),
            at: now,
        },
        Err(Error::Relay(RelayError::Failed(why))) if attempts < cfg.attempts => {
            let delay = backoff(attempts, cfg.backoff_max);
            tracing::info!(job = %job.id, attempts, retry_in_s = delay.as_secs(), error = %why, "auto relay: failed, will retry");
            RelayAttempt {
                state: RelayJobState::Pending,
                attempts,
                next_at: now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                error: Some(why),
                response: None,
                at: now,
            }
        }
        // Given up: out of attempts, a loop, a recipient or sender the relay cannot take.
        Err(e @ (Error::Relay(_) | Error::InvalidInput(_))) => {
            tracing::warn!(job = %job.id, attempts, error = %e, "auto relay: given up");
            RelayAttempt {
                state: RelayJobState::Failed,
                attempts,
                next_at: now,
                error: Some(e.to_string()),
                response: None,
                at: now,
            }
        }
        Err(e) => return Err(e),
    };
    store.record_relay_attempt(job.seq, attempt).await
}

/// The pause after the `attempts`-th failed attempt (1-based): 1 s, 2 s, 4 s … up to `max`.
fn backoff(attempts: u32, max: Duration) -> Duration {
    crate::clock::doubling_backoff(BACKOFF_BASE, attempts, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let max = Duration::from_secs(300);
        assert_eq!(backoff(1, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(4));
        assert_eq!(backoff(9, max), Duration::from_secs(256));
        assert_eq!(backoff(10, max), max);
        assert_eq!(backoff(u32::MAX, max), max);
    }
}

//! The sending stage: takes due rows from the queue, POSTs them, records how each attempt went.
//!
//! At most [`MAX_IN_FLIGHT`] at once, each on its own plain thread (a blocking `ureq` call must
//! not hold an async worker, and a detached thread, unlike `spawn_blocking`, cannot hold up the
//! runtime's shutdown). A failure is retried with exponential backoff; after [`MAX_ATTEMPTS`]
//! the row is kept as `failed`.
//!
//! It waits for work and never polls: with nothing pending it sleeps until something is
//! queued, a delivery finishes or the engine stops; with a retry pending, until it is due.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;

use super::signing::signature;
use crate::clock::now_ms;
use crate::engine::Engine;
use crate::store::{Attempt, DeliveryState, PendingDelivery};
use crate::urls::host_of;

/// Attempts per delivery before it is given up as `failed` (the first one included).
/// Five attempts with the backoff below span about 15 s (1 + 2 + 4 + 8 s, +-20%): webhooks here
/// call local test receivers, where a longer outage means a broken test, not a flaky network.
pub const MAX_ATTEMPTS: u32 = 5;
/// Delay before the first retry; each later one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest delay between two attempts (unreached with [`MAX_ATTEMPTS`] = 5; it bounds a larger cap).
pub const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Each delay is scaled by a random factor within +-this, so failing receivers are not hit in lockstep.
const JITTER: f64 = 0.2;
/// Whole-request timeout: connect, send, and the response head and (capped) body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent at once; one slow receiver cannot hold up the others beyond this.
pub const MAX_IN_FLIGHT: usize = 8;
/// Response bytes read (and discarded); nothing of a response is used but its status.
const MAX_RESPONSE_BYTES: u64 = 4096;
/// Longest single sleep while a retry is pending: due times are wall-clock, the sleep is not,
/// so a clock jump could otherwise delay the retry. Never used when nothing is pending.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a store error before the worker tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Sends due deliveries until `shutdown`; `queued` says that new rows were queued.
pub(super) async fn worker(
    engine: Engine,
    queued: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        // A webhook is called at its URL and nowhere else.
        .redirects(0)
        .user_agent(concat!("mailiy-webhook/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut running: JoinSet<()> = JoinSet::new();
    // Task id -> delivery seq, for the rows being sent now (never picked twice).
    let mut in_flight: HashMap<tokio::task::Id, i64> = HashMap::new();
    loop {
        // Enough rows to see past every in-flight one, start the free slots' worth, and learn
        // when the next not-yet-due one is. `None`: nothing to wake for but a signal.
        let limit = 2 * MAX_IN_FLIGHT + 1;
        let sleep_for = match engine.store().pending_deliveries(limit).await {
            Ok(rows) => {
                let now = now_ms();
                let mut wake_at = None;
                for due in rows {
                    if in_flight.values().any(|s| *s == due.seq) {
                        continue;
                    }
                    if due.next_at > now {
                        wake_at = Some(due.next_at);
                        break;
                    }
                    if in_flight.len() >= MAX_IN_FLIGHT {
                        // Due but no free slot: a finishing delivery wakes the loop.
                        break;
                    }
                    let seq = due.seq;
                    let handle = running.spawn(deliver(engine.clone(), agent.clone(), due));
                    in_flight.insert(handle.id(), seq);
                }
                wake_at.map(|at| {
                    Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(MAX_SLEEP)
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot read the delivery queue");
                Some(RETRY_AFTER)
            }
        };
        let due = crate::clock::sleep_or_never(sleep_for);
        tokio::select! {
            _ = due => {}
            // A notification sent while the loop was busy is kept (one permit), never lost.
            _ = queued.notified() => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                in_flight.remove(&id);
            }
            // Dropping `running` aborts the deliveries' tasks; a POST already on its thread
            // finishes there and is sent again after the restart (same delivery id).
            _ = shutdown.changed() => return,
        }
    }
}

/// The delay after the `attempts`-th failed attempt (1-based), before jitter.
fn backoff(attempts: u32) -> Duration {
    crate::clock::doubling_backoff(BACKOFF_BASE, attempts, BACKOFF_MAX)
}

fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER))
}

/// How one attempt went.
#[derive(Debug)]
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

async fn deliver(engine: Engine, agent: ureq::Agent, due: PendingDelivery) {
    let (tx, rx) = oneshot::channel();
    let url = due.url.clone();
    let event = due.event.clone();
    let id = due.id.clone();
    let signature = signature(&due.secret, &due.body);
    let body = due.body.clone();
    let spawned = std::thread::Builder::new()
        .name("mailiy-webhook".into())
        .spawn(move || {
            let _ = tx.send(post(&agent, &url, &event, &id, &signature, &body));
        });
    let outcome = match spawned {
        Ok(_) => rx.await.unwrap_or_else(|_| Outcome::Failed {
            status: None,
            error: "the request thread ended without an answer".into(),
        }),
        Err(e) => Outcome::Failed {
            status: None,
            error: format!("cannot start a request thread: {e}"),
        },
    };
    record(&engine, &due, outcome).await;
}

/// Sends one attempt (blocking). Only the status of the response is used.
fn post(
    agent: &ureq::Agent,
    url: &str,
    event: &str,
    delivery_id: &str,
    signature: &str,
    body: &[u8],
) -> Outcome {
    let result = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("X-Mailiy-Event", event)
        .set("X-Mailiy-Delivery", delivery_id)
        .set("X-Mailiy-Signature", signature)
        .send_bytes(body);
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            let mut error = t.kind().to_string();
            if let Some(m) = t.message() {
                error = format!("{error}: {m}");
            }
            if let Some(source) = std::error::Error::source(&t) {
                error = format!("{error}: {source}");
            }
            return Outcome::Failed {
                status: None,
                error,
            };
        }
    };
    let status = response.status();
    // Read a little so a small answer leaves the connection reusable; never more.
    let _ = std::io::copy(
        &mut response.into_reader().take(MAX_RESPONSE_BYTES),
        &mut std::io::sink(),
    );
    if (200..300).contains(&status) {
        Outcome::Delivered(status)
    } else {
        let error = if (300..400).contains(&status) {
            format!("HTTP {status} (redirects are not followed)")
        } else {
            format!("HTTP {status}")
        };
        Outcome::Failed {
            status: Some(status),
            error,
        }
    }
}

/// Stores an attempt's outcome (delivered, retry later, or given up) and counts it.
async fn record(engine: &Engine, due: &PendingDelivery, outcome: Outcome) {
    let attempts = due.attempts.saturating_add(1);
    let now = now_ms();
    let host = host_of(&due.url);
    let metrics = engine.metrics();
    let (state, status, error, next_at) = match outcome {
        Outcome::Delivered(status) => {
            metrics.webhook_delivered.fetch_add(1, Relaxed);
            tracing::debug!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, "webhook delivered");
            (DeliveryState::Delivered, Some(status), None, now)
        }
        Outcome::Failed { status, error } => {
            metrics.webhook_failed_attempts.fetch_add(1, Relaxed);
            if attempts >= MAX_ATTEMPTS {
                metrics.webhook_given_up.fetch_add(1, Relaxed);
                tracing::warn!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, error = %error, "webhook delivery failed; giving up");
                (DeliveryState::Failed, status, Some(error), now)
            } else {
                let delay = jittered(backoff(attempts));
                tracing::info!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, retry_in_ms = delay.as_millis() as u64, error = %error, "webhook delivery failed; will retry");
                let next_at = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(0));
                (DeliveryState::Pending, status, Some(error), next_at)
            }
        }
    };
    let attempt = Attempt {
        state,
        attempts,
        next_at,
        status,
        error,
        at: now,
    };
    let result = engine
        .store()
        .record_attempt(due.seq, due.webhook_id.clone(), attempt)
        .await;
    if let Err(e) = result {
        // The row stays as it was, so the attempt is made again (same delivery id).
        tracing::error!(error = %e, delivery = %due.id, "webhooks: cannot record a delivery outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(256));
        assert_eq!(backoff(10), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(10));
            assert!(d >= Duration::from_secs(8) && d <= Duration::from_secs(12));
        }
    }
}

//! Expiry: one task that sleeps until the next instant something is due — the earliest
//! `expiresAt` (then what expired is deleted) or the earliest expiry warning (then
//! `mailbox.expiring` is announced) — and reads the store only then, or when a mailbox's
//! expiry changed. An idle engine therefore makes no store queries here.
//!
//! Reads already treat a mailbox as gone from the instant of its expiry (every query filters
//! on `expires_at > now`); this task makes the deletion physical, on time.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{now_ms, Millis};
use crate::engine::Engine;
use crate::events::EventKind;

/// Longest single sleep. Waking reads nothing: it only checks the wall clock against the known
/// deadline, in case the clock jumped while the (monotonic) timer slept.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a store error before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let lead = i64::try_from(engine.config().expiry_warning.as_millis()).unwrap_or(i64::MAX);
    // Mailbox id -> the expiry it was announced for (an extended mailbox is announced again).
    let mut warned: HashMap<String, Millis> = HashMap::new();
    loop {
        let due = match next_due(&engine, lead, &mut warned).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "expiry: cannot read what is due");
                Some(now_ms() + RETRY_AFTER.as_millis() as Millis)
            }
        };
        // Sleep until it is due, re-reading only when told an expiry changed.
        loop {
            let now = now_ms();
            if due.is_some_and(|at| at <= now) {
                break;
            }
            let sleep_for = due.map_or(MAX_SLEEP, |at| {
                Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(MAX_SLEEP)
            });
            tokio::select! {
                _ = tokio::time::sleep(sleep_for) => {}
                _ = engine.expiry_changed() => break,
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Deletes what expired, announces what comes close, and returns the next instant something
/// is due (none: nothing will be until a mailbox is created or extended).
async fn next_due(
    engine: &Engine,
    lead: Millis,
    warned: &mut HashMap<String, Millis>,
) -> crate::error::Result<Option<Millis>> {
    let now = now_ms();
    let next_expiry = engine.store().earliest_expiry().await?;
    if next_expiry.is_some_and(|at| at <= now) {
        engine.sweep_expired(now).await?;
        // Due again at once: the next pass reads what is left (and what comes close).
        return Ok(Some(now));
    }
    if lead == 0 {
        return Ok(next_expiry);
    }
    let (closing, next_close) = engine.store().expiring(now, lead).await?;
    warned.retain(|id, _| closing.iter().any(|m| &m.id == id));
    for m in closing {
        if warned.get(&m.id) == Some(&m.expires_at) {
            continue;
        }
        warned.insert(m.id.clone(), m.expires_at);
        engine.events().publish(EventKind::MailboxExpiring {
            mailbox: engine.view(&m),
        });
    }
    let next_warning = next_close.map(|at| at.saturating_sub(lead));
    Ok(match (next_expiry, next_warning) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

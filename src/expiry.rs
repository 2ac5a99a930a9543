//! Expiry: one task that sleeps until the earliest `expiresAt` and deletes what has expired.
//!
//! Reads already treat a mailbox as gone from the instant of its expiry (every query filters
//! on `expires_at > now`); this task makes the deletion physical, on time.

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::engine::Engine;

/// Longest single sleep: a backstop in case a wake-up was missed (clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a store error before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    loop {
        let sleep_for = match engine.store().earliest_expiry().await {
            Ok(Some(at)) => {
                let now = now_ms();
                if at <= now {
                    if let Err(e) = engine.sweep_expired(now).await {
                        tracing::error!(error = %e, "expiry: sweep failed");
                        RETRY_AFTER
                    } else {
                        continue;
                    }
                } else {
                    Duration::from_millis((at - now) as u64).min(MAX_SLEEP)
                }
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error = %e, "expiry: cannot read the next expiry");
                RETRY_AFTER
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep_for) => {}
            _ = engine.expiry_changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}

//! The relay settings in force now: what release and the automatic relay's worker read before
//! each send, and what ingest asks before queueing a relay job with a message.

use super::Engine;
use crate::relay_config::RelayConfig;

impl Engine {
    /// The relay in force now (the `relay` setting), `None` when none is set.
    pub fn relay_config(&self) -> Option<RelayConfig> {
        let ca = self.config().relay.as_ref().and_then(|r| r.ca.clone());
        // Checked when it was set; a stored value that no longer resolves is no relay.
        match self.settings().relay.resolve(ca) {
            Ok(relay) => relay,
            Err(e) => {
                tracing::warn!(error = %e, "relay setting ignored");
                None
            }
        }
    }

    /// Whether a new message gets an automatic relay job.
    pub fn auto_relay_on(&self) -> bool {
        let filled = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let settings = self.inner.settings.borrow();
        filled(&settings.relay.target) && filled(&settings.relay.auto)
    }
}

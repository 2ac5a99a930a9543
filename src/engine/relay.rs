//! The relay settings in force now: what release and the automatic relay's worker read before
//! each send, and what ingest asks before queueing a relay job with a message.

use super::Engine;
use crate::relay_config::RelayConfig;

impl Engine {
    /// The relay in force now, `None` when none is set.
    pub fn relay_config(&self) -> Option<RelayConfig> {
        self.config().relay.clone()
    }

    /// Whether a new message gets an automatic relay job.
    pub fn auto_relay_on(&self) -> bool {
        self.config()
            .relay
            .as_ref()
            .is_some_and(|r| r.auto.is_some())
    }
}

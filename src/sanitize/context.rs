//! What one sanitizer call tells its attribute filter, and what the filter records for it.

use std::sync::atomic::{AtomicBool, Ordering};

use super::cid::CidPlaceholders;

/// What the attribute filter of one `clean` is told and what it records.
pub(super) struct FilterContext {
    allow_remote: bool,
    /// Something remote was removed because `allow_remote` is off.
    blocked: AtomicBool,
    pub(super) cids: CidPlaceholders,
}

impl FilterContext {
    pub(super) fn new(allow_remote: bool, cids: CidPlaceholders) -> Self {
        FilterContext {
            allow_remote,
            blocked: AtomicBool::new(false),
            cids,
        }
    }

    pub(super) fn allow_remote(&self) -> bool {
        self.allow_remote
    }

    pub(super) fn note_blocked(&self) {
        self.blocked.store(true, Ordering::Relaxed);
    }

    pub(super) fn blocked(&self) -> bool {
        self.blocked.load(Ordering::Relaxed)
    }
}

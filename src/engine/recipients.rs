//! Recipient policy: whether mail to an address is wanted (a live mailbox, or catch-all), and
//! under which caps. SMTP asks this at `RCPT`, before any of the message is sent.

use super::Engine;
use crate::clock::now_ms;
use crate::config::Tier;
use crate::error::Result;

/// A recipient accepted at RCPT time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A live mailbox.
    Mailbox { id: String, address: String },
    /// Catch-all: no mailbox yet; one is created on delivery.
    CatchAll { address: String, tier: Tier },
}

impl Recipient {
    /// The address, lower-case.
    pub fn address(&self) -> &str {
        match self {
            Recipient::Mailbox { address, .. } | Recipient::CatchAll { address, .. } => address,
        }
    }
}

/// The answer to `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    Accept {
        recipient: Recipient,
        /// The tier whose caps apply (named in a refusal, with the flag that raises its cap).
        tier: Tier,
        max_message_bytes: u64,
        /// Bytes the mailbox can still take before its storage cap.
        storage_left: u64,
    },
    /// No live mailbox (unknown or expired) and no catch-all.
    Unknown,
}

impl Engine {
    /// Decides whether mail to `address` is wanted, and under which caps.
    pub async fn check_recipient(&self, address: &str) -> Result<RcptDecision> {
        let address = address.to_lowercase();
        if let Some((id, tier, bytes_used)) =
            self.store().mailbox_caps(address.clone(), now_ms()).await?
        {
            let limits = self.limits(tier);
            return Ok(RcptDecision::Accept {
                recipient: Recipient::Mailbox { id, address },
                tier,
                max_message_bytes: limits.max_message_bytes,
                storage_left: limits.max_storage_bytes.saturating_sub(bytes_used),
            });
        }
        match self.settings().catch_all {
            Some(tier) if address.contains('@') => {
                let limits = self.limits(tier);
                Ok(RcptDecision::Accept {
                    recipient: Recipient::CatchAll { address, tier },
                    tier,
                    max_message_bytes: limits.max_message_bytes,
                    storage_left: limits.max_storage_bytes,
                })
            }
            _ => Ok(RcptDecision::Unknown),
        }
    }
}

//! Recipient policy: whether mail to an address is wanted (a live mailbox, an authenticated
//! SMTP user's own inbox, or catch-all), and under which caps. SMTP asks this at `RCPT`, before
//! any of the message is sent.

use super::Engine;
use crate::clock::now_ms;
use crate::config::Tier;
use crate::error::Result;

/// A recipient accepted at RCPT time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A live mailbox.
    Mailbox { id: String, address: String },
    /// No mailbox yet; one is created on delivery: catch-all's, or (with `smtp_user`) the
    /// inbox of the SMTP user whose mail this is.
    CatchAll {
        address: String,
        tier: Tier,
        smtp_user: Option<String>,
    },
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
    /// Decides whether mail to `address` is wanted, and under which caps. From a session
    /// logged in as `smtp_user`, mail to anything but a live mailbox goes to that user's inbox
    /// (made on first mail with the default tier and lifetime), so one app's mail is together.
    pub async fn check_recipient(
        &self,
        address: &str,
        smtp_user: Option<&str>,
    ) -> Result<RcptDecision> {
        let address = address.to_lowercase();
        if let Some(live) = self.live_recipient(&address).await? {
            return Ok(live);
        }
        if let Some(user) = smtp_user {
            let inbox = self.user_inbox(user)?;
            if let Some(live) = self.live_recipient(&inbox).await? {
                return Ok(live);
            }
            let tier = self.settings().default_tier;
            return Ok(self.to_be_made(inbox, tier, Some(user.to_string())));
        }
        match self.settings().catch_all {
            Some(tier) if address.contains('@') => Ok(self.to_be_made(address, tier, None)),
            _ => Ok(RcptDecision::Unknown),
        }
    }

    async fn live_recipient(&self, address: &str) -> Result<Option<RcptDecision>> {
        let caps = self
            .store()
            .mailbox_caps(address.to_string(), now_ms())
            .await?;
        Ok(caps.map(|(id, tier, bytes_used)| {
            let limits = self.limits(tier);
            RcptDecision::Accept {
                recipient: Recipient::Mailbox {
                    id,
                    address: address.to_string(),
                },
                tier,
                max_message_bytes: limits.max_message_bytes,
                storage_left: limits.max_storage_bytes.saturating_sub(bytes_used),
            }
        }))
    }

    fn to_be_made(&self, address: String, tier: Tier, smtp_user: Option<String>) -> RcptDecision {
        let limits = self.limits(tier);
        RcptDecision::Accept {
            recipient: Recipient::CatchAll {
                address,
                tier,
                smtp_user,
            },
            tier,
            max_message_bytes: limits.max_message_bytes,
            storage_left: limits.max_storage_bytes,
        }
    }
}

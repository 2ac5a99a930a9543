//! Mailbox policy: creating one within its tier's caps, moving its expiry, destroying it, and
//! deleting what expired. Remote mailboxes go to [`super::RemoteMailboxes`] first.

use std::sync::atomic::Ordering::Relaxed;

use super::Engine;
use crate::clock::{now_ms, Millis};
use crate::config::Tier;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::ids;
use crate::model::{Mailbox, Origin};
use crate::store::NewMailbox;

/// What a caller may ask for when creating a mailbox (all optional, as in the API).
#[derive(Debug, Clone, Default)]
pub struct MailboxRequest {
    pub tier: Option<Tier>,
    pub ttl_minutes: Option<u64>,
    pub expires_at: Option<Millis>,
    pub local_part: Option<String>,
    pub domain: Option<String>,
    /// A remote account id: create the mailbox on that endpoint, with a local mirror.
    pub remote: Option<String>,
}

/// How a mailbox's expiry moves: later by some minutes, or to a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChange {
    ExtendMinutes(u64),
    At(Millis),
}

impl Engine {
    /// Creates a mailbox, validating the request against the tier's caps.
    pub async fn create_mailbox(&self, mut req: MailboxRequest) -> Result<Mailbox> {
        if let Some(remote) = req.remote.take() {
            return self.remotes()?.create(self, &remote, req).await;
        }
        let tier = req.tier.unwrap_or(self.settings().default_tier);
        let limits = self.limits(tier);
        let now = now_ms();
        let max_expiry = now + i64::from(limits.max_ttl_minutes) * 60_000;
        let expires_at = match (req.ttl_minutes, req.expires_at) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidInput(
                    "give ttlMinutes or expiresAt, not both".into(),
                ))
            }
            (Some(ttl), None) => {
                if ttl == 0 || ttl > u64::from(limits.max_ttl_minutes) {
                    return Err(Error::InvalidInput(format!(
                        "ttlMinutes must be between 1 and {} for the {tier} tier",
                        limits.max_ttl_minutes
                    )));
                }
                now + ttl as i64 * 60_000
            }
            (None, Some(at)) => {
                if at <= now || at > max_expiry {
                    return Err(Error::InvalidInput(format!(
                        "expiresAt must be in the future and at most {} minutes away for the {tier} tier",
                        limits.max_ttl_minutes
                    )));
                }
                at
            }
            (None, None) => now + i64::from(self.default_ttl_for(tier)) * 60_000,
        };
        let domain = match req.domain {
            Some(d) => normalize_domain(&d)?,
            None => self.config().domain.clone(),
        };
        let explicit = req
            .local_part
            .map(|lp| normalize_local_part(&lp))
            .transpose()?;
        // A random name can collide; an explicit one is the caller's choice and reports 409.
        let attempts = if explicit.is_some() { 1 } else { 5 };
        let mut last_err = None;
        for _ in 0..attempts {
            let local = explicit.clone().unwrap_or_else(ids::readable_local_part);
            let new = NewMailbox {
                id: ids::new_id("mbx"),
                address: format!("{local}@{domain}"),
                tier,
                created_at: now,
                expires_at,
                origin: Origin::Local,
                remote: None,
                smtp_user: None,
            };
            match self.store().create_mailbox(new).await {
                Ok(m) => {
                    self.mailbox_created(&m);
                    tracing::info!(mailbox = %m.id, tier = %m.tier, "mailbox created");
                    return Ok(m);
                }
                Err(e @ Error::AddressTaken(_)) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(Error::ShuttingDown))
    }

    /// Announces a mailbox that was just stored (here, by catch-all, or as a remote's mirror).
    pub(crate) fn mailbox_created(&self, m: &Mailbox) {
        self.wake_expiry();
        self.events().publish(EventKind::MailboxCreated {
            mailbox: self.view(m),
        });
    }

    /// A live mailbox by id or address.
    pub async fn mailbox(&self, key: &str) -> Result<Mailbox> {
        self.store()
            .find_mailbox(key.to_string(), now_ms())
            .await?
            .ok_or(Error::MailboxNotFound)
    }

    /// Live mailboxes, newest first.
    pub async fn mailboxes(&self) -> Result<Vec<Mailbox>> {
        self.store().list_mailboxes(now_ms()).await
    }

    /// Moves a mailbox's expiry: later by `extend_minutes`, or to `expires_at`; at most the
    /// tier's longest lifetime from now.
    pub async fn extend_mailbox(
        &self,
        key: &str,
        extend_minutes: Option<u64>,
        expires_at: Option<Millis>,
    ) -> Result<Mailbox> {
        let m = self.mailbox(key).await?;
        if m.origin == Origin::Remote {
            // The remote decides (its tier caps apply); the mirror follows.
            let change = match (extend_minutes, expires_at) {
                (Some(n), None) => ExpiryChange::ExtendMinutes(n),
                (None, Some(at)) => ExpiryChange::At(at),
                _ => {
                    return Err(Error::InvalidInput(
                        "give extendMinutes or expiresAt, not both".into(),
                    ))
                }
            };
            let updated = self.remotes()?.extend(self, &m, change).await?;
            self.mailbox_updated(&updated);
            return Ok(updated);
        }
        let limits = self.limits(m.tier);
        let now = now_ms();
        let latest = now + i64::from(limits.max_ttl_minutes) * 60_000;
        let new_expiry = match (extend_minutes, expires_at) {
            (Some(n), None) if n > 0 => m
                .expires_at
                .saturating_add((n.min(1 << 40) as i64) * 60_000),
            (None, Some(at)) if at > now => at,
            _ => {
                return Err(Error::InvalidInput(
                    "give extendMinutes (at least 1) or a future expiresAt, not both".into(),
                ))
            }
        };
        if new_expiry > latest {
            return Err(Error::InvalidInput(format!(
                "a {} mailbox lives at most {} minutes from now",
                m.tier, limits.max_ttl_minutes
            )));
        }
        let updated = self
            .store()
            .set_expiry(m.id.clone(), new_expiry, now)
            .await?
            .ok_or(Error::MailboxNotFound)?;
        self.mailbox_updated(&updated);
        Ok(updated)
    }

    /// Announces a mailbox whose expiry or counts changed.
    pub(crate) fn mailbox_updated(&self, m: &Mailbox) {
        self.wake_expiry();
        self.events().publish(EventKind::MailboxUpdated {
            mailbox: self.view(m),
        });
    }

    /// Destroys a mailbox and everything in it, now and for good.
    pub async fn delete_mailbox(&self, key: &str) -> Result<()> {
        let m = self.mailbox(key).await?;
        if m.origin == Origin::Remote {
            // Remote first: if it cannot be reached, the mirror stays and the caller hears why.
            self.remotes()?.delete(self, &m).await?;
            // The remote's own `mailbox.deleted` may have removed the mirror already.
            return match self.remove_mailbox(&m.id, false).await {
                Err(Error::MailboxNotFound) => Ok(()),
                done => done,
            };
        }
        self.remove_mailbox(&m.id, false).await
    }

    /// Removes a mailbox here only, and announces it as deleted (or as expired, when sync
    /// mirrors a remote expiry).
    pub(crate) async fn remove_mailbox(&self, id: &str, expired: bool) -> Result<()> {
        let Some(address) = self.store().delete_mailbox(id.to_string()).await? else {
            return Err(Error::MailboxNotFound);
        };
        self.forget_refusals(&address);
        let mailbox_id = id.to_string();
        if expired {
            tracing::info!(mailbox = %id, "mailbox expired");
            self.events()
                .publish(EventKind::MailboxExpired { mailbox_id });
        } else {
            tracing::info!(mailbox = %id, "mailbox deleted");
            self.events()
                .publish(EventKind::MailboxDeleted { mailbox_id });
        }
        Ok(())
    }

    /// Deletes what expired at or before `now` and announces it.
    pub async fn sweep_expired(&self, now: Millis) -> Result<usize> {
        let started = std::time::Instant::now();
        let gone = self.store().delete_expired(now).await?;
        let micros = started.elapsed().as_micros() as u64;
        let m = self.metrics();
        m.sweeps.fetch_add(1, Relaxed);
        m.sweep_micros_total.fetch_add(micros, Relaxed);
        m.sweep_micros_last.store(micros, Relaxed);
        m.mailboxes_expired.fetch_add(gone.len() as u64, Relaxed);
        for (id, address) in &gone {
            self.forget_refusals(address);
            tracing::info!(mailbox = %id, "mailbox expired");
            self.events().publish(EventKind::MailboxExpired {
                mailbox_id: id.clone(),
            });
        }
        Ok(gone.len())
    }
}

/// A local part as users may choose it: lower-case letters, digits, `.`, `_`, `-`, `+`.
pub fn normalize_local_part(s: &str) -> Result<String> {
    let lp = s.trim().to_lowercase();
    let ok = !lp.is_empty()
        && lp.len() <= 64
        && lp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        && !lp.starts_with('.')
        && !lp.ends_with('.')
        && !lp.contains("..");
    if ok {
        Ok(lp)
    } else {
        Err(Error::InvalidInput(
            "localPart must be 1-64 of a-z, 0-9, '.', '_', '-', '+', with no leading, trailing or double dot".into(),
        ))
    }
}

pub(super) fn normalize_domain(s: &str) -> Result<String> {
    let d = s.trim().trim_end_matches('.').to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err(Error::InvalidInput(format!("{s:?} is not a domain name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_parts_are_checked() {
        assert_eq!(normalize_local_part(" Alice.B+x ").unwrap(), "alice.b+x");
        for bad in ["", ".a", "a.", "a..b", "a b", "a@b", "ä", &"x".repeat(65)] {
            assert!(normalize_local_part(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_are_checked() {
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        for bad in ["", "a..b", "-a.b", "a_b.c", "a b"] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }
}

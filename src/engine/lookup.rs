//! Messages found by id alone (or `latest`), in one mailbox or across every live one, and a
//! mailbox found or made on the fly by its address: what the Mailpit-compatible routes need.

use super::tags::scope_of;
use super::{Engine, MailboxRequest};
use crate::error::{Error, Result};
use crate::model::Mailbox;
use crate::query::Query;

impl Engine {
    /// The mailbox of `address`, created with the default tier and lifetime when there is no
    /// live one yet (a test worker's own inbox, made by its first call).
    pub async fn mailbox_or_new(&self, address: &str) -> Result<Mailbox> {
        match self.mailbox(address).await {
            Err(Error::MailboxNotFound) => {}
            other => return other,
        }
        let (local, domain) = address
            .rsplit_once('@')
            .ok_or_else(|| Error::InvalidInput(format!("{address:?} is not an address")))?;
        let created = self
            .create_mailbox(MailboxRequest {
                tier: None,
                ttl_minutes: None,
                expires_at: None,
                local_part: Some(local.to_string()),
                domain: Some(domain.to_string()),
                remote: None,
            })
            .await;
        match created {
            // Two first calls at once: the other one made it.
            Err(Error::AddressTaken(_)) => self.mailbox(address).await,
            other => other,
        }
    }

    /// The mailbox and id of message `id` (`latest`: the newest) within `mailbox`, or within
    /// every live mailbox when `None`.
    pub async fn locate_message(
        &self,
        mailbox: Option<&Mailbox>,
        id: &str,
    ) -> Result<(Mailbox, String)> {
        let wanted = (id != "latest").then(|| id.to_string());
        let (mailbox_id, message_id) = self
            .store()
            .locate_message(scope_of(mailbox), wanted)
            .await?
            .ok_or(Error::MessageNotFound)?;
        let m = match mailbox {
            Some(m) => m.clone(),
            None => self.mailbox(&mailbox_id).await?,
        };
        Ok((m, message_id))
    }

    /// Messages and unread ones in scope; with a query, of those it matches.
    pub async fn totals_in(
        &self,
        mailbox: Option<&Mailbox>,
        query: Option<Query>,
    ) -> Result<(u64, u64)> {
        match query {
            Some(q) => self.store().query_totals(scope_of(mailbox), q).await,
            None => self.store().scope_totals(scope_of(mailbox)).await,
        }
    }
}

//! Bulk operations on a selection of messages (ids, a query, or all), in one mailbox or every
//! live one: the one place `/v1`, the Mailpit routes and the UI go through, announcing each
//! change as the single operations do.

use std::collections::BTreeSet;

use super::Engine;
use crate::error::Result;
use crate::events::EventKind;
use crate::model::Mailbox;
use crate::store::{BulkAction, BulkOutcome, Selection};

impl Engine {
    /// Applies `action` to the `selection` of `mailbox`'s messages (every live mailbox's when
    /// `None`); returns how many messages the selection held there. Each message read for the
    /// first time is announced `message.seen`, each deleted one `message.deleted`, and each
    /// mailbox touched `mailbox.updated` once with its new counts.
    pub async fn bulk(
        &self,
        mailbox: Option<&Mailbox>,
        selection: Selection,
        action: BulkAction,
    ) -> Result<BulkOutcome> {
        let outcome = self
            .store()
            .bulk(super::tags::scope_of(mailbox), selection, action)
            .await?;
        let mut touched = BTreeSet::new();
        for (mailbox_id, message_id) in &outcome.changed {
            let event = match action {
                BulkAction::Read => Some(EventKind::MessageSeen {
                    mailbox_id: mailbox_id.clone(),
                    message_id: message_id.clone(),
                }),
                BulkAction::Delete => Some(EventKind::MessageDeleted {
                    mailbox_id: mailbox_id.clone(),
                    message_id: message_id.clone(),
                }),
                // No event names a message turned unread; its mailbox's counts say it.
                BulkAction::Unread => None,
            };
            if let Some(e) = event {
                self.events().publish(e);
            }
            touched.insert(mailbox_id.as_str());
        }
        for mailbox_id in touched {
            self.counts_changed(mailbox_id).await;
        }
        Ok(outcome)
    }
}

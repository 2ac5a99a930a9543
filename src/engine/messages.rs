//! Message state changes that are announced: seen, deleted.

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::model::Mailbox;

impl Engine {
    /// Marks a message of `mailbox` seen; announces it (and the mailbox's new unread count)
    /// only when it was unseen.
    pub async fn mark_seen(&self, mailbox: &Mailbox, message_id: &str) -> Result<()> {
        let changed = self
            .store()
            .mark_seen(mailbox.id.clone(), message_id.to_string())
            .await?;
        if changed {
            self.events().publish(EventKind::MessageSeen {
                mailbox_id: mailbox.id.clone(),
                message_id: message_id.to_string(),
            });
            self.counts_changed(&mailbox.id).await;
        }
        Ok(())
    }

    /// Deletes one message for good.
    pub async fn delete_message(&self, key: &str, message_id: &str) -> Result<()> {
        let m = self.mailbox(key).await?;
        if !self
            .store()
            .delete_message(m.id.clone(), message_id.to_string())
            .await?
        {
            return Err(Error::MessageNotFound);
        }
        self.events().publish(EventKind::MessageDeleted {
            mailbox_id: m.id.clone(),
            message_id: message_id.to_string(),
        });
        self.counts_changed(&m.id).await;
        Ok(())
    }

    /// Announces a mailbox's new counts (its row is read again: the store keeps them).
    async fn counts_changed(&self, mailbox_id: &str) {
        if let Ok(m) = self.mailbox(mailbox_id).await {
            self.events().publish(EventKind::MailboxUpdated {
                mailbox: self.view(&m),
            });
        }
    }
}

//! Reading a message, and the state changes that are announced: seen, deleted.

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::extract;
use crate::model::{Mailbox, MessageFull};

impl Engine {
    /// The whole message as the API shows it, marked seen. Its HTML was rendered at ingest
    /// (with remote content blocked, and allowed when it blocked some), so nothing is parsed or
    /// sanitized here. The links and one-time codes are found in the stored text now: found at
    /// ingest they cost every message more than its whole SMTP transaction (see
    /// docs/figures.md), and only the messages someone reads need them.
    pub async fn read_message(
        &self,
        mailbox: &Mailbox,
        message_id: &str,
        allow_remote: bool,
    ) -> Result<MessageFull> {
        let mut msg = self
            .store()
            .message(mailbox.id.clone(), message_id.to_string())
            .await?
            .ok_or(Error::MessageNotFound)?;
        if !msg.summary.seen {
            self.mark_seen(mailbox, message_id).await?;
            msg.summary.seen = true;
        }
        if allow_remote && msg.html.is_some() {
            if let Some(html) = msg.html_remote.take() {
                msg.html = Some(html);
            }
            msg.remote_content_blocked = false;
        }
        msg.links = extract::links(msg.text.as_deref(), msg.html.as_deref());
        msg.codes = extract::codes(&msg.summary.subject, msg.text.as_deref());
        Ok(msg)
    }

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
    pub(super) async fn counts_changed(&self, mailbox_id: &str) {
        if let Ok(m) = self.mailbox(mailbox_id).await {
            self.events().publish(EventKind::MailboxUpdated {
                mailbox: self.view(&m),
            });
        }
    }
}

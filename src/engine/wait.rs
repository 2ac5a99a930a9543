//! Waiting for mail: a list that, when nothing matches yet, is held until a matching message is
//! committed (event-driven, no polling), the time is up, or the mailbox goes away.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::model::{Mailbox, MessageSummary};
use crate::store::{MessageFilter, Page};

/// What a waiting list asks for.
#[derive(Debug, Clone)]
pub struct MessageWait {
    /// Which messages, in which order (a page's cursors).
    pub page: Page,
    pub filter: MessageFilter,
    /// How long to hold the request when nothing matches yet (zero: answer at once).
    pub wait: Duration,
}

impl Engine {
    /// A page of a mailbox's matching messages and how many match in all; with a wait and
    /// nothing matching yet,
    /// held until one is committed (then the list), the wait ends (then empty), the mailbox
    /// expires or is deleted (then `MailboxNotFound`), or `shutdown` turns true.
    pub async fn wait_for_messages(
        &self,
        m: &Mailbox,
        q: MessageWait,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(u64, Vec<MessageSummary>)> {
        let deadline = tokio::time::Instant::now() + q.wait;
        loop {
            // Subscribe before reading, so a message committed in between is not missed.
            let mut events = self.events().subscribe();
            let (total, list) = self
                .store()
                .list_messages(m.id.clone(), q.page.clone(), q.filter.clone())
                .await?;
            if !list.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok((total, list));
            }
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = tokio::time::sleep_until(deadline) => return Ok((total, Vec::new())),
                    _ = shutdown.changed() => return Err(Error::ShuttingDown),
                };
                match event {
                    Ok(e) if e.kind.ends_mailbox(&m.id) => return Err(Error::MailboxNotFound),
                    Ok(e) => match &e.kind {
                        EventKind::MessageReceived {
                            mailbox_id,
                            message,
                        } if *mailbox_id == m.id && q.filter.may_match(message) => break,
                        _ => continue,
                    },
                    // Missed events: re-read the store rather than guess.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return Ok((total, Vec::new())),
                }
            }
        }
    }
}

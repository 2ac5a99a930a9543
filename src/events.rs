//! The in-process event bus: what happened, published after it was committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{MailboxView, MessageSummary};

/// What happened. Serialized as the `data` of a server-sent event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventKind {
    #[serde(rename_all = "camelCase")]
    MessageReceived {
        mailbox_id: String,
        message: MessageSummary,
    },
    #[serde(rename_all = "camelCase")]
    MessageDeleted {
        mailbox_id: String,
        message_id: String,
    },
    MailboxCreated {
        mailbox: MailboxView,
    },
    #[serde(rename_all = "camelCase")]
    MailboxExpired {
        mailbox_id: String,
    },
    #[serde(rename_all = "camelCase")]
    MailboxDeleted {
        mailbox_id: String,
    },
}

impl EventKind {
    /// The event's name on the wire (`message.received`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::MessageReceived { .. } => "message.received",
            EventKind::MessageDeleted { .. } => "message.deleted",
            EventKind::MailboxCreated { .. } => "mailbox.created",
            EventKind::MailboxExpired { .. } => "mailbox.expired",
            EventKind::MailboxDeleted { .. } => "mailbox.deleted",
        }
    }

    /// The mailbox the event concerns.
    pub fn mailbox_id(&self) -> &str {
        match self {
            EventKind::MessageReceived { mailbox_id, .. }
            | EventKind::MessageDeleted { mailbox_id, .. }
            | EventKind::MailboxExpired { mailbox_id }
            | EventKind::MailboxDeleted { mailbox_id } => mailbox_id,
            EventKind::MailboxCreated { mailbox } => &mailbox.id,
        }
    }
}

/// One published event with its sequence number (for `Last-Event-ID`).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
}

/// Fan-out of events to any number of subscribers. A slow subscriber lags; it never blocks
/// the publisher, so it can never slow or stop ingest.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    next_id: Arc<AtomicU64>,
}

/// Events a subscriber may fall behind by before it is told it lagged.
const CAPACITY: usize = 4096;

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus {
            tx,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl EventBus {
    pub fn publish(&self, kind: EventKind) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // No subscribers is fine: nobody is listening.
        let _ = self.tx.send(Arc::new(Event { id, kind }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

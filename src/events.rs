//! The in-process event bus: what happened, published after it was committed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::clock::now_ms;
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
    /// A message was read for the first time.
    #[serde(rename_all = "camelCase")]
    MessageSeen {
        mailbox_id: String,
        message_id: String,
    },
    MailboxCreated {
        mailbox: MailboxView,
    },
    /// A mailbox's expiry moved or its counts changed (a message seen or deleted; a message
    /// received says so itself).
    MailboxUpdated {
        mailbox: MailboxView,
    },
    /// A mailbox enters its last minutes (the engine's `--expiry-warning-minutes`); sent once
    /// per expiry, again if it is extended and comes close again.
    MailboxExpiring {
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
    /// The fault configuration was replaced (`GET /v1/faults`'s JSON, as a value: the engine's
    /// type is above this floor).
    FaultsUpdated {
        faults: serde_json::Value,
    },
    /// Intake was paused or resumed (`GET /v1/intake`'s JSON, as a value).
    IntakeUpdated {
        intake: serde_json::Value,
    },
}

impl EventKind {
    /// The event's name on the wire (`message.received`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::MessageReceived { .. } => "message.received",
            EventKind::MessageDeleted { .. } => "message.deleted",
            EventKind::MessageSeen { .. } => "message.seen",
            EventKind::MailboxCreated { .. } => "mailbox.created",
            EventKind::MailboxUpdated { .. } => "mailbox.updated",
            EventKind::MailboxExpiring { .. } => "mailbox.expiring",
            EventKind::MailboxExpired { .. } => "mailbox.expired",
            EventKind::MailboxDeleted { .. } => "mailbox.deleted",
            EventKind::FaultsUpdated { .. } => "faults.updated",
            EventKind::IntakeUpdated { .. } => "intake.updated",
        }
    }

    /// The mailbox the event concerns; empty for an event about no mailbox (so a stream or
    /// webhook for one mailbox never gets it).
    pub fn mailbox_id(&self) -> &str {
        match self {
            EventKind::MessageReceived { mailbox_id, .. }
            | EventKind::MessageDeleted { mailbox_id, .. }
            | EventKind::MessageSeen { mailbox_id, .. }
            | EventKind::MailboxExpired { mailbox_id }
            | EventKind::MailboxDeleted { mailbox_id } => mailbox_id,
            EventKind::MailboxCreated { mailbox }
            | EventKind::MailboxUpdated { mailbox }
            | EventKind::MailboxExpiring { mailbox } => &mailbox.id,
            EventKind::FaultsUpdated { .. } | EventKind::IntakeUpdated { .. } => "",
        }
    }

    /// Whether this event says mailbox `id` is gone (expired or deleted).
    pub fn ends_mailbox(&self, id: &str) -> bool {
        matches!(self, EventKind::MailboxExpired { mailbox_id } | EventKind::MailboxDeleted { mailbox_id } if mailbox_id == id)
    }
}

/// One published event with its sequence number (for `Last-Event-ID`).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
}

/// Fan-out of events to any number of subscribers, with the most recent ones kept for replay
/// (`Last-Event-ID`). A slow subscriber lags and is told so; it never blocks the publisher, so
/// it can never slow or stop ingest.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    tx: broadcast::Sender<Arc<Event>>,
    log: Mutex<EventLog>,
}

struct EventLog {
    next_id: u64,
    recent: VecDeque<Arc<Event>>,
}

/// Events a subscriber may fall behind by before it is told it lagged.
const CAPACITY: usize = 4096;
/// Events kept for replay to reconnecting clients (the API promises at least 1,000).
pub const REPLAY: usize = 2048;

/// What a reconnecting subscriber missed.
pub struct Replay {
    /// Events after the client's last id, oldest first.
    pub events: Vec<Arc<Event>>,
    /// True when some events it missed are no longer kept: the client must re-read state.
    pub gap: bool,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        // Ids start from the clock (in microseconds) so they keep growing across restarts and
        // a client's Last-Event-ID from before a restart is never mistaken for a newer one.
        let next_id = u64::try_from(now_ms()).unwrap_or(0) * 1000;
        EventBus {
            inner: Arc::new(BusInner {
                tx,
                log: Mutex::new(EventLog {
                    next_id,
                    recent: VecDeque::with_capacity(REPLAY),
                }),
            }),
        }
    }
}

impl EventBus {
    pub fn publish(&self, kind: EventKind) {
        let mut log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        let event = Arc::new(Event {
            id: log.next_id,
            kind,
        });
        log.next_id += 1;
        if log.recent.len() == REPLAY {
            log.recent.pop_front();
        }
        log.recent.push_back(event.clone());
        // Sent under the lock, so the log and the channel agree on order. No subscribers is fine.
        let _ = self.inner.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.tx.subscribe()
    }

    /// Subscribes, and returns what was published after `last_id` that is still kept.
    /// Done under one lock, so nothing falls between the replay and the live stream.
    pub fn subscribe_after(&self, last_id: u64) -> (broadcast::Receiver<Arc<Event>>, Replay) {
        let log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.inner.tx.subscribe();
        let oldest = log.recent.front().map_or(log.next_id, |e| e.id);
        let events = log
            .recent
            .iter()
            .filter(|e| e.id > last_id)
            .cloned()
            .collect();
        let gap = last_id.saturating_add(1) < oldest && last_id < log.next_id;
        (rx, Replay { events, gap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleted(n: u32) -> EventKind {
        EventKind::MailboxDeleted {
            mailbox_id: format!("mbx_{n}"),
        }
    }

    #[test]
    fn replay_returns_what_came_after_the_last_id() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        for n in 0..5 {
            bus.publish(deleted(n));
        }
        let ids: Vec<u64> = (0..5).map(|_| rx.try_recv().unwrap().id).collect();
        let (_, replay) = bus.subscribe_after(ids[1]);
        assert_eq!(
            replay.events.iter().map(|e| e.id).collect::<Vec<_>>(),
            ids[2..]
        );
        assert!(!replay.gap);
    }

    #[test]
    fn a_client_older_than_the_replay_window_is_told_there_is_a_gap() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        bus.publish(deleted(0));
        let first = rx.try_recv().unwrap().id;
        for n in 1..(REPLAY as u32 + 10) {
            bus.publish(deleted(n));
        }
        let (_, replay) = bus.subscribe_after(first);
        assert!(replay.gap);
        assert_eq!(replay.events.len(), REPLAY);
    }
}

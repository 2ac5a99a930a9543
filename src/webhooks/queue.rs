//! The matching stage: events from the bus in, one queued delivery row per matching webhook out.
//!
//! It wakes only on an event (or shutdown): the webhooks are kept in memory and read again
//! only after the store says its webhook table changed.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch, Notify};

use super::Webhook;
use crate::clock::{now_ms, to_rfc3339};
use crate::engine::Engine;
use crate::error::Result;
use crate::events::{Event, EventKind};
use crate::ids;
use crate::store::NewDelivery;

/// Events queued in one store write at most.
const MAX_EVENT_BATCH: usize = 256;

/// The JSON that is POSTed; `data` is what a server-sent event of the same kind carries.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    event: &'a str,
    delivery_id: &'a str,
    created_at: &'a str,
    data: &'a EventKind,
}

impl Webhook {
    /// True if it subscribes to this kind of event, for its mailbox (if it names one).
    fn wants(&self, kind: &EventKind) -> bool {
        self.events.iter().any(|e| e == kind.name())
            && self
                .mailbox_id
                .as_deref()
                .is_none_or(|m| m == kind.mailbox_id())
    }
}

/// The task's copy of the webhooks, and the store's webhook generation it was read at.
#[derive(Default)]
struct HookCache {
    loaded_at: Option<u64>,
    hooks: Vec<Webhook>,
}

impl HookCache {
    async fn get(&mut self, engine: &Engine) -> Result<&[Webhook]> {
        let store = engine.store();
        let current = store.webhooks_generation();
        if self.loaded_at != Some(current) {
            // The generation is read before the rows: a change committed during the read
            // bumps it again afterwards, and the next call reloads.
            self.hooks = store.webhooks().await?;
            self.loaded_at = Some(current);
        }
        Ok(&self.hooks)
    }

    /// Mirrors the cascade of a mailbox delete without reading the store again.
    fn forget_mailbox(&mut self, mailbox_id: &str) {
        self.hooks
            .retain(|h| h.mailbox_id.as_deref() != Some(mailbox_id));
    }
}

/// Queues deliveries for every event until `shutdown`, a burst of events in one write, and
/// tells the worker through `queued`.
pub(super) async fn enqueue_loop(
    engine: Engine,
    mut events: broadcast::Receiver<Arc<Event>>,
    queued: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut cache = HookCache::default();
    loop {
        let first = tokio::select! {
            r = events.recv() => r,
            _ = shutdown.changed() => return,
        };
        let mut batch = Vec::new();
        match first {
            Ok(ev) => batch.push(ev),
            Err(RecvError::Lagged(n)) => lagged(n),
            Err(RecvError::Closed) => return,
        }
        // A burst of events is queued in one write.
        while batch.len() < MAX_EVENT_BATCH {
            match events.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(TryRecvError::Lagged(n)) => lagged(n),
                Err(_) => break,
            }
        }
        let hooks = match cache.get(&engine).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "webhooks: cannot read the webhooks; events not delivered");
                continue;
            }
        };
        let rows = match_events(hooks, &batch);
        for ev in &batch {
            if let EventKind::MailboxDeleted { mailbox_id }
            | EventKind::MailboxExpired { mailbox_id } = &ev.kind
            {
                // Webhooks filtered to that mailbox went with it (ON DELETE CASCADE).
                cache.forget_mailbox(mailbox_id);
            }
        }
        if rows.is_empty() {
            continue;
        }
        let n = rows.len();
        // A webhook deleted since the cache was read gets nothing (the store checks).
        match engine.store().queue_deliveries(rows, now_ms()).await {
            Ok(()) => queued.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, deliveries = n, "webhooks: cannot queue deliveries")
            }
        }
    }
}

fn lagged(n: u64) {
    tracing::warn!(
        missed = n,
        "webhooks: fell behind the event bus; events not delivered"
    );
}

/// One delivery row per (event, matching webhook), its body built and frozen now.
fn match_events(hooks: &[Webhook], batch: &[Arc<Event>]) -> Vec<NewDelivery> {
    let mut rows = Vec::new();
    if hooks.is_empty() {
        return rows;
    }
    let created_at = to_rfc3339(now_ms());
    for ev in batch {
        for hook in hooks.iter().filter(|h| h.wants(&ev.kind)) {
            let id = ids::time_ordered_id("dlv");
            let payload = Payload {
                event: ev.kind.name(),
                delivery_id: &id,
                created_at: &created_at,
                data: &ev.kind,
            };
            match serde_json::to_vec(&payload) {
                Ok(body) => rows.push(NewDelivery {
                    id,
                    webhook_id: hook.id.clone(),
                    event: ev.kind.name(),
                    body,
                }),
                Err(e) => tracing::error!(error = %e, "webhooks: cannot serialize an event"),
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_match_by_event_and_mailbox() {
        let hook = |mailbox: Option<&str>, events: &[&str]| Webhook {
            id: "whk_1".into(),
            url: "http://h/".into(),
            mailbox_id: mailbox.map(str::to_owned),
            events: events.iter().map(|s| s.to_string()).collect(),
            secret: "s".into(),
            created_at: 0,
        };
        let deleted = |m: &str| EventKind::MessageDeleted {
            mailbox_id: m.into(),
            message_id: "msg_1".into(),
        };
        assert!(hook(None, &["message.deleted"]).wants(&deleted("a")));
        assert!(hook(Some("a"), &["message.deleted"]).wants(&deleted("a")));
        assert!(!hook(Some("a"), &["message.deleted"]).wants(&deleted("b")));
        assert!(!hook(None, &["message.received"]).wants(&deleted("a")));
    }
}

//! Webhooks: every event, POSTed as signed JSON to the URLs users register, from a durable queue.
//!
//! The stages, each in its own file:
//! - here: registration (what the API calls): create, list, delete, a webhook's deliveries;
//! - [`queue`]: matches each event against the webhooks (kept in memory, read again after any
//!   change) and queues one delivery row per matching webhook, a whole burst of events in one
//!   store write. The body is built and frozen then, so every attempt sends (and signs) the
//!   same bytes under the same delivery id;
//! - [`worker`]: takes due rows from the queue and POSTs them, retries with backoff, records
//!   each outcome; it sleeps until the earliest retry or until something is queued;
//! - [`signing`]: the secret and the body's HMAC signature.
//!
//! The SQL is the store's (`store/webhooks.rs`); the delivery counters are the engine's metrics.
//!
//! Delivery is at least once from the moment a row is queued: a row whose POST went out but
//! whose outcome was not yet recorded when the engine stopped is sent again after the restart,
//! under the same `X-Mailiy-Delivery`, so receivers can drop duplicates. Events published while
//! the engine crashes before they are queued are not delivered (the bus is in memory).

mod queue;
mod signing;
mod worker;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{watch, Notify};

use crate::clock::{now_ms, to_rfc3339};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ids;
use crate::store::{DeliveryRow, WebhookInsert};
use crate::urls::validate_url;

pub use crate::store::Webhook;

/// Every event a webhook can subscribe to.
pub const EVENT_NAMES: &[&str] = &[
    "message.received",
    "message.deleted",
    "message.seen",
    "mailbox.created",
    "mailbox.updated",
    "mailbox.expiring",
    "mailbox.expired",
    "mailbox.deleted",
];
/// Events about a mailbox coming or going: a webhook filtered to one mailbox is created after
/// it and deleted with it, so it could never hear these.
const LIFE_EVENTS: &[&str] = &["mailbox.created", "mailbox.expired", "mailbox.deleted"];
/// What a webhook gets when it names no events.
pub const DEFAULT_EVENTS: &[&str] = &["message.received"];
/// Webhooks at most; each event is matched against all of them.
pub const MAX_WEBHOOKS: i64 = 100;

/// The API form of a webhook. The secret is included: the local user owns it, and a lost
/// secret would otherwise mean deleting and re-creating the webhook.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub mailbox_id: Option<String>,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: String,
}

impl Webhook {
    pub fn view(&self) -> WebhookView {
        WebhookView {
            id: self.id.clone(),
            url: self.url.clone(),
            mailbox_id: self.mailbox_id.clone(),
            events: self.events.clone(),
            secret: self.secret.clone(),
            created_at: to_rfc3339(self.created_at),
        }
    }
}

/// One delivery as `GET /v1/webhooks/:id/deliveries` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When the next attempt is due; only while `pending`.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(r: DeliveryRow) -> DeliveryView {
        DeliveryView {
            next_attempt_at: (r.state == "pending").then(|| to_rfc3339(r.next_at)),
            id: r.id,
            event: r.event,
            state: r.state,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            created_at: to_rfc3339(r.created_at),
            finished_at: r.finished_at.map(to_rfc3339),
        }
    }
}

/// What a caller may ask for when creating a webhook (as in the API).
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    pub url: String,
    /// A mailbox id or address.
    pub mailbox: Option<String>,
    pub events: Option<Vec<String>>,
}

/// Checks and de-duplicates event names; none given means [`DEFAULT_EVENTS`].
fn validate_events(events: Option<Vec<String>>, filtered: bool) -> Result<Vec<String>> {
    let Some(given) = events else {
        return Ok(DEFAULT_EVENTS.iter().map(|e| e.to_string()).collect());
    };
    if given.is_empty() {
        return Err(Error::InvalidInput(
            "events must name at least one event".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in given {
        if !EVENT_NAMES.contains(&e.as_str()) {
            return Err(Error::InvalidInput(format!(
                "unknown event {e:?}; known: {}",
                EVENT_NAMES.join(", ")
            )));
        }
        // Saying so beats a webhook that silently never calls.
        if filtered && LIFE_EVENTS.contains(&e.as_str()) {
            return Err(Error::InvalidInput(format!(
                "{e} cannot be combined with mailboxId: the webhook is deleted with its mailbox; \
                 leave mailboxId out to hear about mailboxes"
            )));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Registers a webhook. Invalid values are `InvalidInput`; an unknown mailbox `MailboxNotFound`.
pub async fn create(engine: &Engine, req: WebhookRequest) -> Result<Webhook> {
    let url = validate_url(&req.url)?;
    let mailbox_id = match req.mailbox {
        Some(key) => Some(engine.mailbox(&key).await?.id),
        None => None,
    };
    let events = validate_events(req.events, mailbox_id.is_some())?;
    let hook = Webhook {
        id: ids::new_id("whk"),
        url,
        mailbox_id,
        events,
        secret: signing::new_secret(),
        created_at: now_ms(),
    };
    // The cap and the mailbox are checked again inside the write: the mailbox may have gone
    // since the lookup.
    match engine
        .store()
        .insert_webhook(hook.clone(), MAX_WEBHOOKS)
        .await?
    {
        WebhookInsert::Inserted => {}
        WebhookInsert::TooMany => {
            return Err(Error::InvalidInput(format!(
                "at most {MAX_WEBHOOKS} webhooks; delete one first"
            )))
        }
        WebhookInsert::MailboxGone => return Err(Error::MailboxNotFound),
    }
    tracing::info!(webhook = %hook.id, host = %crate::urls::host_of(&hook.url), "webhook created");
    Ok(hook)
}

/// Every webhook, newest first.
pub async fn list(engine: &Engine) -> Result<Vec<Webhook>> {
    engine.store().webhooks().await
}

/// Deletes a webhook and its queued deliveries; false if there was none with that id.
pub async fn delete(engine: &Engine, id: &str) -> Result<bool> {
    engine.store().delete_webhook(id.to_string()).await
}

/// The most recent deliveries of a webhook, newest first; `None` if there is no such webhook.
pub async fn deliveries(
    engine: &Engine,
    id: &str,
    limit: usize,
) -> Result<Option<Vec<DeliveryView>>> {
    let rows = engine.store().deliveries_of(id.to_string(), limit).await?;
    Ok(rows.map(|rows| rows.into_iter().map(DeliveryView::from).collect()))
}

/// The webhook task: queues deliveries for events and sends them, until `shutdown`.
///
/// Subscribes to the event bus before it returns the future, so no event published after
/// `Engine::start` spawns it can be missed.
pub fn run(
    engine: Engine,
    shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let events = engine.events().subscribe();
    async move {
        let queued = Arc::new(Notify::new());
        tokio::join!(
            queue::enqueue_loop(engine.clone(), events, queued.clone(), shutdown.clone()),
            worker::worker(engine, queued, shutdown),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked() {
        assert_eq!(validate_events(None, false).unwrap(), ["message.received"]);
        let v = |e: &[&str]| Some(e.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            validate_events(v(&["mailbox.created", "mailbox.created"]), false).unwrap(),
            ["mailbox.created"]
        );
        assert!(validate_events(v(&[]), false).is_err());
        assert!(validate_events(v(&["message.read"]), false).is_err());
        assert!(validate_events(v(&["mailbox.expired"]), true).is_err());
        assert!(validate_events(v(&["message.deleted"]), true).is_ok());
        assert!(validate_events(
            v(&["mailbox.updated", "mailbox.expiring", "message.seen"]),
            true
        )
        .is_ok());
    }
}

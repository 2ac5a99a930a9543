//! Webhooks: every event, POSTed as signed JSON to the URLs users register, from a durable queue.
//!
//! One task does two things:
//! - It subscribes to the event bus, matches each event against the webhooks (kept in memory,
//!   reloaded after any change) and queues one delivery row per matching webhook, a whole
//!   burst of events in one store write. The body is built and frozen then, so every attempt
//!   sends (and signs) the same bytes under the same delivery id.
//! - A worker takes due rows from the queue and POSTs them, at most [`MAX_IN_FLIGHT`] at once,
//!   each on its own plain thread (a blocking `ureq` call must not hold an async worker, and a
//!   detached thread, unlike `spawn_blocking`, cannot hold up the runtime's shutdown). A failure
//!   is retried with exponential backoff; after [`MAX_ATTEMPTS`] the row is kept as `failed`.
//!   The worker sleeps until the earliest retry or until something is queued.
//!
//! Delivery is at least once from the moment a row is queued: a row whose POST went out but
//! whose outcome was not yet recorded when the engine stopped is sent again after the restart,
//! under the same `X-Mailiy-Delivery`, so receivers can drop duplicates. Events published while
//! the engine crashes before they are queued are not delivered (the bus is in memory).

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::task::JoinSet;

use crate::clock::{now_ms, to_rfc3339, Millis};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::ids;

/// Every event a webhook can subscribe to.
pub const EVENT_NAMES: &[&str] = &[
    "message.received",
    "message.deleted",
    "mailbox.created",
    "mailbox.expired",
    "mailbox.deleted",
];
/// What a webhook gets when it names no events.
pub const DEFAULT_EVENTS: &[&str] = &["message.received"];

/// Attempts per delivery before it is given up as `failed` (the first one included).
/// Five attempts with the backoff below span about 15 s (1 + 2 + 4 + 8 s, +-20%): webhooks here
/// call local test receivers, where a longer outage means a broken test, not a flaky network.
pub const MAX_ATTEMPTS: u32 = 5;
/// Delay before the first retry; each later one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest delay between two attempts (unreached with [`MAX_ATTEMPTS`] = 5; it bounds a larger cap).
pub const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Each delay is scaled by a random factor within +-this, so failing receivers are not hit in lockstep.
const JITTER: f64 = 0.2;
/// Whole-request timeout: connect, send, and the response head and (capped) body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent at once; one slow receiver cannot hold up the others beyond this.
pub const MAX_IN_FLIGHT: usize = 8;
/// Response bytes read (and discarded); nothing of a response is used but its status.
const MAX_RESPONSE_BYTES: u64 = 4096;
/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;
/// Webhooks at most; each event is matched against all of them.
pub const MAX_WEBHOOKS: i64 = 100;
/// Finished (delivered or failed) rows kept per webhook for `GET /v1/webhooks/:id/deliveries`.
const KEEP_FINISHED: i64 = 100;
/// Events queued in one store write at most.
const MAX_EVENT_BATCH: usize = 256;
/// Longest single sleep of the worker: a backstop in case a wake-up was missed (clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a store error before the worker tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

static DELIVERED: AtomicU64 = AtomicU64::new(0);
static FAILED_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
static GIVEN_UP: AtomicU64 = AtomicU64::new(0);
/// Bumped on every webhook create and delete, so the task reloads its in-memory copy.
/// Process-wide rather than per engine: another engine's change only costs a reload.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Process-wide delivery counters, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Deliveries answered with 2xx.
    pub delivered: u64,
    /// Attempts that failed (non-2xx, network error or timeout), retried or not.
    pub failed_attempts: u64,
    /// Deliveries given up after [`MAX_ATTEMPTS`] (state `failed`).
    pub given_up: u64,
}

pub fn counters() -> Counters {
    Counters {
        delivered: DELIVERED.load(Ordering::Relaxed),
        failed_attempts: FAILED_ATTEMPTS.load(Ordering::Relaxed),
        given_up: GIVEN_UP.load(Ordering::Relaxed),
    }
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub mailbox_id: Option<String>,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: Millis,
}

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

    fn wants(&self, kind: &EventKind) -> bool {
        self.events.iter().any(|e| e == kind.name())
            && self
                .mailbox_id
                .as_deref()
                .is_none_or(|m| m == kind.mailbox_id())
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

/// What a caller may ask for when creating a webhook (as in the API).
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    pub url: String,
    /// A mailbox id or address.
    pub mailbox: Option<String>,
    pub events: Option<Vec<String>>,
}

/// Checks a webhook URL: http or https, a host, no credentials, at most [`MAX_URL_LEN`].
/// Returns its normalized form, which is what gets called.
pub fn validate_url(s: &str) -> Result<String> {
    let s = s.trim();
    if s.len() > MAX_URL_LEN {
        return Err(Error::InvalidInput(format!(
            "url must be at most {MAX_URL_LEN} characters"
        )));
    }
    let u = url::Url::parse(s)
        .map_err(|e| Error::InvalidInput(format!("url is not a valid URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::InvalidInput("url must be http or https".into()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput("url must have a host".into()));
    }
    // Credentials in a URL end up in lists and logs; a receiver checks the signature instead.
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::InvalidInput(
            "url must not carry a user name or password".into(),
        ));
    }
    Ok(u.to_string())
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
        // A webhook filtered to a mailbox is created after it and deleted with it, so these
        // could never fire; saying so beats a webhook that silently never calls.
        if filtered && e.starts_with("mailbox.") {
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

/// A new secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `sha256=HEX`: HMAC-SHA256 of `body`, keyed with the secret's UTF-8 bytes as given to the user.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; the fallback only avoids a panic path.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex(&mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// The delay after the `attempts`-th failed attempt (1-based), before jitter.
fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_MAX)
}

fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER))
}

fn not_found_is_none<T>(r: rusqlite::Result<T>) -> Result<Option<T>> {
    Ok(r.optional()?)
}

fn webhook_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let events_json: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        mailbox_id: r.get(2)?,
        // Written by us as a JSON array; an unreadable one would only match nothing.
        events: serde_json::from_str(&events_json).unwrap_or_default(),
        secret: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn load_webhooks(conn: &Connection) -> Result<Vec<Webhook>> {
    let mut st = conn.prepare_cached(
        "SELECT id, url, mailbox_id, events_json, secret, created_at
           FROM webhook ORDER BY created_at DESC, id DESC",
    )?;
    let rows = st.query_map([], webhook_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        secret: new_secret(),
        created_at: now_ms(),
    };
    let events_json = serde_json::to_string(&hook.events)
        .map_err(|e| Error::InvalidInput(format!("events: {e}")))?;
    let row = hook.clone();
    engine
        .store()
        .write(move |conn| {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM webhook", [], |r| r.get(0))?;
            if count >= MAX_WEBHOOKS {
                return Err(Error::InvalidInput(format!(
                    "at most {MAX_WEBHOOKS} webhooks; delete one first"
                )));
            }
            // The mailbox is checked again inside the write: it may have gone since the lookup.
            let inserted = conn.execute(
                "INSERT INTO webhook (id, url, mailbox_id, events_json, secret, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                  WHERE ?3 IS NULL
                     OR EXISTS (SELECT 1 FROM mailbox WHERE id = ?3 AND expires_at > ?6)",
                params![
                    row.id,
                    row.url,
                    row.mailbox_id,
                    events_json,
                    row.secret,
                    row.created_at
                ],
            )?;
            if inserted == 0 {
                return Err(Error::MailboxNotFound);
            }
            Ok(())
        })
        .await?;
    GENERATION.fetch_add(1, Ordering::SeqCst);
    tracing::info!(webhook = %hook.id, host = %host_of(&hook.url), "webhook created");
    Ok(hook)
}

/// Every webhook, newest first.
pub async fn list(engine: &Engine) -> Result<Vec<Webhook>> {
    engine.store().read(load_webhooks).await
}

/// Deletes a webhook and its queued deliveries; false if there was none with that id.
pub async fn delete(engine: &Engine, id: &str) -> Result<bool> {
    let id = id.to_string();
    let deleted = engine
        .store()
        .write(move |conn| Ok(conn.execute("DELETE FROM webhook WHERE id = ?1", [&id])? > 0))
        .await?;
    if deleted {
        GENERATION.fetch_add(1, Ordering::SeqCst);
    }
    Ok(deleted)
}

/// The most recent deliveries of a webhook, newest first; `None` if there is no such webhook.
pub async fn deliveries(
    engine: &Engine,
    id: &str,
    limit: usize,
) -> Result<Option<Vec<DeliveryView>>> {
    let id = id.to_string();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    engine
        .store()
        .read(move |conn| {
            let exists = not_found_is_none(conn.query_row(
                "SELECT 1 FROM webhook WHERE id = ?1",
                [&id],
                |_| Ok(()),
            ))?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut st = conn.prepare_cached(
                "SELECT id, event_name, state, attempts, next_at, last_status, last_error,
                        created_at, finished_at
                   FROM webhook_delivery WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![id, limit], |r| {
                let state: String = r.get(2)?;
                let next_at: Millis = r.get(4)?;
                let finished_at: Option<Millis> = r.get(8)?;
                Ok(DeliveryView {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    next_attempt_at: (state == "pending").then(|| to_rfc3339(next_at)),
                    state,
                    attempts: r.get(3)?,
                    last_status: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: to_rfc3339(r.get(7)?),
                    finished_at: finished_at.map(to_rfc3339),
                })
            })?;
            Ok(Some(rows.collect::<rusqlite::Result<_>>()?))
        })
        .await
}

/// The host of a URL, for logs: paths and queries may carry tokens.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
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
            enqueue_loop(engine.clone(), events, queued.clone(), shutdown.clone()),
            worker(engine, queued, shutdown),
        );
    }
}

/// The JSON that is POSTed; `data` is what a server-sent event of the same kind carries.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    event: &'a str,
    delivery_id: &'a str,
    created_at: &'a str,
    data: &'a EventKind,
}

/// A delivery row to insert.
struct NewDelivery {
    id: String,
    webhook_id: String,
    event: &'static str,
    body: Vec<u8>,
}

/// The task's copy of the webhooks, and the [`GENERATION`] it was loaded at.
#[derive(Default)]
struct HookCache {
    loaded_at: Option<u64>,
    hooks: Vec<Webhook>,
}

impl HookCache {
    async fn get(&mut self, engine: &Engine) -> Result<&[Webhook]> {
        let current = GENERATION.load(Ordering::SeqCst);
        if self.loaded_at != Some(current) {
            // Read the generation before the rows: a change committed during the read bumps
            // it again afterwards, and the next call reloads.
            self.hooks = engine.store().read(load_webhooks).await?;
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

async fn enqueue_loop(
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
        let result = engine
            .store()
            .write(move |conn| {
                let now = now_ms();
                // INSERT ... SELECT: a webhook deleted since the cache was loaded gets nothing.
                let mut st = conn.prepare_cached(
                    "INSERT INTO webhook_delivery
                         (id, webhook_id, event_name, body, state, attempts, next_at, created_at)
                     SELECT ?1, id, ?2, ?3, 'pending', 0, ?4, ?4 FROM webhook WHERE id = ?5",
                )?;
                for r in &rows {
                    st.execute(params![r.id, r.event, r.body, now, r.webhook_id])?;
                }
                Ok(())
            })
            .await;
        match result {
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

/// A queued delivery, with what is needed to send it.
#[derive(Debug)]
struct Due {
    seq: i64,
    id: String,
    webhook_id: String,
    event: String,
    body: Vec<u8>,
    attempts: u32,
    next_at: Millis,
    url: String,
    secret: String,
}

/// The first `limit` pending rows, earliest due first.
fn pending(conn: &Connection, limit: usize) -> Result<Vec<Due>> {
    let mut st = conn.prepare_cached(
        "SELECT d.seq, d.id, d.webhook_id, d.event_name, d.body, d.attempts, d.next_at,
                w.url, w.secret
           FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id
          WHERE d.state = 'pending'
          ORDER BY d.next_at, d.seq LIMIT ?1",
    )?;
    let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(Due {
            seq: r.get(0)?,
            id: r.get(1)?,
            webhook_id: r.get(2)?,
            event: r.get(3)?,
            body: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
            attempts: r.get(5)?,
            next_at: r.get(6)?,
            url: r.get(7)?,
            secret: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

async fn worker(engine: Engine, queued: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        // A webhook is called at its URL and nowhere else.
        .redirects(0)
        .user_agent(concat!("mailiy-webhook/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut running: JoinSet<()> = JoinSet::new();
    // Task id -> delivery seq, for the rows being sent now (never picked twice).
    let mut in_flight: HashMap<tokio::task::Id, i64> = HashMap::new();
    loop {
        // Enough rows to see past every in-flight one, start the free slots' worth, and learn
        // when the next not-yet-due one is.
        let limit = 2 * MAX_IN_FLIGHT + 1;
        let sleep_for = match engine.store().read(move |c| pending(c, limit)).await {
            Ok(rows) => {
                let now = now_ms();
                let mut wake_at = None;
                for due in rows {
                    if in_flight.values().any(|s| *s == due.seq) {
                        continue;
                    }
                    if due.next_at > now {
                        wake_at = Some(due.next_at);
                        break;
                    }
                    if in_flight.len() >= MAX_IN_FLIGHT {
                        // Due but no free slot: a finishing delivery wakes the loop.
                        break;
                    }
                    let seq = due.seq;
                    let handle = running.spawn(deliver(engine.clone(), agent.clone(), due));
                    in_flight.insert(handle.id(), seq);
                }
                wake_at.map_or(MAX_SLEEP, |at| {
                    Duration::from_millis(u64::try_from(at - now).unwrap_or(0))
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot read the delivery queue");
                RETRY_AFTER
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep_for.min(MAX_SLEEP)) => {}
            _ = queued.notified() => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                in_flight.remove(&id);
            }
            // Dropping `running` aborts the deliveries' tasks; a POST already on its thread
            // finishes there and is sent again after the restart (same delivery id).
            _ = shutdown.changed() => return,
        }
    }
}

/// How one attempt went.
#[derive(Debug)]
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

async fn deliver(engine: Engine, agent: ureq::Agent, due: Due) {
    let (tx, rx) = oneshot::channel();
    let url = due.url.clone();
    let event = due.event.clone();
    let id = due.id.clone();
    let signature = signature(&due.secret, &due.body);
    let body = due.body.clone();
    let spawned = std::thread::Builder::new()
        .name("mailiy-webhook".into())
        .spawn(move || {
            let _ = tx.send(post(&agent, &url, &event, &id, &signature, &body));
        });
    let outcome = match spawned {
        Ok(_) => rx.await.unwrap_or_else(|_| Outcome::Failed {
            status: None,
            error: "the request thread ended without an answer".into(),
        }),
        Err(e) => Outcome::Failed {
            status: None,
            error: format!("cannot start a request thread: {e}"),
        },
    };
    record(&engine, &due, outcome).await;
}

/// Sends one attempt (blocking). Only the status of the response is used.
fn post(
    agent: &ureq::Agent,
    url: &str,
    event: &str,
    delivery_id: &str,
    signature: &str,
    body: &[u8],
) -> Outcome {
    let result = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("X-Mailiy-Event", event)
        .set("X-Mailiy-Delivery", delivery_id)
        .set("X-Mailiy-Signature", signature)
        .send_bytes(body);
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            let mut error = t.kind().to_string();
            if let Some(m) = t.message() {
                error = format!("{error}: {m}");
            }
            if let Some(source) = std::error::Error::source(&t) {
                error = format!("{error}: {source}");
            }
            return Outcome::Failed {
                status: None,
                error,
            };
        }
    };
    let status = response.status();
    // Read a little so a small answer leaves the connection reusable; never more.
    let _ = std::io::copy(
        &mut response.into_reader().take(MAX_RESPONSE_BYTES),
        &mut std::io::sink(),
    );
    if (200..300).contains(&status) {
        Outcome::Delivered(status)
    } else {
        let error = if (300..400).contains(&status) {
            format!("HTTP {status} (redirects are not followed)")
        } else {
            format!("HTTP {status}")
        };
        Outcome::Failed {
            status: Some(status),
            error,
        }
    }
}

/// Stores an attempt's outcome: delivered, retry later, or given up.
async fn record(engine: &Engine, due: &Due, outcome: Outcome) {
    let attempts = due.attempts.saturating_add(1);
    let now = now_ms();
    let host = host_of(&due.url);
    let (state, status, error, next_at) = match outcome {
        Outcome::Delivered(status) => {
            DELIVERED.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, "webhook delivered");
            ("delivered", Some(status), None, now)
        }
        Outcome::Failed { status, error } => {
            FAILED_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
            if attempts >= MAX_ATTEMPTS {
                GIVEN_UP.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, error = %error, "webhook delivery failed; giving up");
                ("failed", status, Some(error), now)
            } else {
                let delay = jittered(backoff(attempts));
                tracing::info!(webhook = %due.webhook_id, delivery = %due.id, %host, status, attempts, retry_in_ms = delay.as_millis() as u64, error = %error, "webhook delivery failed; will retry");
                let next_at = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(0));
                ("pending", status, Some(error), next_at)
            }
        }
    };
    let seq = due.seq;
    let webhook_id = due.webhook_id.clone();
    let result = engine
        .store()
        .write(move |conn| {
            let finished = state != "pending";
            // A finished row drops its body: no mail summary stays here longer than needed.
            conn.prepare_cached(
                "UPDATE webhook_delivery
                    SET state = ?2, attempts = ?3, next_at = ?4, last_status = ?5, last_error = ?6,
                        body = CASE WHEN ?7 THEN NULL ELSE body END,
                        finished_at = CASE WHEN ?7 THEN ?8 END
                  WHERE seq = ?1",
            )?
            .execute(params![
                seq, state, attempts, next_at, status, error, finished, now
            ])?;
            if finished {
                // Keep the newest finished rows per webhook for the deliveries list.
                conn.prepare_cached(
                    "DELETE FROM webhook_delivery
                      WHERE webhook_id = ?1 AND state <> 'pending'
                        AND seq <= (SELECT seq FROM webhook_delivery
                                     WHERE webhook_id = ?1 AND state <> 'pending'
                                     ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                )?
                .execute(params![webhook_id, KEEP_FINISHED])?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        // The row stays as it was, so the attempt is made again (same delivery id).
        tracing::error!(error = %e, delivery = %due.id, "webhooks: cannot record a delivery outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            validate_url(" http://127.0.0.1:9000 ").unwrap(),
            "http://127.0.0.1:9000/"
        );
        assert!(validate_url("https://example.test/hook?x=1").is_ok());
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        for bad in [
            "",
            "ftp://h/x",
            "file:///etc/passwd",
            "http://",
            "http://u:p@h/",
            "http://u@h/",
            "not a url",
            long.as_str(),
        ] {
            assert!(validate_url(bad).is_err(), "{bad:?}");
        }
    }

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
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = new_secret();
        assert!(s.starts_with("whsec_") && s.len() == 6 + 64, "{s}");
        assert_ne!(s, new_secret());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(256));
        assert_eq!(backoff(10), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(10));
            assert!(d >= Duration::from_secs(8) && d <= Duration::from_secs(12));
        }
    }

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

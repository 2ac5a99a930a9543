//! One account's worker: connect, catch up, follow, and on failure back off and try again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::client::{seg, Endpoint};
use super::sse::Frame;
use super::{backoff, blocking, check_remote_id, RemoteMailbox, Runtime, State};
use crate::clock::now_ms;
use crate::config::{SyncConfig, SyncTransport};
use crate::engine::Engine;
use crate::engine::Recipient;
use crate::error::Error;
use crate::error::RemoteError;
use crate::ingest;
use crate::store::remotes::{self as store, Account, Tracked};

/// Summaries asked for per page (the API's largest). A mirror that missed more takes them a
/// page at a time, oldest first, until a page comes back short.
const PAGE: u32 = 1000;
/// Events read ahead of the worker.
const STREAM_BUFFER: usize = 64;

type SyncResult<T> = crate::error::Result<T>;

/// A message summary as the remote sends it: only what sync uses, typed strictly.
#[derive(Debug, Deserialize)]
struct RemoteSummary {
    id: String,
    size: u64,
    from: Option<RemoteAddress>,
}

#[derive(Debug, Deserialize)]
struct RemoteAddress {
    address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MailboxRef {
    mailbox_id: String,
}

#[derive(Debug, Deserialize)]
struct Received {
    message: RemoteSummary,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRef {
    message_id: String,
}

#[derive(Debug, Deserialize)]
struct Health {
    status: String,
}

fn parse<T: serde::de::DeserializeOwned>(event: &str, data: &str) -> SyncResult<T> {
    serde_json::from_str(data).map_err(|e| {
        RemoteError::BadAnswer(format!("a {event} event is not the JSON expected: {e}")).into()
    })
}

/// What the event-stream thread hands the worker.
enum Inbound {
    Opened,
    /// The remote has no event stream: long-poll instead.
    NoStream,
    Frame(Frame),
    Failed(Error),
}

/// What a worker's calls share; cheap to clone into per-mailbox tasks.
#[derive(Clone)]
struct Ctx {
    engine: Engine,
    endpoint: Arc<Endpoint>,
    remote_id: String,
    rt: Arc<Runtime>,
    cfg: SyncConfig,
}

/// Resolves when the engine shuts down or the account is removed.
async fn stopped(shutdown: &mut watch::Receiver<bool>, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = shutdown.changed() => {}
        _ = stop.changed() => {}
    }
}

pub(super) async fn run(
    engine: Engine,
    account: Account,
    rt: Arc<Runtime>,
    mut shutdown: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = engine.config().sync.clone();
    let ctx = Ctx {
        endpoint: Arc::new(Endpoint::new(&account.url, &account.api_key, &cfg)),
        engine,
        remote_id: account.id.clone(),
        rt,
        cfg,
    };
    let mut last_event_id: Option<String> = None;
    let mut failures = 0u32;
    loop {
        let err = tokio::select! {
            e = ctx.session(&mut last_event_id) => e,
            _ = stopped(&mut shutdown, &mut stop) => return,
        };
        if ctx.rt.get() == State::Connected {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        // A refused key will not fix itself soon: retry at the slowest pace.
        let delay = match err {
            Error::Remote(RemoteError::AuthFailed(_)) => ctx.cfg.retry_max,
            _ => backoff(failures, ctx.cfg.retry_min, ctx.cfg.retry_max),
        };
        let at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        ctx.rt.set(State::after(&err, at));
        tracing::warn!(remote = %ctx.remote_id, error = %err, retry_in_ms = delay.as_millis() as u64, "sync: remote failed; will retry");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut shutdown, &mut stop) => return,
        }
    }
}

impl Ctx {
    /// One connection: returns only with the reason it ended.
    async fn session(&self, last_event_id: &mut Option<String>) -> Error {
        match self.follow(last_event_id).await {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    async fn follow(
        &self,
        last_event_id: &mut Option<String>,
    ) -> SyncResult<std::convert::Infallible> {
        let ep = self.endpoint.clone();
        let health: Health = blocking(move || ep.get("/v1/health")).await?;
        if health.status != "ok" {
            return Err(RemoteError::Refused {
                status: 200,
                code: "not_ok".into(),
                message: "the remote reports it is not healthy".into(),
            }
            .into());
        }
        if self.cfg.transport == SyncTransport::Poll {
            return self.poll().await;
        }
        let mut events = self.open_events(last_event_id.clone());
        match events.recv().await {
            Some(Inbound::Opened) => {}
            Some(Inbound::NoStream) => return self.poll().await,
            Some(Inbound::Failed(e)) => return Err(e),
            Some(Inbound::Frame(_)) | None => {
                return Err(Error::Worker("the event reader stopped".into()))
            }
        }
        self.rt.set(State::Connected);
        tracing::info!(remote = %self.remote_id, "sync: connected (event stream)");
        let mut tracked = self.catch_up_all().await?;
        let mut refresh = tokio::time::interval(self.cfg.refresh);
        refresh.tick().await;
        loop {
            tokio::select! {
                _ = refresh.tick() => tracked = self.catch_up_all().await?,
                inbound = events.recv() => match inbound {
                    Some(Inbound::Frame(f)) => {
                        let id = f.id.clone();
                        self.on_frame(f, &mut tracked).await?;
                        if id.is_some() {
                            *last_event_id = id;
                        }
                    }
                    Some(Inbound::Failed(e)) => return Err(e),
                    Some(Inbound::Opened | Inbound::NoStream) | None => {
                        return Err(Error::Worker("the event reader stopped".into()))
                    }
                },
                _ = self.rt.changed.notified() => {
                    // New mirrors: catch them up (an event for them may have come before we
                    // knew them).
                    let fresh = self.load_tracked().await?;
                    for t in fresh.values() {
                        if !tracked.contains_key(&t.remote_mailbox_id) {
                            self.catch_up(t).await?;
                        }
                    }
                    tracked = self.load_tracked().await?;
                }
            }
        }
    }

    /// Reads the event stream on its own thread, handing events over a bounded channel. The
    /// thread ends when the worker drops the receiver (at the next event or idle timeout).
    fn open_events(&self, last_event_id: Option<String>) -> mpsc::Receiver<Inbound> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let ep = self.endpoint.clone();
        let spawned = std::thread::Builder::new()
            .name("mailiy-sync-events".into())
            .spawn({
                let tx = tx.clone();
                move || {
                    let mut stream = match ep.events(last_event_id.as_deref()) {
                        Ok(Some(s)) => s,
                        Ok(None) => {
                            let _ = tx.blocking_send(Inbound::NoStream);
                            return;
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Inbound::Failed(e.into()));
                            return;
                        }
                    };
                    if tx.blocking_send(Inbound::Opened).is_err() {
                        return;
                    }
                    loop {
                        let item = match stream.next_frame() {
                            Ok(f) => Inbound::Frame(f),
                            Err(e) => {
                                let _ = tx.blocking_send(Inbound::Failed(e.into()));
                                return;
                            }
                        };
                        if tx.blocking_send(item).is_err() {
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = tx.try_send(Inbound::Failed(Error::Worker(format!(
                "cannot start the event reader: {e}"
            ))));
        }
        rx
    }

    async fn on_frame(&self, f: Frame, tracked: &mut HashMap<String, Tracked>) -> SyncResult<()> {
        let name = f.event.as_str();
        match name {
            "message.received" | "message.deleted" | "mailbox.expired" | "mailbox.deleted" => {}
            "resync" => {
                *tracked = self.catch_up_all().await?;
                return Ok(());
            }
            _ => return Ok(()),
        }
        let MailboxRef { mailbox_id } = parse(name, &f.data)?;
        let Some(t) = tracked.get(&mailbox_id).cloned() else {
            return Ok(());
        };
        match name {
            "message.received" => {
                let Received { message } = parse(name, &f.data)?;
                self.take(&t, message).await
            }
            "message.deleted" => {
                let MessageRef { message_id } = parse(name, &f.data)?;
                self.delete_local_message(&t, message_id).await
            }
            _ => {
                tracked.remove(&mailbox_id);
                self.drop_local(&t, name == "mailbox.expired").await
            }
        }
    }

    /// The account's mirrors by remote mailbox id.
    async fn load_tracked(&self) -> SyncResult<HashMap<String, Tracked>> {
        let id = self.remote_id.clone();
        let all = self
            .engine
            .store()
            .read(move |c| store::tracked(c, &id))
            .await?;
        Ok(all
            .into_iter()
            .map(|t| (t.remote_mailbox_id.clone(), t))
            .collect())
    }

    async fn catch_up_all(&self) -> SyncResult<HashMap<String, Tracked>> {
        for t in self.load_tracked().await?.values() {
            self.catch_up(t).await?;
        }
        // Reloaded: cursors moved, and gone mirrors left.
        self.load_tracked().await
    }

    /// Mirrors the remote mailbox's expiry (or its absence), then takes what it missed.
    async fn catch_up(&self, t: &Tracked) -> SyncResult<()> {
        let ep = self.endpoint.clone();
        let path = format!("/v1/mailbox/{}", seg(&t.remote_mailbox_id));
        let found: SyncResult<RemoteMailbox> = blocking(move || ep.get(&path)).await;
        let remote = match found {
            Ok(m) => m.check()?,
            Err(Error::Remote(e)) if e.is_not_found("mailbox_not_found") => {
                return self.drop_local(t, t.expires_at <= now_ms()).await
            }
            Err(e) => return Err(e),
        };
        if remote.expires_at != t.expires_at {
            let (id, at) = (t.mailbox_id.clone(), remote.expires_at);
            self.engine
                .store()
                .write(move |c| store::set_expiry(c, &id, at))
                .await?;
            // The remote moved it (extended there): announced like a local extend.
            match self.engine.mailbox(&t.mailbox_id).await {
                Ok(m) => self.engine.mailbox_updated(&m),
                Err(_) => self.engine.wake_expiry(),
            }
        }
        self.take_missed(t, 0).await
    }

    /// Takes every message after the mirror's cursor, a page at a time, oldest first, so a
    /// mirror that missed any number gets them all; the first page is held up to `wait` s
    /// when there is nothing yet. A remote mailbox found gone takes the mirror with it.
    async fn take_missed(&self, t: &Tracked, wait: u64) -> SyncResult<()> {
        // The page's last message, not the stored cursor: a message already here (or gone on
        // the remote) does not move the stored one.
        let mut after = t.cursor.clone();
        let mut wait = wait;
        loop {
            let Some(page) = self.list(t, after.as_deref(), wait).await? else {
                return self.drop_local(t, t.expires_at <= now_ms()).await;
            };
            let full = page.len() >= PAGE as usize;
            if let Some(last) = page.last() {
                after = Some(last.id.clone());
            }
            self.take_all(t, page).await?;
            if !full {
                return Ok(());
            }
            wait = 0;
        }
    }

    /// The remote's messages after `after`, oldest first, one page (held up to `wait` s);
    /// `None` when the remote mailbox is gone.
    async fn list(
        &self,
        t: &Tracked,
        after: Option<&str>,
        wait: u64,
    ) -> SyncResult<Option<Vec<RemoteSummary>>> {
        let base = format!(
            "/v1/mailbox/{}/messages?limit={PAGE}&order=oldest&wait={wait}",
            seg(&t.remote_mailbox_id)
        );
        let path = match after {
            Some(c) => format!("{base}&after={}", seg(c)),
            None => base.clone(),
        };
        let ep = self.endpoint.clone();
        let hold = Duration::from_secs(wait);
        let answer = blocking(move || ep.get_waiting(&path, hold)).await;
        match answer {
            Ok(list) => Ok(Some(list)),
            Err(Error::Remote(e)) if e.is_not_found("mailbox_not_found") => Ok(None),
            Err(Error::Remote(e)) if after.is_some() && e.is_not_found("message_not_found") => {
                // The cursor's message was deleted on the remote: read from the oldest and let
                // the taken-set drop what is already here.
                let id = t.mailbox_id.clone();
                self.engine
                    .store()
                    .write(move |c| store::clear_cursor(c, &id))
                    .await?;
                let ep = self.endpoint.clone();
                match blocking(move || ep.get_waiting(&base, hold)).await {
                    Ok(list) => Ok(Some(list)),
                    Err(Error::Remote(e)) if e.is_not_found("mailbox_not_found") => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Takes a page in its order (oldest first), so the cursor only moves forward.
    async fn take_all(&self, t: &Tracked, oldest_first: Vec<RemoteSummary>) -> SyncResult<()> {
        for s in oldest_first {
            self.take(t, s).await?;
        }
        Ok(())
    }

    /// Stores one remote message in its mirror, unless it is there already.
    async fn take(&self, t: &Tracked, s: RemoteSummary) -> SyncResult<()> {
        check_remote_id("message", &s.id)?;
        let (mailbox_id, rmid) = (t.mailbox_id.clone(), s.id.clone());
        let store = self.engine.store();
        if store
            .read(move |c| store::is_taken(c, &mailbox_id, &rmid))
            .await?
        {
            return Ok(());
        }
        let max = self.engine.config().tiers.largest_message_bytes();
        if s.size > max {
            return self
                .skip(t, &s.id, "larger than the largest tier cap")
                .await;
        }
        let ep = self.endpoint.clone();
        let path = format!(
            "/v1/mailbox/{}/messages/{}/raw",
            seg(&t.remote_mailbox_id),
            seg(&s.id)
        );
        let raw = match blocking(move || ep.get_bytes(&path, max)).await {
            Ok(raw) => raw,
            // Deleted on the remote before we got to it: nothing to mirror.
            Err(Error::Remote(e)) if e.is_not_found("message_not_found") => return Ok(()),
            Err(e) => return Err(e),
        };
        let envelope_from = s.from.map(|f| f.address).unwrap_or_default();
        let size = raw.len();
        let outcome = ingest::deliver_synced(
            &self.engine,
            Recipient::Mailbox {
                id: t.mailbox_id.clone(),
                address: t.address.clone(),
            },
            s.id.clone(),
            envelope_from,
            raw,
        )
        .await?;
        if outcome.storage_full > 0 {
            return self
                .skip(t, &s.id, "over the mailbox's storage cap here")
                .await;
        }
        if let Some(id) = outcome.stored.first() {
            tracing::debug!(remote = %self.remote_id, mailbox = %t.mailbox_id, message = %id, size, "sync: message taken");
        }
        Ok(())
    }

    /// Records a message that cannot be mirrored, so it is not fetched again.
    async fn skip(&self, t: &Tracked, remote_message_id: &str, why: &str) -> SyncResult<()> {
        tracing::warn!(remote = %self.remote_id, mailbox = %t.mailbox_id, remote_message = %remote_message_id, "sync: message skipped: {why}");
        let (id, rmid) = (t.mailbox_id.clone(), remote_message_id.to_string());
        self.engine
            .store()
            .write(move |c| store::mark_taken(c, &id, &rmid, None))
            .await
    }

    async fn delete_local_message(&self, t: &Tracked, remote_message_id: String) -> SyncResult<()> {
        let id = t.mailbox_id.clone();
        let found = self
            .engine
            .store()
            .read(move |c| store::local_message(c, &id, &remote_message_id))
            .await?;
        let Some(message_id) = found else {
            return Ok(());
        };
        match self.engine.delete_message(&t.mailbox_id, &message_id).await {
            Ok(()) | Err(Error::MessageNotFound | Error::MailboxNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The remote mailbox is gone: so goes its mirror, at once.
    async fn drop_local(&self, t: &Tracked, expired: bool) -> SyncResult<()> {
        match self.engine.remove_mailbox(&t.mailbox_id, expired).await {
            Ok(()) | Err(Error::MailboxNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Long-polls each mirror's messages at once, until a failure.
    async fn poll(&self) -> SyncResult<std::convert::Infallible> {
        self.rt.set(State::Connected);
        tracing::info!(remote = %self.remote_id, "sync: connected (long-poll)");
        loop {
            let mut polls = JoinSet::new();
            for t in self.load_tracked().await?.into_values() {
                polls.spawn(self.clone().follow_one(t));
            }
            loop {
                tokio::select! {
                    Some(done) = polls.join_next(), if !polls.is_empty() => match done {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(e) => return Err(Error::Worker(format!("a poll task failed: {e}"))),
                    },
                    // New mirrors: start over with the whole set (dropping the set aborts it).
                    _ = self.rt.changed.notified() => break,
                }
            }
        }
    }

    /// One mirror by long-poll: catch up, then wait for more; returns when it is gone.
    async fn follow_one(self, mut t: Tracked) -> SyncResult<()> {
        self.catch_up(&t).await?;
        let mut refreshed = tokio::time::Instant::now();
        loop {
            let key = t.mailbox_id.clone();
            let id = self.remote_id.clone();
            let Some(fresh) = self
                .engine
                .store()
                .read(move |c| store::tracked(c, &id))
                .await?
                .into_iter()
                .find(|m| m.mailbox_id == key)
            else {
                return Ok(());
            };
            t = fresh;
            if refreshed.elapsed() >= self.cfg.refresh {
                refreshed = tokio::time::Instant::now();
                self.catch_up(&t).await?;
                continue;
            }
            // A mirror found gone is dropped, and the next turn finds it untracked.
            self.take_missed(&t, self.cfg.poll_wait.as_secs()).await?;
        }
    }
}

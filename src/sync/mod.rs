//! Sync with remote Mailiy endpoints (API.md, Settings and remote accounts).
//!
//! A remote account is a base URL and an API key. Mailboxes created "on" an account live on
//! the remote (the source of truth) and have a local mirror (`origin: "remote"`) whose mail
//! arrives through the normal ingest path, so the viewer, sanitizer, events and webhooks treat
//! it like local mail.
//!
//! One worker task per account keeps its mirrors current:
//! - it checks the remote (`GET /v1/health`, which also checks the key), then follows the
//!   remote's `/v1/events` stream (resuming with `Last-Event-ID`), or, when the remote has no
//!   event stream or `--sync-transport poll` says so, long-polls each mailbox's messages;
//! - on every (re)connect and on `resync` it catches up: each mirror's remote mailbox is read
//!   again (its `expiresAt` mirrored, or the mirror removed if it is gone) and its messages
//!   listed `after=` the last one taken;
//! - each new message's raw bytes are fetched and stored with its remote id, which is unique
//!   per mailbox in the same transaction: a message arrives once across reconnects and
//!   restarts of either side;
//! - on failure it waits with exponential backoff and jitter, and shows why in its state
//!   (`retrying`, `auth_failed` or `error`, with `retryAt` and a `detail`).
//!
//! Everything a remote sends is bounded: connect and whole-request timeouts, JSON answers and
//! event lines capped in size, raw messages capped at the largest tier cap, redirects reported
//! and never followed. The key is sent only to its endpoint: it is never logged, never in an
//! answer, and not in `Debug` output.

pub mod client;
pub mod sse;
pub mod store;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch, Notify};

use crate::clock::{now_ms, parse_rfc3339, to_rfc3339, Millis};
use crate::config::Tier;
use crate::engine::{Engine, MailboxRequest};
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::ids;
use crate::model::Mailbox;
use crate::store::NewMailbox;
use client::{seg, Endpoint};
use store::Account;

/// Longest account name.
const MAX_NAME: usize = 100;
/// Longest API key.
const MAX_KEY: usize = 4096;
/// Longest remote id (mailbox or message) taken into a URL path and the store.
const MAX_REMOTE_ID: usize = 128;
/// Longest address a remote may give a mailbox.
const MAX_ADDRESS: usize = 320;

/// What went wrong talking to a remote. Every variant is a clear, key-free sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("the remote cannot be reached: {0}")]
    Unreachable(String),
    #[error("the remote did not answer in time")]
    TimedOut,
    #[error("the remote's event stream sent no complete line for {0} s")]
    Stalled(u64),
    #[error("the remote refused the API key (HTTP {0})")]
    AuthFailed(u16),
    #[error("the remote answered HTTP {0} with a redirect to {1}; redirects are not followed")]
    Redirect(u16, String),
    #[error("the remote refused the request: HTTP {status} {code} {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the remote's answer is unusable: {0}")]
    BadAnswer(String),
    #[error("the local store failed while syncing: {0}")]
    Local(String),
}

impl SyncError {
    /// A 404 from the remote with this API error code.
    fn is_not_found(&self, code: &str) -> bool {
        matches!(self, SyncError::Refused { status: 404, code: c, .. } if c == code)
    }
}

/// An account's state as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not checked yet (just added or just started).
    Connecting,
    Connected,
    /// The remote is unreachable, slow or busy: trying again at `at`.
    Retrying {
        at: Millis,
        detail: String,
    },
    /// The key was refused; tried again at `at` (slowly) in case it is fixed on the remote.
    AuthFailed {
        at: Millis,
        detail: String,
    },
    /// The remote answered something unusable (not JSON, too big, wrong types, a redirect).
    Error {
        at: Millis,
        detail: String,
    },
    /// The engine's tasks are not running (opened without starting).
    Stopped,
}

impl State {
    fn after(e: &SyncError, at: Millis) -> State {
        let detail = e.to_string();
        match e {
            SyncError::AuthFailed(_) => State::AuthFailed { at, detail },
            SyncError::Unreachable(_) | SyncError::TimedOut | SyncError::Stalled(_) => {
                State::Retrying { at, detail }
            }
            SyncError::Refused { status, .. } if *status >= 500 || *status == 429 => {
                State::Retrying { at, detail }
            }
            _ => State::Error { at, detail },
        }
    }
}

/// A remote account as the API shows it: never the key.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteView {
    pub id: String,
    pub name: String,
    pub url: String,
    /// `connecting`, `connected`, `retrying`, `auth_failed`, `error` or `stopped`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub created_at: String,
}

fn view(a: &Account, state: &State) -> RemoteView {
    let (name, retry_at, detail) = match state {
        State::Connecting => ("connecting", None, None),
        State::Connected => ("connected", None, None),
        State::Retrying { at, detail } => ("retrying", Some(*at), Some(detail.clone())),
        State::AuthFailed { at, detail } => ("auth_failed", Some(*at), Some(detail.clone())),
        State::Error { at, detail } => ("error", Some(*at), Some(detail.clone())),
        State::Stopped => ("stopped", None, None),
    };
    RemoteView {
        id: a.id.clone(),
        name: a.name.clone(),
        url: a.url.clone(),
        state: name,
        retry_at: retry_at.map(to_rfc3339),
        detail,
        created_at: to_rfc3339(a.created_at),
    }
}

/// A running account worker's handle.
struct Runtime {
    state: Mutex<State>,
    /// Its set of mirrors changed (a mailbox was created on it).
    changed: Notify,
    stop: watch::Sender<bool>,
}

impl Runtime {
    fn set(&self, s: State) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    fn get(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The account workers of one engine.
#[derive(Default)]
pub struct Accounts {
    running: Mutex<HashMap<String, Arc<Runtime>>>,
    /// Set once the engine's tasks run; later accounts start their worker at once.
    shutdown: Mutex<Option<watch::Receiver<bool>>>,
}

impl Accounts {
    fn runtime(&self, id: &str) -> Option<Arc<Runtime>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn start(&self, engine: &Engine, account: Account) {
        let Some(shutdown) = self
            .shutdown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return;
        };
        let (stop, stopped) = watch::channel(false);
        let rt = Arc::new(Runtime {
            state: Mutex::new(State::Connecting),
            changed: Notify::new(),
            stop,
        });
        let old = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.id.clone(), rt.clone());
        if let Some(old) = old {
            let _ = old.stop.send(true);
        }
        tokio::spawn(worker::run(engine.clone(), account, rt, shutdown, stopped));
    }

    fn stop(&self, id: &str) {
        let rt = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(rt) = rt {
            let _ = rt.stop.send(true);
        }
    }

    fn state(&self, id: &str) -> State {
        self.runtime(id).map_or(State::Stopped, |rt| rt.get())
    }
}

/// Starts a worker for every stored account; returns when the engine shuts down.
pub async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    *engine
        .sync()
        .shutdown
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(shutdown.clone());
    match engine.store().read(store::accounts).await {
        Ok(all) => {
            for a in all {
                engine.sync().start(&engine, a);
            }
        }
        Err(e) => tracing::error!(error = %e, "sync: cannot read the remote accounts"),
    }
    let _ = shutdown.changed().await;
}

/// Runs a blocking call on a plain thread (a detached thread, unlike `spawn_blocking`, cannot
/// hold up the runtime's shutdown while a remote is slow).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, SyncError> + Send + 'static,
) -> std::result::Result<T, SyncError> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("mailiy-sync".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| SyncError::Local(format!("cannot start a thread: {e}")))?;
    rx.await
        .map_err(|_| SyncError::Local("a sync thread ended without an answer".into()))?
}

/// What a new remote account needs.
#[derive(Debug, Clone, Default)]
pub struct RemoteRequest {
    pub name: String,
    pub url: String,
    pub api_key: String,
}

/// Adds a remote account and starts syncing it.
pub async fn add(engine: &Engine, req: RemoteRequest) -> Result<RemoteView> {
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "name must be 1-{MAX_NAME} characters, without control characters"
        )));
    }
    let url = crate::webhooks::validate_url(&req.url)?
        .trim_end_matches('/')
        .to_string();
    let key = req.api_key.trim().to_string();
    // The key goes into a header: visible ASCII only.
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidInput(format!(
            "apiKey must be 1-{MAX_KEY} visible ASCII characters"
        )));
    }
    let account = Account {
        id: ids::new_id("rmt"),
        name,
        url,
        api_key: key,
        created_at: now_ms(),
    };
    let stored = account.clone();
    engine
        .store()
        .write(move |c| store::insert_account(c, &stored))
        .await?;
    tracing::info!(remote = %account.id, url = %account.url, "remote account added");
    engine.sync().start(engine, account.clone());
    Ok(view(&account, &engine.sync().state(&account.id)))
}

/// Every remote account with its state.
pub async fn list(engine: &Engine) -> Result<Vec<RemoteView>> {
    let all = engine.store().read(store::accounts).await?;
    Ok(all
        .iter()
        .map(|a| view(a, &engine.sync().state(&a.id)))
        .collect())
}

/// Removes an account: its worker stops and its local mirrors are removed (the mailboxes stay
/// on the remote). False if there is no such account.
pub async fn remove(engine: &Engine, id: &str) -> Result<bool> {
    let id = id.to_string();
    let key = id.clone();
    if engine
        .store()
        .read(move |c| store::account(c, &key))
        .await?
        .is_none()
    {
        return Ok(false);
    }
    engine.sync().stop(&id);
    let key = id.clone();
    let mirrors = engine
        .store()
        .read(move |c| store::mailboxes_of(c, &key))
        .await?;
    for mailbox_id in mirrors {
        match engine.remove_mailbox(&mailbox_id, false).await {
            Ok(()) | Err(Error::MailboxNotFound) => {}
            Err(e) => return Err(e),
        }
    }
    let key = id.clone();
    let removed = engine
        .store()
        .write(move |c| store::delete_account(c, &key))
        .await?;
    tracing::info!(remote = %id, "remote account removed");
    Ok(removed)
}

/// A mailbox as a remote answers for it, checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteMailbox {
    id: String,
    address: String,
    tier: Tier,
    expires_at: String,
}

/// The checked parts of a remote mailbox.
struct CheckedMailbox {
    id: String,
    address: String,
    tier: Tier,
    expires_at: Millis,
}

fn check_remote_id(what: &str, id: &str) -> std::result::Result<(), SyncError> {
    if id.is_empty() || id.len() > MAX_REMOTE_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SyncError::BadAnswer(format!(
            "a {what} id is empty, longer than {MAX_REMOTE_ID} bytes or not visible ASCII"
        )));
    }
    Ok(())
}

impl RemoteMailbox {
    fn check(self) -> std::result::Result<CheckedMailbox, SyncError> {
        check_remote_id("mailbox", &self.id)?;
        let address = self.address.trim().to_lowercase();
        let well_formed = address.len() <= MAX_ADDRESS
            && address
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
            && address
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control());
        if !well_formed {
            return Err(SyncError::BadAnswer(
                "a mailbox address is not an address".into(),
            ));
        }
        let expires_at = parse_rfc3339(&self.expires_at).ok_or_else(|| {
            SyncError::BadAnswer("a mailbox expiresAt is not an RFC 3339 time".into())
        })?;
        Ok(CheckedMailbox {
            id: self.id,
            address,
            tier: self.tier,
            expires_at,
        })
    }
}

fn endpoint(engine: &Engine, a: &Account) -> Arc<Endpoint> {
    Arc::new(Endpoint::new(&a.url, &a.api_key, &engine.config().sync))
}

async fn account_of(engine: &Engine, id: &str) -> Result<Account> {
    let key = id.to_string();
    engine
        .store()
        .read(move |c| store::account(c, &key))
        .await?
        .ok_or_else(|| Error::InvalidInput(format!("there is no remote account {id:?}")))
}

/// Creates a mailbox on a remote account and its local mirror.
pub(crate) async fn create_mailbox(
    engine: &Engine,
    remote_id: &str,
    req: MailboxRequest,
) -> Result<Mailbox> {
    let account = account_of(engine, remote_id).await?;
    let mut body = serde_json::Map::new();
    if let Some(t) = req.tier {
        body.insert("tier".into(), t.as_str().into());
    }
    if let Some(n) = req.ttl_minutes {
        body.insert("ttlMinutes".into(), n.into());
    }
    if let Some(at) = req.expires_at {
        body.insert("expiresAt".into(), to_rfc3339(at).into());
    }
    if let Some(lp) = req.local_part {
        body.insert("localPart".into(), lp.into());
    }
    if let Some(d) = req.domain {
        body.insert("domain".into(), d.into());
    }
    let ep = endpoint(engine, &account);
    let call = ep.clone();
    let created: RemoteMailbox =
        blocking(move || call.send("POST", "/v1/mailbox", &serde_json::Value::Object(body)))
            .await?;
    let m = created.check()?;
    let now = now_ms();
    if m.expires_at <= now {
        return Err(SyncError::BadAnswer("the new mailbox has already expired".into()).into());
    }
    let new = NewMailbox {
        id: ids::new_id("mbx"),
        address: m.address,
        tier: m.tier,
        created_at: now,
        expires_at: m.expires_at,
        origin: "remote".into(),
        remote: Some(account.id.clone()),
    };
    let (rid, remote_mailbox_id) = (account.id.clone(), m.id.clone());
    let stored = engine
        .store()
        .write(move |c| store::insert_tracked(c, &new, &rid, &remote_mailbox_id))
        .await;
    let mailbox = match stored {
        Ok(mailbox) => mailbox,
        Err(e) => {
            // The mirror cannot be made (its address is taken here): undo the remote one.
            let path = format!("/v1/mailbox/{}", seg(&m.id));
            if let Err(undo) = blocking(move || ep.delete(&path)).await {
                tracing::warn!(remote = %account.id, error = %undo, "sync: could not undo a remote mailbox");
            }
            return Err(e);
        }
    };
    engine.wake_expiry();
    engine.events().publish(EventKind::MailboxCreated {
        mailbox: engine.view(&mailbox),
    });
    tracing::info!(mailbox = %mailbox.id, remote = %account.id, "remote mailbox created");
    if let Some(rt) = engine.sync().runtime(&account.id) {
        rt.changed.notify_one();
    }
    Ok(mailbox)
}

/// The account and remote id behind a mirror.
async fn mirror_of(engine: &Engine, m: &Mailbox) -> Result<(Account, String)> {
    let key = m.id.clone();
    let (remote_id, remote_mailbox_id) = engine
        .store()
        .read(move |c| store::remote_of(c, &key))
        .await?
        .ok_or(Error::MailboxNotFound)?;
    Ok((account_of(engine, &remote_id).await?, remote_mailbox_id))
}

/// Moves a mirror's expiry on its remote, then mirrors what the remote decided.
pub(crate) async fn extend_mailbox(
    engine: &Engine,
    m: &Mailbox,
    extend_minutes: Option<u64>,
    expires_at: Option<Millis>,
) -> Result<Mailbox> {
    let (account, remote_mailbox_id) = mirror_of(engine, m).await?;
    let body = match (extend_minutes, expires_at) {
        (Some(n), None) => serde_json::json!({ "extendMinutes": n }),
        (None, Some(at)) => serde_json::json!({ "expiresAt": to_rfc3339(at) }),
        _ => {
            return Err(Error::InvalidInput(
                "give extendMinutes or expiresAt, not both".into(),
            ))
        }
    };
    let ep = endpoint(engine, &account);
    let path = format!("/v1/mailbox/{}", seg(&remote_mailbox_id));
    let answer: std::result::Result<RemoteMailbox, SyncError> =
        blocking(move || ep.send("PATCH", &path, &body)).await;
    let updated = match answer {
        Ok(a) => a.check()?,
        Err(e) if e.is_not_found("mailbox_not_found") => {
            engine.remove_mailbox(&m.id, false).await?;
            return Err(Error::MailboxNotFound);
        }
        Err(e) => return Err(e.into()),
    };
    let (id, at) = (m.id.clone(), updated.expires_at);
    engine
        .store()
        .write(move |c| store::set_expiry(c, &id, at))
        .await?;
    engine.wake_expiry();
    engine.mailbox(&m.id).await
}

/// Deletes a mirror's mailbox on its remote (gone there already counts as done).
pub(crate) async fn delete_on_remote(engine: &Engine, m: &Mailbox) -> Result<()> {
    let (account, remote_mailbox_id) = match mirror_of(engine, m).await {
        Ok(found) => found,
        // No account any more: nothing remote to delete.
        Err(Error::MailboxNotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let ep = endpoint(engine, &account);
    let path = format!("/v1/mailbox/{}", seg(&remote_mailbox_id));
    match blocking(move || ep.delete(&path)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found("mailbox_not_found") => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The delay before retry number `failures` (1-based): doubling from `min` up to `max`, each
/// scaled by a random factor in 0.8..1.2 so many clients do not retry in step.
fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    use rand::Rng;
    let exp = failures.saturating_sub(1).min(20);
    let base = min.saturating_mul(1 << exp).min(max);
    base.mul_f64(rand::rng().random_range(0.8..=1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_up_to_the_cap() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for (n, expected) in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (40, 60.0)] {
            let d = backoff(n, min, max).as_secs_f64();
            assert!(
                d >= expected * 0.8 - 1e-9 && d <= expected * 1.2 + 1e-9,
                "{n}: {d}"
            );
        }
    }

    #[test]
    fn states_follow_the_kind_of_failure() {
        let at = 5;
        let s = |e: SyncError| view_state(&State::after(&e, at));
        assert_eq!(s(SyncError::AuthFailed(401)), "auth_failed");
        assert_eq!(s(SyncError::TimedOut), "retrying");
        assert_eq!(s(SyncError::Unreachable("refused".into())), "retrying");
        assert_eq!(
            s(SyncError::Refused {
                status: 503,
                code: String::new(),
                message: String::new()
            }),
            "retrying"
        );
        assert_eq!(s(SyncError::BadAnswer("x".into())), "error");
        assert_eq!(s(SyncError::Redirect(302, "http://x".into())), "error");
    }

    fn view_state(s: &State) -> &'static str {
        let a = Account {
            id: "rmt_1".into(),
            name: "n".into(),
            url: "http://x".into(),
            api_key: "k".into(),
            created_at: 0,
        };
        view(&a, s).state
    }

    #[test]
    fn remote_mailboxes_are_checked() {
        let ok = RemoteMailbox {
            id: "mbx_1".into(),
            address: "A@b.c".into(),
            tier: Tier::Anon,
            expires_at: "2030-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(ok.clone().check().unwrap().address, "a@b.c");
        for bad in [
            RemoteMailbox {
                id: "".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                id: "a/../b c".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                address: "no-at".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                address: "a b@c".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                expires_at: "tomorrow".into(),
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err());
        }
    }
}

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
mod mirror;
pub mod sse;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{oneshot, watch, Notify};

use crate::clock::{now_ms, to_rfc3339, Millis};
use crate::engine::Engine;
use crate::error::{Error, RemoteError, Result};
use crate::ids;
use crate::store::remotes::{self as store, Account};

use mirror::{check_remote_id, RemoteMailbox};

/// Longest account name.
const MAX_NAME: usize = 100;
/// Longest API key.
const MAX_KEY: usize = 4096;

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
    fn after(e: &Error, at: Millis) -> State {
        let detail = e.to_string();
        let Error::Remote(e) = e else {
            return State::Error { at, detail };
        };
        match e {
            RemoteError::AuthFailed(_) => State::AuthFailed { at, detail },
            RemoteError::Unreachable(_) | RemoteError::TimedOut | RemoteError::Stalled(_) => {
                State::Retrying { at, detail }
            }
            RemoteError::Refused { status, .. } if *status >= 500 || *status == 429 => {
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

/// Runs a blocking call on a plain thread (a detached thread, unlike `spawn_blocking`, cannot
/// hold up the runtime's shutdown while a remote is slow).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, RemoteError> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("mailiy-sync".into())
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    rx.await
        .map_err(|_| Error::Worker("a sync thread ended without an answer".into()))?
        .map_err(Error::from)
}

/// What a new remote account needs.
#[derive(Debug, Clone, Default)]
pub struct RemoteRequest {
    pub name: String,
    pub url: String,
    pub api_key: String,
}

impl Accounts {
    /// Starts a worker for every stored account; returns when the engine shuts down.
    pub async fn run(self: Arc<Self>, engine: Engine, mut shutdown: watch::Receiver<bool>) {
        *self.shutdown.lock().unwrap_or_else(|p| p.into_inner()) = Some(shutdown.clone());
        match engine.store().read(store::accounts).await {
            Ok(all) => {
                for a in all {
                    self.start(&engine, a);
                }
            }
            Err(e) => tracing::error!(error = %e, "sync: cannot read the remote accounts"),
        }
        let _ = shutdown.changed().await;
    }

    /// Adds a remote account and starts syncing it.
    pub async fn add(&self, engine: &Engine, req: RemoteRequest) -> Result<RemoteView> {
        let name = req.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(Error::InvalidInput(format!(
                "name must be 1-{MAX_NAME} characters, without control characters"
            )));
        }
        let url = crate::urls::validate_url(&req.url)?
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
        self.start(engine, account.clone());
        Ok(view(&account, &self.state(&account.id)))
    }

    /// Every remote account with its state.
    pub async fn list(&self, engine: &Engine) -> Result<Vec<RemoteView>> {
        let all = engine.store().read(store::accounts).await?;
        Ok(all.iter().map(|a| view(a, &self.state(&a.id))).collect())
    }

    /// Removes an account: its worker stops and its local mirrors are removed (the mailboxes stay
    /// on the remote). False if there is no such account.
    pub async fn remove(&self, engine: &Engine, id: &str) -> Result<bool> {
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
        self.stop(&id);
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
        let s = |e: RemoteError| view_state(&State::after(&Error::Remote(e), at));
        assert_eq!(s(RemoteError::AuthFailed(401)), "auth_failed");
        assert_eq!(s(RemoteError::TimedOut), "retrying");
        assert_eq!(s(RemoteError::Unreachable("refused".into())), "retrying");
        assert_eq!(
            s(RemoteError::Refused {
                status: 503,
                code: String::new(),
                message: String::new()
            }),
            "retrying"
        );
        assert_eq!(s(RemoteError::BadAnswer("x".into())), "error");
        assert_eq!(s(RemoteError::Redirect(302, "http://x".into())), "error");
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
}

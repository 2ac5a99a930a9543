//! The engine: store, event bus and config behind one handle, and the servers it runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock::{now_ms, Millis};
use crate::config::{Config, Tier, TierLimits};
use crate::error::{Error, Result};
use crate::events::{EventBus, EventKind};
use crate::ids;
use crate::metrics::Metrics;
use crate::model::{Mailbox, MailboxView};
use crate::settings::{check_not_pinned, Settings};
use crate::store::{NewMailbox, Store};
use std::sync::atomic::Ordering::Relaxed;

/// What a caller may ask for when creating a mailbox (all optional, as in the API).
#[derive(Debug, Clone, Default)]
pub struct MailboxRequest {
    pub tier: Option<Tier>,
    pub ttl_minutes: Option<u64>,
    pub expires_at: Option<Millis>,
    pub local_part: Option<String>,
    pub domain: Option<String>,
    /// A remote account id: create the mailbox on that endpoint, with a local mirror.
    pub remote: Option<String>,
}

/// A handle on the engine's state; cheap to clone. Front doors and servers call its methods.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    events: EventBus,
    metrics: Metrics,
    expiry_changed: Notify,
    token: String,
    settings: watch::Sender<Settings>,
    /// The running listeners, once started; its lock also serializes settings updates.
    listeners: tokio::sync::Mutex<Option<Listeners>>,
    sync: crate::sync::Accounts,
}

impl Engine {
    /// Opens the store in the configured data directory.
    pub fn open(config: Config) -> Result<Engine> {
        let store = Store::open(&config.data_dir)?;
        let token = crate::token::load_or_create(&config.data_dir)?;
        let settings = Settings::with_stored(
            Settings::from_config(&config),
            &store.stored_settings()?,
            &config.pinned,
        );
        Ok(Engine {
            inner: Arc::new(Inner {
                config,
                store,
                events: EventBus::default(),
                metrics: Metrics::default(),
                expiry_changed: Notify::new(),
                token,
                settings: watch::Sender::new(settings),
                listeners: tokio::sync::Mutex::new(None),
                sync: crate::sync::Accounts::default(),
            }),
        })
    }

    /// The settings in force now.
    pub fn settings(&self) -> Settings {
        self.inner.settings.borrow().clone()
    }

    /// Sees every settings change (the desktop shell follows ports and notification choices).
    pub fn subscribe_settings(&self) -> watch::Receiver<Settings> {
        self.inner.settings.subscribe()
    }

    /// Where the SMTP listener is (or will be) bound.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.inner.settings.borrow().smtp
    }

    /// Where the HTTP listener is (or will be) bound.
    pub fn http_addr(&self) -> SocketAddr {
        self.inner.settings.borrow().http
    }

    /// TTL in minutes for a new mailbox of `tier` that asked for none.
    pub fn default_ttl_for(&self, tier: Tier) -> u32 {
        let wanted = self.inner.settings.borrow().default_ttl_minutes;
        wanted.min(self.limits(tier).max_ttl_minutes)
    }

    /// Applies a settings patch (API.md, `PATCH /v1/settings`) and stores it. Listeners whose
    /// address changed are rebound first, so a taken port is reported and changes nothing;
    /// the old listeners stop accepting, and their open sessions finish as at shutdown.
    pub async fn update_settings(
        &self,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Settings> {
        let mut listeners = self.inner.listeners.lock().await;
        check_not_pinned(patch, &self.inner.config.pinned)?;
        let old = self.settings();
        let mut next = old.merged(patch)?;
        let mut rebound = (None, None);
        if listeners.is_some() {
            if next.smtp != old.smtp {
                rebound.0 = Some(bind("SMTP", next.smtp).await?);
            }
            if next.http != old.http {
                rebound.1 = Some(bind("HTTP", next.http).await?);
            }
        }
        self.inner
            .store
            .save_settings(next.changes_from(&old))
            .await?;
        if let Some(running) = listeners.as_mut() {
            if let Some(tcp) = rebound.0 {
                next.smtp = tcp.local_addr()?;
                running.replace_smtp(self, tcp);
            }
            if let Some(tcp) = rebound.1 {
                next.http = tcp.local_addr()?;
                running.replace_http(self, tcp);
            }
        }
        for (key, _) in next.changes_from(&old) {
            tracing::info!(setting = %key, "setting changed");
        }
        self.inner.settings.send_replace(next.clone());
        Ok(next)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The API token (required in LAN mode and with `--require-token`).
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn limits(&self, tier: Tier) -> TierLimits {
        self.inner.config.tiers.get(tier)
    }

    /// The API form of a mailbox.
    pub fn view(&self, m: &Mailbox) -> MailboxView {
        m.view(self.limits(m.tier))
    }

    /// Resolves when a mailbox's expiry may have moved earlier.
    pub(crate) async fn expiry_changed(&self) {
        self.inner.expiry_changed.notified().await
    }

    pub(crate) fn wake_expiry(&self) {
        self.inner.expiry_changed.notify_one();
    }

    /// Creates a mailbox, validating the request against the tier's caps.
    pub async fn create_mailbox(&self, mut req: MailboxRequest) -> Result<Mailbox> {
        if let Some(remote) = req.remote.take() {
            return crate::sync::create_mailbox(self, &remote, req).await;
        }
        let cfg = &self.inner.config;
        let tier = req
            .tier
            .unwrap_or(self.inner.settings.borrow().default_tier);
        let limits = self.limits(tier);
        let now = now_ms();
        let max_expiry = now + i64::from(limits.max_ttl_minutes) * 60_000;
        let expires_at = match (req.ttl_minutes, req.expires_at) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidInput(
                    "give ttlMinutes or expiresAt, not both".into(),
                ))
            }
            (Some(ttl), None) => {
                if ttl == 0 || ttl > u64::from(limits.max_ttl_minutes) {
                    return Err(Error::InvalidInput(format!(
                        "ttlMinutes must be between 1 and {} for the {tier} tier",
                        limits.max_ttl_minutes
                    )));
                }
                now + ttl as i64 * 60_000
            }
            (None, Some(at)) => {
                if at <= now || at > max_expiry {
                    return Err(Error::InvalidInput(format!(
                        "expiresAt must be in the future and at most {} minutes away for the {tier} tier",
                        limits.max_ttl_minutes
                    )));
                }
                at
            }
            (None, None) => now + i64::from(self.default_ttl_for(tier)) * 60_000,
        };
        let domain = match req.domain {
            Some(d) => normalize_domain(&d)?,
            None => cfg.domain.clone(),
        };
        let explicit = req
            .local_part
            .map(|lp| normalize_local_part(&lp))
            .transpose()?;
        // A random name can collide; an explicit one is the caller's choice and reports 409.
        let attempts = if explicit.is_some() { 1 } else { 5 };
        let mut last_err = None;
        for _ in 0..attempts {
            let local = explicit.clone().unwrap_or_else(ids::readable_local_part);
            let new = NewMailbox {
                id: ids::new_id("mbx"),
                address: format!("{local}@{domain}"),
                tier,
                created_at: now,
                expires_at,
                origin: "local".into(),
                remote: None,
            };
            match self.inner.store.create_mailbox(new).await {
                Ok(m) => {
                    self.wake_expiry();
                    self.inner.events.publish(EventKind::MailboxCreated {
                        mailbox: self.view(&m),
                    });
                    tracing::info!(mailbox = %m.id, tier = %m.tier, "mailbox created");
                    return Ok(m);
                }
                Err(e @ Error::AddressTaken(_)) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(Error::ShuttingDown))
    }

    /// A live mailbox by id or address.
    pub async fn mailbox(&self, key: &str) -> Result<Mailbox> {
        self.inner
            .store
            .find_mailbox(key.to_string(), now_ms())
            .await?
            .ok_or(Error::MailboxNotFound)
    }

    /// Moves a mailbox's expiry: later by `extend_minutes`, or to `expires_at`; at most the
    /// tier's longest lifetime from now.
    pub async fn extend_mailbox(
        &self,
        key: &str,
        extend_minutes: Option<u64>,
        expires_at: Option<Millis>,
    ) -> Result<Mailbox> {
        let m = self.mailbox(key).await?;
        if m.origin == "remote" {
            // The remote decides (its tier caps apply); the mirror follows.
            return crate::sync::extend_mailbox(self, &m, extend_minutes, expires_at).await;
        }
        let limits = self.limits(m.tier);
        let now = now_ms();
        let latest = now + i64::from(limits.max_ttl_minutes) * 60_000;
        let new_expiry = match (extend_minutes, expires_at) {
            (Some(n), None) if n > 0 => m
                .expires_at
                .saturating_add((n.min(1 << 40) as i64) * 60_000),
            (None, Some(at)) if at > now => at,
            _ => {
                return Err(Error::InvalidInput(
                    "give extendMinutes (at least 1) or a future expiresAt, not both".into(),
                ))
            }
        };
        if new_expiry > latest {
            return Err(Error::InvalidInput(format!(
                "a {} mailbox lives at most {} minutes from now",
                m.tier, limits.max_ttl_minutes
            )));
        }
        let updated = self
            .inner
            .store
            .set_expiry(m.id.clone(), new_expiry, now)
            .await?
            .ok_or(Error::MailboxNotFound)?;
        self.wake_expiry();
        Ok(updated)
    }

    /// Destroys a mailbox and everything in it, now and for good.
    pub async fn delete_mailbox(&self, key: &str) -> Result<()> {
        let m = self.mailbox(key).await?;
        if m.origin == "remote" {
            // Remote first: if it cannot be reached, the mirror stays and the caller hears why.
            crate::sync::delete_on_remote(self, &m).await?;
            // The remote's own `mailbox.deleted` may have removed the mirror already.
            return match self.remove_mailbox(&m.id, false).await {
                Err(Error::MailboxNotFound) => Ok(()),
                done => done,
            };
        }
        self.remove_mailbox(&m.id, false).await
    }

    /// Removes a mailbox here only, and announces it as deleted (or as expired, when sync
    /// mirrors a remote expiry).
    pub(crate) async fn remove_mailbox(&self, id: &str, expired: bool) -> Result<()> {
        if !self.inner.store.delete_mailbox(id.to_string()).await? {
            return Err(Error::MailboxNotFound);
        }
        let mailbox_id = id.to_string();
        if expired {
            tracing::info!(mailbox = %id, "mailbox expired");
            self.inner
                .events
                .publish(EventKind::MailboxExpired { mailbox_id });
        } else {
            tracing::info!(mailbox = %id, "mailbox deleted");
            self.inner
                .events
                .publish(EventKind::MailboxDeleted { mailbox_id });
        }
        Ok(())
    }

    /// The remote accounts' sync workers.
    pub fn sync(&self) -> &crate::sync::Accounts {
        &self.inner.sync
    }

    /// Deletes one message for good.
    pub async fn delete_message(&self, key: &str, message_id: &str) -> Result<()> {
        let m = self.mailbox(key).await?;
        if !self
            .inner
            .store
            .delete_message(m.id.clone(), message_id.to_string())
            .await?
        {
            return Err(Error::MessageNotFound);
        }
        self.inner.events.publish(EventKind::MessageDeleted {
            mailbox_id: m.id,
            message_id: message_id.to_string(),
        });
        Ok(())
    }

    /// Deletes what expired at or before `now` and announces it.
    pub async fn sweep_expired(&self, now: Millis) -> Result<usize> {
        let started = std::time::Instant::now();
        let ids = self.inner.store.delete_expired(now).await?;
        let micros = started.elapsed().as_micros() as u64;
        let m = &self.inner.metrics;
        m.sweeps.fetch_add(1, Relaxed);
        m.sweep_micros_total.fetch_add(micros, Relaxed);
        m.sweep_micros_last.store(micros, Relaxed);
        m.mailboxes_expired.fetch_add(ids.len() as u64, Relaxed);
        for id in &ids {
            tracing::info!(mailbox = %id, "mailbox expired");
            self.inner.events.publish(EventKind::MailboxExpired {
                mailbox_id: id.clone(),
            });
        }
        Ok(ids.len())
    }

    /// Binds the SMTP and HTTP listeners and starts every task.
    pub async fn start(config: Config) -> Result<Running> {
        Engine::start_binding(config, bind).await
    }

    /// Like [`Engine::start`], with the caller choosing how each listener's address becomes a
    /// socket: the desktop app takes the next free port when one is taken, where `mailiy serve`
    /// fails. `bind` gets "SMTP" or "HTTP" and the address the settings ask for.
    pub async fn start_binding<B, F>(config: Config, bind: B) -> Result<Running>
    where
        B: Fn(&'static str, SocketAddr) -> F,
        F: std::future::Future<Output = Result<TcpListener>>,
    {
        let engine = Engine::open(config)?;
        let wanted = engine.settings();
        let smtp = bind("SMTP", wanted.smtp).await?;
        let http = bind("HTTP", wanted.http).await?;
        let (smtp_addr, http_addr) = (smtp.local_addr()?, http.local_addr()?);
        // Port 0 resolved: the settings show where the listeners really are.
        engine.inner.settings.send_modify(|s| {
            s.smtp = smtp_addr;
            s.http = http_addr;
        });
        *engine.inner.listeners.lock().await = Some(Listeners::start(&engine, smtp, http));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(crate::webhooks::run(engine.clone(), shutdown_rx.clone()));
        tasks.spawn(crate::sync::run(engine.clone(), shutdown_rx.clone()));
        tasks.spawn(crate::expiry::run(engine.clone(), shutdown_rx));
        tracing::info!(%smtp_addr, %http_addr, data_dir = %engine.config().data_dir.display(), "engine started");
        Ok(Running {
            engine,
            smtp_addr,
            http_addr,
            shutdown: shutdown_tx,
            tasks,
        })
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { what, addr, source })
}

/// The SMTP and HTTP accept loops, with those a settings change replaced while they finish
/// their open sessions.
struct Listeners {
    smtp_stop: watch::Sender<bool>,
    http_stop: watch::Sender<bool>,
    /// Switches of replaced loops, kept so their sessions see `true`, not a closed channel.
    retired: Vec<watch::Sender<bool>>,
    tasks: JoinSet<()>,
}

impl Listeners {
    fn start(engine: &Engine, smtp: TcpListener, http: TcpListener) -> Listeners {
        let mut tasks = JoinSet::new();
        let smtp_stop = spawn_loop(&mut tasks, |stop| {
            crate::smtp::serve(smtp, engine.clone(), stop)
        });
        let http_stop = spawn_loop(&mut tasks, |stop| {
            crate::api::serve(http, engine.clone(), stop)
        });
        Listeners {
            smtp_stop,
            http_stop,
            retired: Vec::new(),
            tasks,
        }
    }

    fn replace_smtp(&mut self, engine: &Engine, tcp: TcpListener) {
        let new = spawn_loop(&mut self.tasks, |stop| {
            crate::smtp::serve(tcp, engine.clone(), stop)
        });
        let old = std::mem::replace(&mut self.smtp_stop, new);
        self.retire(old);
    }

    fn replace_http(&mut self, engine: &Engine, tcp: TcpListener) {
        let new = spawn_loop(&mut self.tasks, |stop| {
            crate::api::serve(tcp, engine.clone(), stop)
        });
        let old = std::mem::replace(&mut self.http_stop, new);
        self.retire(old);
    }

    fn retire(&mut self, stop: watch::Sender<bool>) {
        let _ = stop.send(true);
        self.retired.push(stop);
    }

    /// Stops every loop; each gives its sessions the grace period, this bound is a backstop.
    async fn stop(mut self, grace: Duration) {
        let _ = self.smtp_stop.send(true);
        let _ = self.http_stop.send(true);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace + Duration::from_secs(1), all_done)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}

/// Spawns an accept loop on `tasks`; returns the switch that stops it.
fn spawn_loop<F>(
    tasks: &mut JoinSet<()>,
    run: impl FnOnce(watch::Receiver<bool>) -> F,
) -> watch::Sender<bool>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = watch::channel(false);
    tasks.spawn(run(stopped));
    stop
}

/// A started engine: its listeners' addresses and the handle to stop it.
pub struct Running {
    pub engine: Engine,
    pub smtp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets running transactions finish (bounded by the grace period),
    /// then closes the store after its queued writes.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let grace = self.engine.config().shutdown_grace;
        let listeners = self.engine.inner.listeners.lock().await.take();
        if let Some(listeners) = listeners {
            listeners.stop(grace).await;
        }
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace + Duration::from_secs(1), all_done)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
        let store = self.engine.store().clone();
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        tracing::info!("engine stopped");
    }
}

/// A local part as users may choose it: lower-case letters, digits, `.`, `_`, `-`, `+`.
pub fn normalize_local_part(s: &str) -> Result<String> {
    let lp = s.trim().to_lowercase();
    let ok = !lp.is_empty()
        && lp.len() <= 64
        && lp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        && !lp.starts_with('.')
        && !lp.ends_with('.')
        && !lp.contains("..");
    if ok {
        Ok(lp)
    } else {
        Err(Error::InvalidInput(
            "localPart must be 1-64 of a-z, 0-9, '.', '_', '-', '+', with no leading, trailing or double dot".into(),
        ))
    }
}

fn normalize_domain(s: &str) -> Result<String> {
    let d = s.trim().trim_end_matches('.').to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err(Error::InvalidInput(format!("{s:?} is not a domain name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_parts_are_checked() {
        assert_eq!(normalize_local_part(" Alice.B+x ").unwrap(), "alice.b+x");
        for bad in ["", ".a", "a.", "a..b", "a b", "a@b", "ä", &"x".repeat(65)] {
            assert!(normalize_local_part(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_are_checked() {
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        for bad in ["", "a..b", "-a.b", "a_b.c", "a b"] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }
}

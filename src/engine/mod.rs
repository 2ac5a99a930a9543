//! The engine: the state handle (store, event bus, settings, metrics) and the policy over it
//! (mailboxes, caps, catch-all, waits, expiry decisions, faults on demand). It opens no sockets and spawns no
//! servers: [`crate::server`] does, and lends the engine what it needs through two small traits,
//! [`RemoteMailboxes`] (sync) and [`Listeners`] (moving a listener when its setting changes).

mod auth;
mod bulk;
mod faults;
mod intake;
mod listeners;
mod lookup;
mod mailboxes;
mod messages;
mod recipients;
mod refusals;
mod relay;
mod remote;
mod tags;
mod wait;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use crate::config::{Config, Tier, TierLimits};
use crate::credentials::Credentials;
use crate::error::Result;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::model::{Mailbox, MailboxView};
use crate::sanitize::Sanitizer;
use crate::settings::Settings;
use crate::store::Store;
use crate::tls::TlsIdentity;

pub use auth::{AuthPolicy, AuthVerdict};
pub use faults::{
    FaultAction, FaultConfig, FaultContext, FaultEffect, Faults, Stage as FaultStage,
};
pub use intake::{Intake, IntakeChange};
pub use listeners::{Listeners, Rebound, Transport};
pub use mailboxes::{normalize_local_part, ExpiryChange, MailboxRequest};
pub use recipients::{RcptDecision, Recipient};
pub use remote::RemoteMailboxes;
pub use wait::MessageWait;

/// A future that a trait object can return (the traits here are implemented above the engine).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

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
    /// Mail HTML's sanitizer, its allow-lists built once for every message.
    sanitizer: Sanitizer,
    expiry_changed: Notify,
    token: String,
    /// The SMTP listener's certificate (STARTTLS and `--smtps`), loaded or made at open.
    tls: TlsIdentity,
    /// The SMTP logins taken (`--smtp-auth`), read once at open.
    credentials: Credentials,
    settings: watch::Sender<Settings>,
    /// Faults on demand: what SMTP sessions answer instead of their own replies (off unless set).
    faults: Faults,
    /// Serializes settings updates (a rebind and its store write belong together).
    settings_update: tokio::sync::Mutex<()>,
    /// The server's listeners while it runs; none when the engine is only opened.
    listeners: Mutex<Option<Arc<dyn Listeners>>>,
    /// Remote accounts (sync) while the server runs; none when the engine is only opened.
    remotes: Mutex<Option<Arc<dyn RemoteMailboxes>>>,
    /// Recent refused SMTP attempts (memory only).
    refusals: refusals::Refusals,
    /// Paused or taking mail (memory only: a restart takes mail again).
    intake: watch::Sender<Intake>,
}

impl Engine {
    /// Opens the store in the configured data directory. Nothing runs yet: the engine answers
    /// calls, and [`crate::server::start`] adds the listeners and workers.
    pub fn open(config: Config) -> Result<Engine> {
        let store = Store::open_tuned(&config.data_dir, config.store)?;
        let token = crate::token::load_or_create(&config.data_dir)?;
        // Before the certificate: a bad users file stops the start with nothing made.
        let credentials = Credentials::load(&config.smtp_auth)?;
        let tls = TlsIdentity::load(&config.smtp_tls)?;
        let faults = Faults::new(config.faults_max_entries);
        if let Some(path) = &config.faults_file {
            let read = std::fs::read(path).map_err(|e| {
                crate::error::Error::InvalidFaults(format!("--faults {}: {e}", path.display()))
            })?;
            faults.set(FaultConfig::from_json(&read, config.smtp.idle_timeout)?);
        }
        let settings = Settings::with_stored(
            Settings::from_config(&config),
            &store.stored_settings()?,
            &config.pinned,
        );
        let refusals = refusals::Refusals::new(config.refusals_max, config.refusals_max_age);
        Ok(Engine {
            inner: Arc::new(Inner {
                config,
                store,
                events: EventBus::default(),
                metrics: Metrics::default(),
                sanitizer: Sanitizer::new(),
                expiry_changed: Notify::new(),
                token,
                tls,
                credentials,
                settings: watch::Sender::new(settings),
                faults,
                settings_update: tokio::sync::Mutex::new(()),
                listeners: Mutex::new(None),
                remotes: Mutex::new(None),
                refusals,
                intake: watch::Sender::new(Intake::default()),
            }),
        })
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

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn sanitizer(&self) -> &Sanitizer {
        &self.inner.sanitizer
    }

    /// The API token (required in LAN mode and with `--require-token`).
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The SMTP listener's certificate and TLS config.
    pub fn tls(&self) -> &TlsIdentity {
        &self.inner.tls
    }

    pub fn limits(&self, tier: Tier) -> TierLimits {
        self.inner.config.tiers.get(tier)
    }

    /// The API form of a mailbox.
    pub fn view(&self, m: &Mailbox) -> MailboxView {
        m.view(self.limits(m.tier))
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

    /// Resolves when a mailbox's expiry may have moved earlier (the expiry worker waits on it).
    pub(crate) async fn expiry_changed(&self) {
        self.inner.expiry_changed.notified().await
    }

    pub(crate) fn wake_expiry(&self) {
        self.inner.expiry_changed.notify_one();
    }

    /// Lends the engine the server's listeners (or takes them back with `None`).
    pub(crate) fn attach_listeners(&self, listeners: Option<Arc<dyn Listeners>>) {
        *lock(&self.inner.listeners) = listeners;
    }

    /// Lends the engine the remote accounts (or takes them back with `None`).
    pub(crate) fn attach_remotes(&self, remotes: Option<Arc<dyn RemoteMailboxes>>) {
        *lock(&self.inner.remotes) = remotes;
    }

    fn remotes(&self) -> Result<Arc<dyn RemoteMailboxes>> {
        lock(&self.inner.remotes)
            .clone()
            .ok_or(crate::error::Error::NoRemotes)
    }

    fn listeners(&self) -> Option<Arc<dyn Listeners>> {
        lock(&self.inner.listeners).clone()
    }
}

/// A poisoned lock only means a panic elsewhere; the value it guards is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

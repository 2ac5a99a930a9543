//! Settings changes, and the one part of them that needs the server: moving a listener whose
//! address changed. The server lends the engine [`Listeners`]; the engine binds the new address
//! first, so a taken port is reported and changes nothing, then stores the change, then lets
//! the new listener take over (the old one stops accepting; its sessions finish).

use std::net::SocketAddr;

use serde_json::{Map, Value};

use super::{BoxFuture, Engine};
use crate::error::Result;
use crate::settings::{check_not_pinned, Settings};

/// Which listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Smtp,
    Http,
}

/// A listener bound at its new address, not yet serving.
pub trait Rebound: Send {
    /// Where it is bound (port 0 resolved).
    fn local_addr(&self) -> SocketAddr;
    /// Starts serving here and retires the listener it replaces.
    fn take_over(self: Box<Self>);
}

/// Binds listeners for a settings change (implemented by the server).
pub trait Listeners: Send + Sync {
    fn bind<'a>(
        &'a self,
        engine: &'a Engine,
        which: Transport,
        addr: SocketAddr,
    ) -> BoxFuture<'a, Result<Box<dyn Rebound>>>;
}

impl Engine {
    /// Applies a settings patch (API.md, `PATCH /v1/settings`) and stores it. Listeners whose
    /// address changed are rebound first, so a taken port is reported and changes nothing;
    /// the old listeners stop accepting, and their open sessions finish as at shutdown.
    pub async fn update_settings(&self, patch: &Map<String, Value>) -> Result<Settings> {
        let _one_at_a_time = self.inner.settings_update.lock().await;
        check_not_pinned(patch, &self.config().pinned)?;
        let old = self.settings();
        let mut next = old.merged(patch)?;
        let mut rebound = Vec::new();
        if let Some(listeners) = self.listeners() {
            for (which, new, was) in [
                (Transport::Smtp, next.smtp, old.smtp),
                (Transport::Http, next.http, old.http),
            ] {
                if new != was {
                    rebound.push((which, listeners.bind(self, which, new).await?));
                }
            }
        }
        self.store().save_settings(next.changes_from(&old)).await?;
        for (which, listener) in rebound {
            let addr = listener.local_addr();
            match which {
                Transport::Smtp => next.smtp = addr,
                Transport::Http => next.http = addr,
            }
            listener.take_over();
        }
        for (key, _) in next.changes_from(&old) {
            tracing::info!(setting = %key, "setting changed");
        }
        self.inner.settings.send_replace(next.clone());
        Ok(next)
    }

    /// Records where the listeners really are once bound (port 0 resolved, a taken port moved).
    pub(crate) fn set_listener_addrs(&self, smtp: SocketAddr, http: SocketAddr) {
        self.inner.settings.send_modify(|s| {
            s.smtp = smtp;
            s.http = http;
        });
    }
}

//! What the tray shows, computed on the async side from the engine's events and handed to the
//! GTK thread, which applies it ([`crate::tray::Tray::apply`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailiy::clock::now_ms;
use mailiy::model::Mailbox;
use tokio::sync::broadcast::error::RecvError;

use crate::tray::Model;
use crate::ui::UiCommand;
use crate::Shell;

/// Menu rebuilds are at most this frequent while mail pours in.
const MIN_REBUILD_GAP: Duration = Duration::from_millis(1000);

/// Keeps the tray current. The mailboxes are read again only after an event that changes
/// them (a burst settles first); the time left beside each is redrawn every refresh interval
/// from what was read, so an idle app reads nothing from the store.
pub async fn keep_current(shell: Arc<Shell>) {
    let mut events = shell.engine.events().subscribe();
    let every = shell.options.refresh_every();
    let mut shown: Option<Model> = None;
    let mut mailboxes: Vec<Mailbox> = Vec::new();
    let mut stale = true;
    let mut last_rebuild = Instant::now() - MIN_REBUILD_GAP;
    loop {
        if stale {
            match shell.engine.mailboxes().await {
                Ok(all) => mailboxes = all,
                Err(e) => tracing::warn!(error = %e, "tray: cannot list mailboxes"),
            }
            stale = false;
        }
        let now = now_ms();
        // An expired mailbox leaves the menu at its instant, before its event arrives.
        mailboxes.retain(|m| m.expires_at > now);
        let mut model = Model::new(&mailboxes, now, shell.options.tray_mailboxes);
        model.paused = shell.notifications_paused();
        model.intake_paused = shell.engine.intake().paused;
        model.notice = shell.notices.first().cloned();
        if shown.as_ref() != Some(&model) {
            shell.ui(UiCommand::Tray(model.clone()));
            last_rebuild = Instant::now();
            shown = Some(model);
        }
        tokio::select! {
            r = events.recv() => match r {
                Err(RecvError::Closed) => return,
                _ => stale = true,
            },
            _ = tokio::time::sleep(every) => continue,
        }
        // A burst settles before the next look.
        let gap = MIN_REBUILD_GAP.saturating_sub(last_rebuild.elapsed());
        tokio::time::sleep(gap.max(Duration::from_millis(100))).await;
        while events.try_recv().is_ok() {}
    }
}

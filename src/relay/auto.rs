//! Automatic relay (`--smtp-relay-auto QUERY|all`): every new message that matches is sent on
//! to its own envelope recipients (those `--smtp-relay-allow` lets through). A failed attempt is
//! retried with a doubling pause, up to `--smtp-relay-attempts`; the message stays in its
//! mailbox whatever happens, and a give-up is logged with the reason.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::error::{Error, RelayError, Result};
use crate::events::EventKind;
use crate::relay_config::RelayConfig;
use crate::store::MessageFilter;

/// Matches a query is looked for among: the newest matches of the mailbox, which a message
/// just received is one of unless this many more matching ones came in meanwhile.
const MATCH_WINDOW: u32 = 200;

/// Relays matching messages until `shutdown` turns true. Returns at once without auto relay.
pub(crate) async fn run(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let Some(cfg) = engine.config().relay.clone() else {
        return;
    };
    let Some(query) = cfg.auto.clone() else {
        return;
    };
    let mut events = engine.events().subscribe();
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = shutdown.changed() => return,
        };
        match event {
            Ok(e) => {
                if let EventKind::MessageReceived {
                    mailbox_id,
                    message,
                } = &e.kind
                {
                    let relay = relay_one(&engine, &cfg, query.as_deref(), mailbox_id, &message.id);
                    tokio::select! {
                        r = relay => if let Err(e) = r {
                            tracing::warn!(mailbox = %mailbox_id, message = %message.id, error = %e, "auto relay: not sent");
                        },
                        _ = shutdown.changed() => return,
                    }
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "auto relay: fell behind; missed messages are not relayed"
                )
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn relay_one(
    engine: &Engine,
    cfg: &RelayConfig,
    query: Option<&str>,
    mailbox_id: &str,
    message_id: &str,
) -> Result<()> {
    if let Some(q) = query {
        let filter = MessageFilter::new(None, None).with_query(Some(crate::query::parse(q)?));
        let newest = crate::store::Page {
            limit: MATCH_WINDOW,
            ..Default::default()
        };
        let (_, matches) = engine
            .store()
            .list_messages(mailbox_id.to_string(), newest, filter)
            .await?;
        if !matches.iter().any(|m| m.id == message_id) {
            return Ok(());
        }
    }
    let store = engine.store();
    let message = store
        .message(mailbox_id.to_string(), message_id.to_string())
        .await?
        .ok_or(Error::MessageNotFound)?;
    let to: Vec<String> = message
        .envelope
        .rcpt_to
        .iter()
        .filter(|a| cfg.allows(a))
        .cloned()
        .collect();
    if to.is_empty() {
        tracing::info!(message = %message_id, "auto relay: no recipient the allow list lets through");
        return Ok(());
    }
    let raw = store
        .raw(mailbox_id.to_string(), message_id.to_string())
        .await?
        .ok_or(Error::MessageNotFound)?;
    let mut pause = Duration::from_secs(1);
    for attempt in 1..=cfg.attempts {
        match super::send(engine, cfg, &message.envelope.mail_from, &to, &raw).await {
            Ok(_) => return Ok(()),
            Err(Error::Relay(RelayError::Failed(why))) if attempt < cfg.attempts => {
                tracing::info!(attempt, error = %why, "auto relay: failed, trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

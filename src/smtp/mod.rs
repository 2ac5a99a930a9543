//! The SMTP listener: a tokio accept loop, one task per connection.
//!
//! The protocol state machine is in [`session`]; commands are parsed by the sans-IO crate
//! `smtp-proto`. Why not `mailin-embedded`: measured here, it could not shut down, had no
//! line-length limit, ended DATA at `<LF>.<CR><LF>` (smuggling), refused `MAIL FROM:<>` and
//! `SIZE=`, and starved new connections once its small thread pool held idle clients.

mod session;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::engine::Engine;

pub use session::normalize_bare_lf;

/// Accepts connections until `shutdown` turns true, then gives running sessions the grace
/// period to finish their transaction before aborting them.
pub async fn serve(listener: TcpListener, engine: Engine, mut shutdown: watch::Receiver<bool>) {
    let cfg = engine.config().smtp.clone();
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(error = %e, "smtp: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "smtp: connection limit reached");
                    sessions.spawn(async move {
                        let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n").await;
                    });
                    continue;
                };
                let (engine, shutdown) = (engine.clone(), shutdown.clone());
                sessions.spawn(async move {
                    session::run(stream, peer, engine, shutdown).await;
                    drop(permit);
                });
            }
            Some(finished) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = finished {
                    if e.is_panic() {
                        tracing::error!("smtp: a session panicked; the listener goes on");
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let grace = engine.config().shutdown_grace;
    let drained = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!(
            left = sessions.len(),
            "smtp: grace period over, closing sessions"
        );
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
}

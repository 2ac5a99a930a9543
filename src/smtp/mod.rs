//! The SMTP listener: a tokio accept loop, one task per connection.
//!
//! The protocol state machine is in [`session`]; commands are parsed by the sans-IO crate
//! `smtp-proto`. A session asks a [`Mailroom`] about recipients and hands it its messages: the
//! engine in the server (`engine_mailroom.rs`), a [`MemorySink`] in tests and the fuzzer.
//!
//! Why not `mailin-embedded`: measured here, it could not shut down, had no
//! line-length limit, ended DATA at `<LF>.<CR><LF>` (smuggling), refused `MAIL FROM:<>` and
//! `SIZE=`, and starved new connections once its small thread pool held idle clients.
//!
//! **Idle floods.** A waiting session holds no read buffer, so an idle connection costs a
//! socket and a small task. When all `--smtp-max-connections` slots are taken (or the process
//! runs out of file descriptors), the session that has been idle longest *outside a
//! transaction* is closed with `421` to make room, so thousands of idle connections never keep
//! a new client from its greeting. Sessions holding accepted recipients or inside DATA are never
//! closed this way; only when every slot is such a session does a newcomer get `421`.

mod auth;
mod conn;
mod engine_mailroom;
mod mailroom;
mod session;
mod sink;
#[cfg(test)]
mod tests;
mod transcript;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::engine::Engine;
use conn::Conn;

pub use crate::metrics::Rejection;
pub use mailroom::Mailroom;
pub use session::{normalize_bare_lf, Flow, Session, MAX_LINE};
pub use sink::{MemorySink, SinkMessage, USER_INBOX_CAPS};

/// File descriptors kept for everything but SMTP sessions (HTTP, SQLite, the listener).
const OTHER_FDS: u64 = 256;

/// How a listener's connections start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// In the clear, with STARTTLS offered (`--smtp`).
    StartTls,
    /// The TLS handshake first, then SMTP (`--smtps`, the port-465 style).
    Implicit,
}

/// Accepts connections until `shutdown` turns true, then gives running sessions the grace
/// period to finish their transaction before aborting them.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    security: Security,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = engine.config().smtp.clone();
    raise_fd_limit(cfg.max_connections as u64 + OTHER_FDS);
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let live = Arc::new(LiveSessions::default());
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: close an idle session to make
                        // room, and pause instead of spinning.
                        let evicted = live.evict_idlest();
                        tracing::warn!(error = %e, evicted, "smtp: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (engine, shutdown, live, slots) =
                    (engine.clone(), shutdown.clone(), live.clone(), slots.clone());
                sessions.spawn(async move {
                    let Some(permit) = take_slot(slots, &live, &engine).await else {
                        tracing::warn!(%peer, "smtp: connection limit reached, every session busy");
                        let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n").await;
                        return;
                    };
                    serve_connection(stream, peer, engine, security, shutdown, &live).await;
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

/// A connection slot: a free one, or else the one an idle session gives up when asked to.
/// None when every session is in a transaction (or none left within the idle timeout).
async fn take_slot(
    slots: Arc<Semaphore>,
    live: &LiveSessions,
    engine: &Engine,
) -> Option<OwnedSemaphorePermit> {
    let mut acquire = std::pin::pin!(slots.acquire_owned());
    // Queue for a slot before asking an idle session to leave, so the slot it frees comes to
    // this queue and cannot be taken by a later connection.
    let first = std::future::poll_fn(|cx| Poll::Ready(acquire.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(permit) => return permit.ok(),
        Poll::Pending if live.evict_idlest() => {}
        Poll::Pending => return None,
    }
    let within = engine.config().smtp.idle_timeout;
    match tokio::time::timeout(within, acquire).await {
        Ok(Ok(p)) => Some(p),
        _ => None,
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    engine: Engine,
    security: Security,
    shutdown: watch::Receiver<bool>,
    live: &LiveSessions,
) {
    let (id, slot) = live.register();
    let cfg = engine.config().smtp.clone();
    let largest = engine.config().tiers.largest_message_bytes();
    let acceptor = engine.tls().acceptor().clone();
    let conn = match security {
        Security::StartTls => Some(Conn::Plain(stream)),
        Security::Implicit => Box::pin(Conn::handshake(stream, &acceptor, cfg.idle_timeout)).await,
    };
    if let Some(mut conn) = conn {
        // Paused intake: one reply to every new session, before any greeting.
        if let Some(refusal) = engine.intake().refusal() {
            let _ = conn.send(refusal.as_bytes()).await;
            let _ = conn.shutdown().await;
            live.remove(id);
            return;
        }
        let mut session = Session::new(engine, cfg, largest, peer);
        match security {
            Security::StartTls => session.offer_starttls(),
            Security::Implicit => session.start_secure(),
        }
        session.set_tls(conn.tls_info());
        session::run(conn, session, shutdown, slot, Some(acceptor)).await;
    }
    live.remove(id);
}

/// One running session as the accept loop sees it: when it last heard from its client,
/// whether it is in a transaction, and a way to ask it to close.
pub(crate) struct Slot {
    born: Instant,
    /// Milliseconds after `born` of the client's last bytes.
    last_active: AtomicU64,
    busy: AtomicBool,
    chosen: AtomicBool,
    evict: Notify,
}

impl Slot {
    fn touch(&self) {
        self.last_active
            .store(self.born.elapsed().as_millis() as u64, Relaxed);
    }

    fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Relaxed);
    }

    /// Resolves once the accept loop picked this session to make room.
    async fn evicted(&self) {
        self.evict.notified().await
    }
}

/// Every running session, for picking one to close when the server is full.
#[derive(Default)]
struct LiveSessions {
    next_id: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl LiveSessions {
    fn register(&self) -> (u64, Arc<Slot>) {
        let id = self.next_id.fetch_add(1, Relaxed);
        let slot = Arc::new(Slot {
            born: Instant::now(),
            last_active: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            chosen: AtomicBool::new(false),
            evict: Notify::new(),
        });
        self.lock().insert(id, slot.clone());
        (id, slot)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the session idle longest outside a transaction to close; false if there is none.
    fn evict_idlest(&self) -> bool {
        let slots = self.lock();
        let now = Instant::now();
        let idlest = slots
            .values()
            .filter(|s| !s.busy.load(Relaxed) && !s.chosen.load(Relaxed))
            .max_by_key(|s| {
                let last = s.born + Duration::from_millis(s.last_active.load(Relaxed));
                now.saturating_duration_since(last)
            });
        match idlest {
            Some(s) => {
                s.chosen.store(true, Relaxed);
                s.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Raises the soft limit on open files toward `wanted` (at most the hard limit), so the
/// connection limit is not silently lower than configured. Many systems start processes
/// with a soft limit of 1,024.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux and macOS, not on every unix
fn raise_fd_limit(wanted: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    let current = lim.rlim_cur as u64;
    if current >= wanted {
        return;
    }
    let target = wanted.min(lim.rlim_max as u64);
    if target > current {
        lim.rlim_cur = target as libc::rlim_t;
        // SAFETY: setrlimit reads only the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return;
        }
    }
    if target < wanted {
        tracing::warn!(
            open_files = target,
            wanted,
            "smtp: the open-file limit is below the connection limit; idle sessions will be closed sooner"
        );
    }
}

#[cfg(not(unix))]
fn raise_fd_limit(_wanted: u64) {}

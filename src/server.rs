//! The server: the one place that binds sockets and spawns tasks. It opens the engine, binds the
//! SMTP and HTTP listeners, runs their accept loops and the workers (expiry, webhooks, sync),
//! moves a listener when its address setting changes, and shuts all of it down in order.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::engine::{BoxFuture, Engine, Listeners, Rebound, Transport};
use crate::error::{Error, Result};
use crate::smtp::Security;
use crate::sync::Accounts;

/// Binds the SMTP and HTTP listeners and starts every task.
pub async fn start(config: Config) -> Result<Running> {
    start_binding(config, bind).await
}

/// Like [`start`], with the caller choosing how each listener's address becomes a socket: the
/// desktop app takes the next free port when one is taken, where `mailiy serve` fails. `bind`
/// gets "SMTP" or "HTTP" and the address the settings ask for.
pub async fn start_binding<B, F>(config: Config, bind: B) -> Result<Running>
where
    B: Fn(&'static str, SocketAddr) -> F,
    F: Future<Output = Result<TcpListener>>,
{
    let engine = Engine::open(config)?;
    let wanted = engine.settings();
    let smtp = bind("SMTP", wanted.smtp).await?;
    let http = bind("HTTP", wanted.http).await?;
    // Implicit TLS is a start-up choice, outside the settings a running server moves.
    let smtps = match engine.config().smtps_addr {
        Some(addr) => Some(bind("SMTPS", addr).await?),
        None => None,
    };
    let (smtp_addr, http_addr) = (smtp.local_addr()?, http.local_addr()?);
    let smtps_addr = smtps.as_ref().map(TcpListener::local_addr).transpose()?;
    // Port 0 resolved: the settings show where the listeners really are.
    engine.set_listener_addrs(smtp_addr, http_addr);

    let accounts = Arc::new(Accounts::default());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let loops = Loops::new(accounts.clone());
    loops.serve(&engine, Transport::Smtp, smtp);
    loops.serve(&engine, Transport::Http, http);
    if let Some(tcp) = smtps {
        loops.serve_smtps(&engine, tcp);
    }
    engine.attach_listeners(Some(Arc::new(loops.clone())));
    engine.attach_remotes(Some(accounts.clone()));

    let mut workers = JoinSet::new();
    workers.spawn(crate::webhooks::run(engine.clone(), shutdown_rx.clone()));
    workers.spawn(accounts.run(engine.clone(), shutdown_rx.clone()));
    workers.spawn(crate::relay::run_auto(engine.clone(), shutdown_rx.clone()));
    workers.spawn(crate::expiry::run(engine.clone(), shutdown_rx));
    tracing::info!(%smtp_addr, ?smtps_addr, %http_addr, data_dir = %engine.config().data_dir.display(), "engine started");
    Ok(Running {
        engine,
        smtp_addr,
        smtps_addr,
        http_addr,
        loops,
        shutdown: shutdown_tx,
        workers,
    })
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { what, addr, source })
}

/// A started engine: its listeners' addresses and the handle to stop it.
pub struct Running {
    pub engine: Engine,
    pub smtp_addr: SocketAddr,
    /// The implicit-TLS listener, when `--smtps` asked for one.
    pub smtps_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    loops: Loops,
    /// Tells the workers to stop.
    shutdown: watch::Sender<bool>,
    workers: JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets running transactions finish (bounded by the grace period), stops
    /// the workers, then closes the store after its queued writes.
    pub async fn shutdown(mut self) {
        let grace = self.engine.config().shutdown_grace;
        self.engine.attach_listeners(None);
        self.engine.attach_remotes(None);
        let _ = self.shutdown.send(true);
        self.loops.stop(grace).await;
        let all_done = async { while self.workers.join_next().await.is_some() {} };
        if tokio::time::timeout(grace + Duration::from_secs(1), all_done)
            .await
            .is_err()
        {
            self.workers.abort_all();
        }
        let store = self.engine.store().clone();
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        tracing::info!("engine stopped");
    }
}

/// The SMTP and HTTP accept loops, with those a settings change replaced while they finish
/// their open sessions. Cheap to clone: the engine holds one to move a listener.
#[derive(Clone)]
struct Loops {
    /// What the HTTP API serves beside the engine.
    accounts: Arc<Accounts>,
    state: Arc<Mutex<LoopState>>,
}

#[derive(Default)]
struct LoopState {
    smtp_stop: Option<watch::Sender<bool>>,
    http_stop: Option<watch::Sender<bool>>,
    smtps_stop: Option<watch::Sender<bool>>,
    /// Switches of replaced loops, kept so their sessions see `true`, not a closed channel.
    retired: Vec<watch::Sender<bool>>,
    tasks: JoinSet<()>,
}

impl Loops {
    fn new(accounts: Arc<Accounts>) -> Loops {
        Loops {
            accounts,
            state: Arc::new(Mutex::new(LoopState::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LoopState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the accept loop of `which` on `tcp`, retiring the one it replaces.
    fn serve(&self, engine: &Engine, which: Transport, tcp: TcpListener) {
        let (stop, stopped) = watch::channel(false);
        let mut state = self.lock();
        match which {
            Transport::Smtp => {
                state.tasks.spawn(crate::smtp::serve(
                    tcp,
                    engine.clone(),
                    Security::StartTls,
                    stopped,
                ));
            }
            Transport::Http => {
                let accounts = self.accounts.clone();
                state
                    .tasks
                    .spawn(crate::api::serve(tcp, engine.clone(), accounts, stopped));
            }
        }
        let slot = match which {
            Transport::Smtp => &mut state.smtp_stop,
            Transport::Http => &mut state.http_stop,
        };
        if let Some(old) = slot.replace(stop) {
            let _ = old.send(true);
            state.retired.push(old);
        }
    }

    /// Starts the implicit-TLS SMTP loop (bound once, at start).
    fn serve_smtps(&self, engine: &Engine, tcp: TcpListener) {
        let (stop, stopped) = watch::channel(false);
        let mut state = self.lock();
        let serve = crate::smtp::serve(tcp, engine.clone(), Security::Implicit, stopped);
        state.tasks.spawn(serve);
        state.smtps_stop = Some(stop);
    }

    /// Stops every loop; each gives its sessions the grace period, this bound is a backstop.
    async fn stop(&self, grace: Duration) {
        let mut tasks = {
            let mut state = self.lock();
            let stops = [&state.smtp_stop, &state.http_stop, &state.smtps_stop];
            for stop in stops.into_iter().flatten() {
                let _ = stop.send(true);
            }
            std::mem::take(&mut state.tasks)
        };
        let all_done = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace + Duration::from_secs(1), all_done)
            .await
            .is_err()
        {
            tasks.abort_all();
        }
    }
}

/// A listener bound for a settings change, serving once it takes over.
struct Pending {
    loops: Loops,
    engine: Engine,
    which: Transport,
    tcp: TcpListener,
    addr: SocketAddr,
}

impl Rebound for Pending {
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn take_over(self: Box<Self>) {
        self.loops.serve(&self.engine, self.which, self.tcp);
    }
}

impl Listeners for Loops {
    fn bind<'a>(
        &'a self,
        engine: &'a Engine,
        which: Transport,
        addr: SocketAddr,
    ) -> BoxFuture<'a, Result<Box<dyn Rebound>>> {
        Box::pin(async move {
            let what = match which {
                Transport::Smtp => "SMTP",
                Transport::Http => "HTTP",
            };
            let tcp = bind(what, addr).await?;
            let addr = tcp.local_addr()?;
            Ok(Box::new(Pending {
                loops: self.clone(),
                engine: engine.clone(),
                which,
                tcp,
                addr,
            }) as Box<dyn Rebound>)
        })
    }
}

//! `mailiy-desktop`: the engine in-process, a tray inbox, desktop notifications, and the inbox
//! window. The shell stays thin: mail, mailboxes, settings and the UI all live in the engine
//! (`mailiy`); this crate turns them into a window, a tray menu and notifications.
//!
//! Two processes. This one (`mailiy-desktop`) runs the engine, the tray and notifications, and
//! links no WebKit. The window is a Tauri webview in `mailiy-desktop-window`, a process kept
//! ready without a window and ended when its window closes, so the app waiting in the tray
//! holds no browser engine (the memory figures are in the README).
//!
//! # Layout
//! - [`display`]: is there a display? If not, say so and point to `mailiy serve`.
//! - [`instance`]: one app per profile (data directory); a second launch shows the first's window.
//! - [`ports`]: starting the engine when a configured port is taken (the next free one, and who holds it).
//! - [`window_host`]: starting and steering the window process, over [`protocol`].
//! - [`tray`]: the tray icon and menu (unread count, newest mailboxes, New address, Pause, Quit);
//!   [`tray_feed`] keeps what it shows current from the engine's events.
//! - [`notify`]: notifications for new mail (grouped in bursts) and for mailboxes about to expire.
//! - [`autostart`]: the XDG autostart entry behind the "start at login" setting.
//! - [`ui`]: the GTK main thread (tray, clipboard), fed by commands from the async side.

pub mod autostart;
pub mod display;
pub mod instance;
pub mod notify;
pub mod ports;
pub mod protocol;
pub mod tray;
pub mod tray_feed;
pub mod ui;
pub mod window_host;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches};
use mailiy::config::EngineArgs;
use mailiy::engine::MailboxRequest;
use mailiy::Engine;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use protocol::{Geometry, ToWindow};
use ui::UiCommand;
use window_host::WindowHost;

/// The desktop's own settings, beside the engine's (`--help` lists both).
#[derive(Debug, Clone, clap::Args)]
pub struct DesktopArgs {
    /// Notifications: mail arriving within this many milliseconds of a shown notification is
    /// grouped into the next one
    #[arg(long, env = "MAILIY_NOTIFY_GROUP_MS", default_value_t = 2000)]
    pub notify_group_ms: u64,
    /// Notifications: how many of the newest stay clickable (open, Copy code); each holds a D-Bus connection
    #[arg(long, env = "MAILIY_NOTIFY_ACTIONABLE", default_value_t = 8)]
    pub notify_actionable: usize,
    /// Tray: how many of the newest mailboxes the menu lists
    #[arg(long, env = "MAILIY_TRAY_MAILBOXES", default_value_t = 5)]
    pub tray_mailboxes: usize,
    /// Tray: milliseconds between redraws of the time left beside each mailbox (a redraw
    /// reads nothing: the mailboxes are read again only after an event)
    #[arg(long, env = "MAILIY_TRAY_REFRESH_MS", default_value_t = 5000)]
    pub tray_refresh_ms: u64,
    /// Window: after it closes, keep a window process ready this many seconds (about 45 MB,
    /// no web content), so reopening it soon is quick; 0 = none
    #[arg(long, env = "MAILIY_WINDOW_STANDBY_SECS", default_value_t = 600)]
    pub window_standby_secs: u64,
    /// Ports: when a configured port is taken, try this many following ports
    #[arg(long, env = "MAILIY_PORT_FALLBACK_TRIES", default_value_t = 20)]
    pub port_fallback_tries: u16,
    /// Start in the tray, without opening the window (how start-at-login launches it)
    #[arg(long, env = "MAILIY_START_HIDDEN")]
    pub hidden: bool,
    /// Passed by WebKit's WebDriver when it launches the app; nothing to do with it here
    #[arg(long, hide = true)]
    pub automation: bool,
}

impl DesktopArgs {
    pub fn refresh_every(&self) -> Duration {
        Duration::from_millis(self.tray_refresh_ms.max(100))
    }

    pub fn window_standby(&self) -> Duration {
        Duration::from_secs(self.window_standby_secs)
    }
}

#[derive(clap::Parser)]
#[command(
    name = "mailiy-desktop",
    version,
    about = "Mailiy desktop app: a local disposable-mail inbox with a window, a tray and notifications.\n\
             Without a display, run the headless engine instead: `mailiy serve`."
)]
struct Cli {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    desktop: DesktopArgs,
}

/// What the tray, notifications, a second launch or a signal ask the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show the window, at a UI route if given.
    Show(Option<String>),
    /// The HTTP listener moved: an open window follows.
    FollowOrigin,
    /// The window process with this pid closed its output: it is exiting.
    WindowExited(u32),
    /// Create a mailbox, copy its address, say so.
    NewAddress,
    Quit,
}

/// What the shell's parts share.
pub struct Shell {
    pub engine: Engine,
    pub options: DesktopArgs,
    /// "Pause notifications" in the tray: for this run only (the setting is in the UI).
    pub paused: AtomicBool,
    /// Things the user must hear about that outlive one notification (a port that moved).
    pub notices: Vec<String>,
    /// The window's last size and position, restored when it opens again.
    pub geometry: Mutex<Option<Geometry>>,
    /// Notifications still answering clicks.
    pub outstanding: notify::Outstanding,
    /// Where the UI is served; follows the HTTP listener when its setting changes.
    origin: Mutex<url::Url>,
    actions: UnboundedSender<Action>,
    ui: UnboundedSender<UiCommand>,
}

impl Shell {
    pub fn origin(&self) -> url::Url {
        lock(&self.origin).clone()
    }

    pub fn notifications_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Asks the app to do something (from any thread).
    pub fn act(&self, action: Action) {
        let _ = self.actions.send(action);
    }

    /// Hands work to the GTK thread.
    pub fn ui(&self, cmd: UiCommand) {
        let _ = self.ui.send(cmd);
    }

    /// The window title: the app's name, and a notice the user must not miss (a moved port).
    pub fn window_title(&self) -> String {
        match self.notices.first() {
            Some(n) => format!("Mailiy — {n}"),
            None => "Mailiy".into(),
        }
    }

    /// Keeps the window's geometry in the store, for the next run.
    pub async fn remember_geometry(&self) {
        let Some(g) = *lock(&self.geometry) else {
            return;
        };
        let value = serde_json::Value::from(g.to_arg()).to_string();
        if let Err(e) = self
            .engine
            .store()
            .save_settings(vec![(GEOMETRY_KEY.into(), value)])
            .await
        {
            tracing::warn!(error = %e, "window geometry not stored");
        }
    }
}

/// The store key of the window's geometry (beside the engine's settings, not one of them).
const GEOMETRY_KEY: &str = "desktop.window";

fn stored_geometry(engine: &Engine) -> Option<Geometry> {
    let stored = engine.store().stored_settings().ok()?;
    let (_, value) = stored.into_iter().find(|(k, _)| k == GEOMETRY_KEY)?;
    Geometry::parse_arg(&serde_json::from_str::<String>(&value).ok()?)
}

/// A poisoned lock only means a panic elsewhere; the data it guards is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Logs to stderr, `info` and up unless `RUST_LOG` says otherwise (both binaries).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the desktop app until Quit (or SIGINT/SIGTERM).
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    init_logging();
    // Asked before anything touches GTK, which would otherwise panic without a display.
    if let Err(why) = display::check() {
        eprintln!("mailiy-desktop: {why}\n{}", display::HEADLESS_HINT);
        return ExitCode::from(2);
    }
    match start(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailiy-desktop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let config = EngineArgs::config_from(matches).context("invalid settings")?;
    let options = Cli::from_arg_matches(matches)
        .context("invalid settings")?
        .desktop;
    let data_dir = config.data_dir.clone();
    let (actions_tx, actions_rx) = unbounded_channel();
    let (ui_tx, ui_rx) = unbounded_channel();

    // A second launch on the same profile shows the first's window and ends here, before it
    // could start a second engine on the same store.
    let _instance = match instance::claim(&data_dir, actions_tx.clone()) {
        instance::Claim::First(guard) => guard,
        instance::Claim::HandedOver => {
            eprintln!(
                "mailiy-desktop: already running for {}; its window is shown",
                data_dir.display()
            );
            return Ok(());
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mailiy")
        .build()
        .context("cannot start the async runtime")?;
    // Tasks are spawned from this thread too (before and while GTK runs here).
    let _in_runtime = runtime.enter();
    // The window process starts first, beside the engine: it takes longest to be ready.
    let mut window = WindowHost::default();
    if !options.hidden {
        window.prepare(None);
    }
    let started = runtime
        .block_on(ports::start_engine(config, options.port_fallback_tries))
        .with_context(|| format!("cannot start the engine (data dir {})", data_dir.display()))?;
    let running = started.running;
    let engine = running.engine.clone();
    let notices: Vec<String> = started.moved.iter().map(|m| m.message()).collect();
    for n in &notices {
        eprintln!("mailiy-desktop: {n}");
    }
    let shell = Arc::new(Shell {
        origin: Mutex::new(ui_origin(engine.http_addr())),
        geometry: Mutex::new(stored_geometry(&engine)),
        engine,
        options,
        paused: AtomicBool::new(false),
        notices,
        outstanding: notify::Outstanding::default(),
        actions: actions_tx,
        ui: ui_tx,
    });

    runtime.spawn(handle_actions(shell.clone(), actions_rx, window));
    if !shell.options.hidden {
        shell.act(Action::Show(None));
    }
    let tray = tray::install(&shell);
    if shell.options.hidden && tray.is_none() {
        // Hidden with nowhere to be found: the window after all.
        shell.act(Action::Show(None));
    }
    if tray.is_some() {
        runtime.spawn(tray_feed::keep_current(shell.clone()));
    }
    notify::spawn(&runtime, &shell);
    runtime.spawn(follow_settings(shell.clone()));
    runtime.spawn(quit_on_signal(shell.clone()));
    if let Err(e) = autostart::apply(&shell) {
        tracing::warn!(error = %e, "start-at-login entry not updated");
    }
    notify::announce_notices(&shell);
    // One machine-readable line, as `mailiy serve` prints, for scripts that bind port 0.
    println!(
        "mailiy-desktop ready smtp={} http={} data={}",
        shell.engine.smtp_addr(),
        shell.engine.http_addr(),
        data_dir.display()
    );

    // GTK runs on this thread until Quit; the engine and every task run on the runtime.
    ui::run(tray, ui_rx);

    runtime.block_on(running.shutdown());
    Ok(())
}

/// The UI's origin for an HTTP listener address: a wildcard bind (LAN mode) is reached over
/// loopback, which the engine's Host check always accepts.
pub fn ui_origin(http: std::net::SocketAddr) -> url::Url {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match http.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let text = format!("http://{}/", std::net::SocketAddr::new(ip, http.port()));
    // A socket address always makes a valid URL.
    url::Url::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The app's one place that changes the window: actions arrive in order.
async fn handle_actions(
    shell: Arc<Shell>,
    mut actions: UnboundedReceiver<Action>,
    mut window: WindowHost,
) {
    loop {
        let next = match window.standby_until() {
            Some(deadline) => tokio::select! {
                action = actions.recv() => action,
                () = tokio::time::sleep_until(deadline) => {
                    window.end_standby().await;
                    continue;
                }
            },
            None => actions.recv().await,
        };
        let Some(action) = next else { return };
        match action {
            Action::Show(route) => window.show(&shell, route).await,
            Action::FollowOrigin => {
                window.send(&ToWindow::Origin(shell.origin())).await;
            }
            Action::WindowExited(pid) => {
                window.reap(pid).await;
                window.prepare(Some(shell.options.window_standby()));
            }
            Action::NewAddress => {
                tokio::spawn(new_address(shell.clone()));
            }
            Action::Quit => {
                window.close().await;
                shell.remember_geometry().await;
                shell.ui(UiCommand::Quit);
                return;
            }
        }
    }
}

/// New address: creates a mailbox with the default tier and lifetime, copies its address and
/// says so.
async fn new_address(shell: Arc<Shell>) {
    match shell.engine.create_mailbox(MailboxRequest::default()).await {
        Ok(m) => {
            shell.ui(UiCommand::Copy(m.address.clone()));
            notify::tell(&shell, notify::Note::address_copied(&m.address, &m.id));
        }
        Err(e) => notify::tell(
            &shell,
            notify::Note::failure("Cannot create an address", &e.to_string()),
        ),
    }
}

/// Follows settings changed in the UI: the HTTP port (the window moves with it) and start at login.
async fn follow_settings(shell: Arc<Shell>) {
    let mut settings = shell.engine.subscribe_settings();
    let mut last = settings.borrow_and_update().clone();
    while settings.changed().await.is_ok() {
        let now = settings.borrow_and_update().clone();
        if now.http != last.http {
            *lock(&shell.origin) = ui_origin(now.http);
            shell.act(Action::FollowOrigin);
        }
        if now.start_at_login != last.start_at_login {
            if let Err(e) = autostart::apply(&shell) {
                tracing::warn!(error = %e, "start-at-login entry not updated");
            }
        }
        last = now;
    }
}

/// SIGINT and SIGTERM quit like the tray's Quit: the engine stops cleanly.
async fn quit_on_signal(shell: Arc<Shell>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    shell.act(Action::Quit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_is_reached_over_loopback() {
        for (listener, origin) in [
            ("127.0.0.1:8025", "http://127.0.0.1:8025/"),
            ("0.0.0.0:8025", "http://127.0.0.1:8025/"),
            ("[::]:8025", "http://[::1]:8025/"),
        ] {
            assert_eq!(ui_origin(listener.parse().unwrap()).as_str(), origin);
        }
    }
}

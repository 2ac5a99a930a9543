//! `mailiy-desktop-window`: the inbox window, a Tauri webview on the engine's own UI. The app
//! (`mailiy-desktop`) keeps one of these processes ready: it starts without a window (GTK up,
//! no WebKit yet, a few MB), builds the webview when told to show it, and exits when the
//! window closes, so WebKit takes no memory while the app waits in the tray. It takes commands
//! on standard input and reports its geometry on standard output (`mailiy_desktop::protocol`).

// A release build on Windows is a GUI program: no console window behind it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod nav;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use mailiy_desktop::protocol::{FromWindow, Geometry, ToWindow};
use tauri::webview::NewWindowResponse;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use url::Url;

use nav::{navigation, open_external, opens_outside, Navigation};

const LABEL: &str = "main";

/// An inbox needs no GPU: WebKit is told to draw without compositing (its web process is about
/// 80 MB smaller) and to look for no render device for GPU buffers. Without that last pair,
/// WebKit loads the system's GL driver into this process just to find a device it will not use
/// here: 20 MB and about 100 ms on the path to the first paint with Mesa's software driver
/// (measured: README, Desktop).
#[cfg(target_os = "linux")]
pub const WEBKIT_TUNING: [(&str, &str); 3] = [
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
];

#[derive(Parser)]
#[command(
    name = "mailiy-desktop-window",
    version,
    about = "The Mailiy inbox window; started and steered by mailiy-desktop over standard input, not by hand"
)]
struct Args {
    /// Passed by WebKit's WebDriver when it launches a browser; nothing to do with it here
    #[arg(long, hide = true)]
    automation: bool,
}

fn main() -> ExitCode {
    let _args = Args::parse();
    #[cfg(target_os = "linux")]
    for (name, value) in WEBKIT_TUNING {
        // Set before any thread starts, so WebKit reads them and its processes inherit them.
        // The user's own values win.
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
    mailiy_desktop::init_logging();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailiy-desktop-window: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the app said about the window before it is built.
#[derive(Default)]
struct Plan {
    title: Option<String>,
    place: Option<Geometry>,
}

fn run() -> anyhow::Result<ExitCode> {
    let app = tauri::Builder::default().build(tauri::generate_context!())?;
    let handle = app.handle().clone();
    std::thread::Builder::new()
        .name("commands".into())
        .spawn(move || follow_commands(&handle))?;
    // No window until the first `show`; once built, its closing ends the process.
    let code = app.run_return(|_, _| {});
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn build(
    app: &AppHandle,
    origin: Arc<Mutex<Option<Url>>>,
    plan: &Plan,
    route: Option<&str>,
) -> anyhow::Result<WebviewWindow> {
    let started = std::time::Instant::now();
    let Some(mut url) = lock(&origin).clone() else {
        anyhow::bail!("told to show the window before its origin");
    };
    url.set_fragment(route.map(|r| r.trim_start_matches('#')));
    let mut builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::External(url))
        .title(plan.title.as_deref().unwrap_or("Mailiy"))
        .min_inner_size(380.0, 420.0)
        .on_navigation(move |url| {
            let Some(origin) = lock(&origin).clone() else {
                return false;
            };
            match navigation(url, &origin) {
                Navigation::Allow => true,
                Navigation::External => {
                    open_external(url);
                    false
                }
                Navigation::Block => {
                    tracing::warn!(scheme = url.scheme(), "navigation blocked");
                    false
                }
            }
        })
        .on_page_load(move |_, load| {
            tracing::debug!(
                ms = started.elapsed().as_millis(),
                event = ?load.event(),
                "page load"
            );
        })
        // `target=_blank` links (every link in a message): the system browser, never a
        // second app window.
        .on_new_window(|url, _features| {
            if opens_outside(&url) {
                open_external(&url);
            }
            NewWindowResponse::Deny
        });
    builder = match plan.place {
        Some(g) => builder.inner_size(g.width, g.height).position(g.x, g.y),
        None => builder.inner_size(1100.0, 720.0).center(),
    };
    let window = builder.build()?;
    tracing::debug!(ms = started.elapsed().as_millis(), "window built");
    if plan.place.is_some() && matches!(window.current_monitor(), Ok(None)) {
        // Remembered on a screen that is gone.
        window.center()?;
    }
    #[cfg(target_os = "linux")]
    lean_webkit(&window);
    report_geometry(&window);
    Ok(window)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// WebKit caches nothing here: the UI is local and fast, and a cache on disk could keep mail
/// after its mailbox expired. It also keeps the web process smaller.
#[cfg(target_os = "linux")]
fn lean_webkit(w: &WebviewWindow) {
    let _ = w.with_webview(|webview| {
        use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
        if let Some(context) = webview.inner().context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
}

/// Tells the app where the window is whenever it moves or is resized, so a reopened window
/// comes back in the same place.
fn report_geometry(w: &WebviewWindow) {
    let window = w.clone();
    w.on_window_event(move |event| {
        if matches!(event, WindowEvent::Moved(_) | WindowEvent::Resized(_)) {
            if let Some(g) = geometry_of(&window) {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(FromWindow::Geometry(g).to_line().as_bytes());
                let _ = out.flush();
            }
        }
    });
}

fn geometry_of(w: &WebviewWindow) -> Option<Geometry> {
    let scale = w.scale_factor().ok()?;
    let size = w.inner_size().ok()?.to_logical::<f64>(scale);
    let pos = w.outer_position().ok()?.to_logical::<f64>(scale);
    Some(Geometry {
        x: pos.x,
        y: pos.y,
        width: size.width,
        height: size.height,
    })
}

/// Reads the app's commands until its end of the pipe closes, then quits.
fn follow_commands(app: &AppHandle) {
    let origin: Arc<Mutex<Option<Url>>> = Arc::default();
    let mut plan = Plan::default();
    let mut code = 0;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let window = app.get_webview_window(LABEL);
        match ToWindow::parse(&line) {
            Some(ToWindow::Origin(url)) => {
                *lock(&origin) = Some(url.clone());
                if let Some(window) = window {
                    let _ = window.navigate(url);
                }
            }
            Some(ToWindow::Title(title)) => match window {
                Some(window) => {
                    let _ = window.set_title(&title);
                }
                None => plan.title = Some(title),
            },
            Some(ToWindow::Place(g)) => plan.place = Some(g),
            Some(ToWindow::Show { route }) => match window {
                Some(window) => {
                    if let Some(route) = route {
                        // The UI follows `hashchange`: no reload.
                        let hash = serde_json::Value::from(route).to_string();
                        let _ = window.eval(format!("location.hash = {hash};"));
                    }
                    let _ = window.unminimize();
                    let _ = window.show();
                    let _ = window.set_focus();
                }
                None => {
                    if let Err(e) = build(app, origin.clone(), &plan, route.as_deref()) {
                        tracing::error!(error = %e, "cannot build the window");
                        code = 1;
                        break;
                    }
                }
            },
            None => tracing::warn!("unknown command from the app ignored"),
        }
    }
    app.exit(code);
}

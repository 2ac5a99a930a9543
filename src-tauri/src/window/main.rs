//! `mailiy-desktop-window`: the inbox window, a Tauri webview on the engine's own UI. The app
//! (`mailiy-desktop`) starts it when the window is wanted and it exits when the window closes,
//! so WebKit takes no memory while the app waits in the tray. It takes commands on standard
//! input and reports its geometry on standard output (`mailiy_desktop::protocol`).

// A release build on Windows is a GUI program: no console window behind it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod nav;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use mailiy_desktop::protocol::{FromWindow, Geometry, ToWindow};
use tauri::webview::NewWindowResponse;
use tauri::{Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use url::Url;

use nav::{navigation, open_external, opens_outside, Navigation};

const LABEL: &str = "main";

#[derive(Parser)]
#[command(
    name = "mailiy-desktop-window",
    version,
    about = "The Mailiy inbox window; started by mailiy-desktop, not by hand"
)]
struct Args {
    /// The engine's UI (its HTTP origin)
    #[arg(long)]
    url: Url,
    /// A UI route to open (`#/mailbox/ID`)
    #[arg(long)]
    route: Option<String>,
    /// The window title
    #[arg(long, default_value = "Mailiy")]
    title: String,
    /// Where the window was last: x,y,width,height in logical pixels
    #[arg(long, value_parser = parse_geometry)]
    geometry: Option<Geometry>,
    /// Passed by WebKit's WebDriver when it launches a browser; nothing to do with it here
    #[arg(long, hide = true)]
    automation: bool,
}

fn parse_geometry(s: &str) -> Result<Geometry, String> {
    Geometry::parse_arg(s).ok_or_else(|| format!("{s:?} is not x,y,width,height"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // An inbox needs no GPU compositing; without it WebKit's web process is about 80 MB
        // smaller (measured: README, Desktop). Set before any thread starts, so it is read
        // by WebKit and inherited by its processes. The user's own value wins.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    mailiy_desktop::init_logging();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailiy-desktop-window: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let app = tauri::Builder::default().build(tauri::generate_context!())?;
    tracing::debug!(ms = started.elapsed().as_millis(), "window system up");
    let origin = Arc::new(Mutex::new(args.url.clone()));
    let window = build(&app, &args, origin.clone(), started)?;
    tracing::debug!(ms = started.elapsed().as_millis(), "window built");
    let handle = app.handle().clone();
    std::thread::Builder::new()
        .name("commands".into())
        .spawn(move || follow_commands(&handle, &origin))?;
    report_geometry(&window);
    let code = app.run_return(|_, _| {});
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn build(
    app: &tauri::App,
    args: &Args,
    origin: Arc<Mutex<Url>>,
    started: std::time::Instant,
) -> tauri::Result<WebviewWindow> {
    let mut url = args.url.clone();
    url.set_fragment(args.route.as_deref().map(|r| r.trim_start_matches('#')));
    let mut builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::External(url))
        .title(&args.title)
        .min_inner_size(380.0, 420.0)
        .on_navigation(move |url| {
            let origin = origin.lock().unwrap_or_else(|p| p.into_inner()).clone();
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
    builder = match args.geometry {
        Some(g) => builder.inner_size(g.width, g.height).position(g.x, g.y),
        None => builder.inner_size(1100.0, 720.0).center(),
    };
    let window = builder.build()?;
    if args.geometry.is_some() && matches!(window.current_monitor(), Ok(None)) {
        // Remembered on a screen that is gone.
        window.center()?;
    }
    #[cfg(target_os = "linux")]
    lean_webkit(&window);
    Ok(window)
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
fn follow_commands(app: &tauri::AppHandle, origin: &Mutex<Url>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(window) = app.get_webview_window(LABEL) else {
            continue;
        };
        match ToWindow::parse(&line) {
            Some(ToWindow::Show { route }) => {
                if let Some(route) = route {
                    // The UI follows `hashchange`: no reload.
                    let hash = serde_json::Value::from(route).to_string();
                    let _ = window.eval(format!("location.hash = {hash};"));
                }
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
            Some(ToWindow::Origin(url)) => {
                *origin.lock().unwrap_or_else(|p| p.into_inner()) = url.clone();
                let _ = window.navigate(url);
            }
            None => tracing::warn!("unknown command from the app ignored"),
        }
    }
    app.exit(0);
}

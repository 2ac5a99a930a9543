//! Is there a display to open a window on? GTK panics without one, so this is asked first.

/// What to do instead, printed after the reason.
pub const HEADLESS_HINT: &str = "Without a display, run the headless engine instead: \
`mailiy serve` (SMTP 127.0.0.1:1025, web UI and API http://127.0.0.1:8025; `mailiy serve --help`).";

/// `Ok` when a window can be opened here; otherwise why not.
#[cfg(target_os = "linux")]
pub fn check() -> Result<(), String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        return Err("no display: neither DISPLAY nor WAYLAND_DISPLAY is set.".into());
    }
    // A variable can name a display that is gone (a closed SSH X forward, a stopped Xvfb).
    // Initializing GTK here reports that as an error instead of a panic later; the window
    // system reuses this initialization.
    gtk::init().map_err(|_| {
        let name = std::env::var("WAYLAND_DISPLAY")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| std::env::var("DISPLAY").ok())
            .unwrap_or_default();
        format!("cannot open the display {name:?}.")
    })
}

/// macOS and Windows always have a display for a desktop app.
#[cfg(not(target_os = "linux"))]
pub fn check() -> Result<(), String> {
    Ok(())
}

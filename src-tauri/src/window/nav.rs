//! Where the window may go. It shows the engine's UI and the frames the UI builds; links out
//! of it open in the system browser (or mail client), never inside the app.

use url::Url;

/// What the window does with a navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// The UI itself, and the frames it builds (`about:srcdoc` for a message's HTML).
    Allow,
    /// A link out of the UI: opened by the desktop's handler, not here.
    External,
    /// Anything else (`file:`, `javascript:`, `data:` …): nowhere.
    Block,
}

/// Decides a navigation of the window or of a frame in it.
pub fn navigation(url: &Url, origin: &Url) -> Navigation {
    match url.scheme() {
        "about" if matches!(url.path(), "blank" | "srcdoc") => Navigation::Allow,
        "http" | "https" if url.origin() == origin.origin() => Navigation::Allow,
        _ if opens_outside(url) => Navigation::External,
        _ => Navigation::Block,
    }
}

/// Links the system may open: web pages and mail addresses.
pub fn opens_outside(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https" | "mailto")
}

/// Opens `url` with the desktop's handler (the system browser, the mail client).
pub fn open_external(url: &Url) {
    #[cfg(target_os = "linux")]
    let mut cmd = std::process::Command::new("xdg-open");
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    // The browser must not inherit this window's WebKit tuning.
    #[cfg(target_os = "linux")]
    for (name, _) in crate::WEBKIT_TUNING {
        cmd.env_remove(name);
    }
    cmd.arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    match cmd.spawn() {
        // Reaped on a thread of its own: the opener may live as long as the browser it starts.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::warn!(error = %e, "cannot start the system URL opener"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_window_stays_on_its_origin_and_links_leave() {
        let origin = url("http://127.0.0.1:8025/");
        for (target, expected) in [
            ("http://127.0.0.1:8025/#/mailbox/x", Navigation::Allow),
            (
                "http://127.0.0.1:8025/v1/mailbox/x/messages/y/raw",
                Navigation::Allow,
            ),
            ("about:srcdoc", Navigation::Allow),
            ("about:blank", Navigation::Allow),
            ("https://example.com/verify?t=1", Navigation::External),
            ("http://127.0.0.1:8026/", Navigation::External),
            ("http://localhost:8025/", Navigation::External),
            ("mailto:someone@example.com", Navigation::External),
            ("file:///etc/passwd", Navigation::Block),
            ("javascript:alert(1)", Navigation::Block),
            ("data:text/html,<b>x</b>", Navigation::Block),
            ("about:config", Navigation::Block),
        ] {
            assert_eq!(navigation(&url(target), &origin), expected, "{target}");
        }
    }
}

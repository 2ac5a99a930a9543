//! Settings the shell applies: start at login.

use std::time::Duration;

use serde_json::json;

use crate::support::{eventually, App, Desktop, APP};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn start_at_login_writes_and_removes_the_autostart_entry() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&desktop, data.path(), &[("MAILIY_START_HIDDEN", "true")]);
    let entry = desktop
        .home
        .path()
        .join("config/autostart/mailiy-desktop.desktop");
    assert!(!entry.exists());

    app.send_json("PATCH", "/v1/settings", json!({"startAtLogin": true}));
    let text = eventually(LONG, "the autostart entry", || {
        std::fs::read_to_string(&entry).ok()
    });
    assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
    // It starts this binary, hidden in the tray, on this profile.
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    let exe = std::fs::canonicalize(APP).unwrap();
    assert!(
        exec.starts_with(&format!("\"{}\" --hidden", exe.display())),
        "{exec}"
    );
    assert!(
        exec.ends_with(&format!("--data-dir \"{}\"", data.path().display())),
        "{exec}"
    );

    app.send_json("PATCH", "/v1/settings", json!({"startAtLogin": false}));
    eventually(LONG, "the entry removed", || {
        (!entry.exists()).then_some(())
    });
}

//! Starting up: without a display, with a port taken, and with two profiles.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use crate::support::{eventually, send_mail, App, Desktop, APP};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn without_a_display_it_says_so_and_points_to_mailiy_serve() {
    let data = tempfile::tempdir().unwrap();
    // No display at all, and a display that names no X server (a closed SSH forward).
    for display in [None, Some(":8917")] {
        let mut cmd = Command::new(APP);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", data.path())
            .env("MAILIY_DATA_DIR", data.path())
            .env("MAILIY_SMTP", "127.0.0.1:0")
            .env("MAILIY_HTTP", "127.0.0.1:0");
        if let Some(d) = display {
            cmd.env("DISPLAY", d);
        }
        let out = cmd.output().expect("run the app");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{display:?}: {stderr}");
        assert!(stderr.contains("mailiy serve"), "{display:?}: {stderr}");
        assert!(
            stderr.contains(if display.is_some() {
                "cannot open the display"
            } else {
                "no display"
            }),
            "{display:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{display:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no engine started: {:?}", out.stdout);
    }
}

#[test]
fn a_taken_port_moves_to_the_next_free_one_and_the_app_says_so() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let app = App::start(
        &desktop,
        data.path(),
        &[("MAILIY_SMTP", &format!("127.0.0.1:{taken}"))],
    );

    assert_ne!(app.smtp.port(), taken);
    assert!(
        app.smtp.port() > taken && app.smtp.port() <= taken + 20,
        "{}",
        app.smtp
    );
    let (_, address) = app.new_mailbox(serde_json::json!({}));
    send_mail(app.smtp, &address, "On the moved port", "hello");

    // Said in a notification, in the window's title and on stderr: which port, who holds it
    // (this test's process), what it uses instead, how to change it.
    let said = format!("SMTP port {taken} is taken (by ");
    let me = format!("pid {}", std::process::id());
    let note = desktop
        .notifications
        .wait_for(1, LONG)
        .into_iter()
        .find(|n| n.body.contains(&said))
        .expect("a notification about the port");
    assert!(note.body.contains(&me), "{note:?}");
    assert!(
        note.body.contains(&format!("uses {}", app.smtp.port())),
        "{note:?}"
    );
    assert!(note.body.contains("Settings"), "{note:?}");
    let x11 = desktop.x11();
    let window = eventually(LONG, "the window", || {
        x11.shown("Mailiy").into_iter().next()
    });
    assert!(
        window.title.contains(&said) && window.title.contains(&me),
        "{}",
        window.title
    );
    assert!(app.stderr().contains(&said), "{}", app.stderr());

    // The settings (and so the UI) show where SMTP really is.
    assert_eq!(
        app.get("/v1/settings")["smtp"],
        format!("127.0.0.1:{}", app.smtp.port())
    );
    drop(squatter);
}

#[test]
fn another_data_directory_is_another_profile_and_runs_beside_the_first() {
    let desktop = Desktop::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hidden = [("MAILIY_START_HIDDEN", "true")];
    let first = App::start(&desktop, one.path(), &hidden);
    let second = App::start(&desktop, two.path(), &hidden);
    assert_ne!(first.smtp, second.smtp);
    for app in [&first, &second] {
        let (_, address) = app.new_mailbox(serde_json::json!({}));
        send_mail(app.smtp, &address, "Hello", "profile");
        assert_eq!(
            app.get("/v1/settings")["dataDir"],
            app.data_dir.display().to_string()
        );
    }
}

//! The end-to-end run: the real app under Xvfb with a D-Bus session and a notification
//! server; WebDriver looks into the window.

use std::time::Duration;

use serde_json::json;

use crate::support::webdriver::{png_size, Driver};
use crate::support::{
    alive, eventually, free_port, gl_driver_mapped, send_mail, webkit_pids, App, Desktop, APP,
};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn inbox_window_live_mail_one_notification_tray_life_and_single_instance() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let mut app = App::start_command(desktop.automated(data.path(), inspector), data.path());
    let driver = Driver::start(&desktop, inspector);

    // The window shows the engine's own UI, and the UI says it has loaded its first data.
    let session = driver.session();
    session.wait_for(
        "return document.documentElement.dataset.ready === 'true'",
        LONG,
        "the UI's ready marker",
    );
    assert!(
        session.url().starts_with(&format!("http://{}/", app.http)),
        "{}",
        session.url()
    );
    let png = session.screenshot();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../desktop-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inbox.png"), &png).unwrap();
    let (w, h) = png_size(&png).expect("the screenshot is a PNG");
    assert!(
        w >= 380 && h >= 420,
        "a window-sized screenshot, not {w}x{h}"
    );
    assert_eq!(desktop.x11().shown("Mailiy").len(), 1, "one window");

    // The window's own process loads no GL driver (WebKit's GPU paths are off there); its web
    // process does, which shows the probe sees one where it is loaded.
    let window_pid = app.open_window_pids()[0];
    assert_eq!(gl_driver_mapped(window_pid), None);
    assert!(
        webkit_pids(window_pid)
            .into_iter()
            .any(|p| gl_driver_mapped(p).is_some()),
        "no WebKit process maps a GL driver: the probe is blind"
    );

    // A mail sent over SMTP shows up in the open window without a reload.
    let (mailbox, address) = app.new_mailbox(json!({}));
    session.exec(
        "window.__noReload = 1; location.hash = arguments[0]; return true",
        json!([format!("#/mailbox/{mailbox}")]),
    );
    // The window must know the new mailbox (its event, then the route) before the mail is
    // sent: a message for a mailbox it has not listed yet is not drawn (a race seen once).
    session.wait_for(
        &format!(
            "return (document.getElementById('mb-address') || {{}}).textContent === '{address}'"
        ),
        LONG,
        "the new mailbox open in the window",
    );
    send_mail(
        app.smtp,
        &address,
        "Your sign-in code is 482913",
        "BODY-TOKEN-7f3a: this text must never reach a notification",
    );
    session.wait_for(
        "return document.body.innerText.includes('Your sign-in code is 482913')",
        LONG,
        "the message in the list",
    );
    assert_eq!(
        session.exec("return window.__noReload", json!([])),
        json!(1),
        "no reload"
    );

    // Exactly one notification: sender and subject, never the body; Copy code; a click opens it.
    let calls = desktop.notifications.wait_for(1, LONG);
    std::thread::sleep(Duration::from_millis(2500)); // longer than the grouping window
    let calls_after = desktop.notifications.calls();
    assert_eq!(calls_after.len(), 1, "exactly one Notify: {calls_after:#?}");
    let n = &calls[0];
    assert_eq!(n.app_name, "Mailiy");
    assert_eq!(n.summary, "Alice Example");
    assert_eq!(n.body, "Your sign-in code is 482913");
    assert!(
        !n.all_text().contains("BODY-TOKEN"),
        "body text leaked: {n:?}"
    );
    assert!(
        n.has_action("copy-code") && n.has_action("default"),
        "{n:?}"
    );

    desktop.notifications.invoke(n.id, "copy-code");
    let x11 = desktop.x11();
    eventually(LONG, "the code on the clipboard", || {
        (x11.clipboard().as_deref() == Some("482913")).then_some(())
    });
    // A notification answers one action (then it is gone, as desktops do): a click on the
    // next one opens its message in the window.
    std::thread::sleep(Duration::from_millis(2100)); // a quiet spell: the next one is its own
    send_mail(app.smtp, &address, "Second message", "nothing secret");
    let second = desktop.notifications.wait_for(2, LONG)[1].clone();
    assert_eq!(second.body, "Second message");
    let message_id = app.get(&format!("/v1/mailbox/{mailbox}/messages"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    desktop.notifications.invoke(second.id, "default");
    session.wait_for(
        &format!("return location.hash === '#/mailbox/{mailbox}/message/{message_id}'"),
        LONG,
        "the click opening the message",
    );
    assert_eq!(
        session.exec("return window.__noReload", json!([])),
        json!(1)
    );

    // Closing the window leaves the app running with its SMTP port, and still notifying.
    let window = x11.shown("Mailiy").remove(0);
    let window_pid = app.open_window_pids()[0];
    x11.close(window.id);
    eventually(LONG, "the window process gone, and WebKit with it", || {
        (!alive(window_pid) && webkit_pids(app.pid()).is_empty()).then_some(())
    });
    // A standby window process (no WebKit) is ready for the next open.
    eventually(LONG, "a standby window process", || {
        (app.window_pids().len() == 1).then_some(())
    });
    assert!(app.open_window_pids().is_empty());
    // The X server drops a gone client's windows once it reads the closed connection.
    eventually(LONG, "no window shown", || {
        x11.shown("Mailiy").is_empty().then_some(())
    });
    assert!(app.is_running(), "the app lives on in the tray");
    send_mail(app.smtp, &address, "While hidden", "still accepted");
    desktop.notifications.wait_for(3, LONG);
    session.end();

    // A second launch starts no second engine: it shows the first one's window and exits.
    let second = desktop
        .command(APP, data.path())
        .output()
        .expect("second launch");
    assert!(second.status.success(), "{second:?}");
    assert!(
        !String::from_utf8_lossy(&second.stdout).contains("ready"),
        "a second engine started: {second:?}"
    );
    eventually(LONG, "the window shown again", || {
        (x11.shown("Mailiy").len() == 1).then_some(())
    });
    let session = driver.session();
    session.wait_for(
        "return document.documentElement.dataset.ready === 'true'",
        LONG,
        "the reopened window's ready marker",
    );
    session.end();
    assert_eq!(app.get("/v1/health")["smtp"], json!(app.smtp.to_string()));

    // Idle with the window open, the tray and the notifier attached: nothing reads the store
    // for 30 s (they wait on events, expiry sleeps to its deadline, webhooks wait for work).
    // The only query between the two scrapes is the first scrape's own count of mailboxes.
    std::thread::sleep(Duration::from_secs(2)); // the reopened page's first loads settle
    let before = store_queries(&app);
    std::thread::sleep(Duration::from_secs(30));
    assert_eq!(
        store_queries(&app) - before,
        1,
        "store queries while idle (beyond the scrape's own)"
    );

    // Quit (SIGTERM here) stops the engine cleanly and takes the window with it.
    let window_pid = app.window_pids()[0];
    let (status, stderr) = app.stop();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("engine stopped"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    eventually(LONG, "the window process gone with the app", || {
        (!alive(window_pid)).then_some(())
    });
}

/// `mailiy_store_queries_total` from `/metrics` (read before that scrape's own queries).
fn store_queries(app: &App) -> u64 {
    let text = ureq::get(&format!("http://{}/metrics", app.http))
        .call()
        .expect("GET /metrics")
        .into_string()
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("mailiy_store_queries_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no store query counter in /metrics:\n{text}"))
}

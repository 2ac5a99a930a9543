//! The window: links leave for the system browser and the window stays on the UI; it follows
//! a changed HTTP port; its size and position come back when it is reopened and after a restart.

use std::time::Duration;

use serde_json::json;

use crate::support::webdriver::{Driver, Session};
use crate::support::{alive, eventually, free_port, send_html, webkit_pids, App, Desktop, APP};

const LONG: Duration = Duration::from_secs(30);
const READY: &str = "return document.documentElement.dataset.ready === 'true'";

/// Stores an HTTP address in a profile, as the settings view would: not pinned, so it can be
/// changed while the app runs.
fn store_http_setting(data: &std::path::Path, addr: &str) {
    let store = mailiy::store::Store::open(data).expect("store");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(store.save_settings(vec![("http".into(), json!(addr).to_string())]))
        .expect("saved");
    store.close();
}

#[test]
fn links_open_in_the_system_browser_and_the_window_follows_its_port() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    store_http_setting(data.path(), &format!("127.0.0.1:{}", free_port()));
    let inspector = free_port();
    let app = {
        // MAILIY_HTTP would pin the port: the stored setting decides it.
        let mut cmd = desktop.automated(data.path(), inspector);
        cmd.env_remove("MAILIY_HTTP");
        App::start_command(cmd, data.path())
    };
    let driver = Driver::start(&desktop, inspector);
    let session = driver.session();
    session.wait_for(READY, LONG, "the UI");

    let (mailbox, address) = app.new_mailbox(json!({}));
    send_html(
        app.smtp,
        &address,
        "Verify your account",
        "<p>Please <a href=\"https://example.com/verify?t=123\">verify</a>.</p>",
    );
    let message = app.get(&format!("/v1/mailbox/{mailbox}/messages"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    session.exec(
        "location.hash = arguments[0]; return true",
        json!([format!("#/mailbox/{mailbox}/message/{message}")]),
    );
    session.wait_for(
        "return !!document.querySelector('iframe.mail-frame')",
        LONG,
        "the message's HTML",
    );
    let here = session.url();
    let verify_opened = || {
        let opened = desktop.opened_urls();
        opened
            .iter()
            .filter(|u| *u == "https://example.com/verify?t=123")
            .count()
    };

    // The link inside the message's HTML, clicked as a person would: the system browser, not
    // a window of the app (the frame's sandbox lets links open; the window does not follow).
    session.enter_frame("iframe.mail-frame");
    session.click("a");
    session.leave_frame();
    eventually(LONG, "the link in the HTML handed to xdg-open", || {
        (verify_opened() == 1).then_some(())
    });
    // The same link from the reader's Links tab: the system browser again.
    session.exec(
        "[...document.querySelectorAll('[role=tab]')]
           .find((t) => t.textContent.startsWith('Links')).click(); return true",
        json!([]),
    );
    session.wait_for(
        "return !!document.querySelector('ul.links a')",
        LONG,
        "the Links tab",
    );
    session.click("ul.links a");
    eventually(LONG, "the Links tab's link handed to xdg-open", || {
        (verify_opened() == 2).then_some(())
    });
    // A page trying to leave: the same; and never to a local file.
    session.exec(
        "location.href = 'file:///etc/passwd'; return true",
        json!([]),
    );
    session.exec(
        "location.href = 'https://example.com/away'; return true",
        json!([]),
    );
    eventually(LONG, "the page's way out handed to xdg-open", || {
        desktop
            .opened_urls()
            .contains(&"https://example.com/away".to_string())
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(session.url(), here, "the window never left the UI");
    assert!(!desktop.opened_urls().iter().any(|u| u.starts_with("file:")));
    assert_eq!(desktop.x11().shown("Mailiy").len(), 1, "no second window");

    // The HTTP port changed in the settings: the listener moves and the window with it.
    let new_port = free_port();
    app.send_json(
        "PATCH",
        "/v1/settings",
        json!({"http": format!("127.0.0.1:{new_port}")}),
    );
    eventually(LONG, "the window on the new port", || {
        session
            .url()
            .starts_with(&format!("http://127.0.0.1:{new_port}/"))
            .then_some(())
    });
    session.wait_for(READY, LONG, "the UI from the new port");
    session.end();
}

fn rect(session: &Session) -> (i64, i64) {
    let r = session.window_rect();
    (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap())
}

#[test]
fn the_window_comes_back_where_it_was_after_a_reopen_and_a_restart() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let app = {
        let mut cmd = desktop.automated(data.path(), inspector);
        cmd.env("MAILIY_WINDOW_STANDBY_SECS", "3");
        App::start_command(cmd, data.path())
    };
    let driver = Driver::start(&desktop, inspector);
    let session = driver.session();
    session.wait_for(READY, LONG, "the UI");
    session.set_window_rect(json!({"x": 40, "y": 30, "width": 820, "height": 610}));
    eventually(LONG, "the new size", || {
        (rect(&session) == (820, 610)).then_some(())
    });
    session.end();

    // Closed: its process ends and a standby one, running no WebKit, takes its place.
    let x11 = desktop.x11();
    let pid = app.open_window_pids()[0];
    x11.close(x11.shown("Mailiy")[0].id);
    eventually(LONG, "the window closed", || (!alive(pid)).then_some(()));
    let standby = eventually(LONG, "a standby window process", || {
        app.window_pids().first().copied()
    });
    assert!(webkit_pids(standby).is_empty());

    // Reopened by a second launch, in the standby process.
    let again = desktop
        .command(APP, data.path())
        .output()
        .expect("second launch");
    assert!(again.status.success(), "{again:?}");
    let session = driver.session();
    session.wait_for(READY, LONG, "the reopened UI");
    assert_eq!(app.open_window_pids(), vec![standby]);
    assert_eq!(rect(&session), (820, 610));
    let at = session.window_rect();
    assert_eq!(
        (at["x"].as_i64(), at["y"].as_i64()),
        (Some(40), Some(30)),
        "{at}"
    );
    session.end();

    // Closed again: the standby process waits its 3 seconds, then ends too.
    x11.close(x11.shown("Mailiy")[0].id);
    eventually(LONG, "the next standby process", || {
        app.window_pids()
            .first()
            .filter(|p| **p != standby)
            .copied()
    });
    eventually(
        LONG,
        "no window process once the standby time is over",
        || app.window_pids().is_empty().then_some(()),
    );

    // And after the app restarts: the geometry was kept in the store.
    let (status, _) = app.stop();
    assert!(status.success());
    let _app = App::start_command(desktop.automated(data.path(), inspector), data.path());
    let session = driver.session();
    session.wait_for(READY, LONG, "the UI after a restart");
    assert_eq!(rect(&session), (820, 610));
    session.end();
}

//! The tray, driven as a desktop panel drives it: over D-Bus (StatusNotifierItem and its
//! dbusmenu), with the window, the clipboard and notifications checked for real.

use std::time::Duration;

use serde_json::json;

use crate::support::webdriver::Driver;
use crate::support::{alive, eventually, free_port, send_mail, App, Desktop};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_tray_menu_creates_addresses_lists_mailboxes_opens_them_pauses_and_quits() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let app = {
        let mut cmd = desktop.automated(data.path(), inspector);
        cmd.env("MAILIY_START_HIDDEN", "true");
        App::start_command(cmd, data.path())
    };
    let tray = &desktop.tray;
    let item = tray.item(app.pid(), LONG);
    let x11 = desktop.x11();
    assert!(x11.shown("Mailiy").is_empty(), "started hidden in the tray");
    let menu = tray.menu(&item);
    assert!(
        menu.iter()
            .all(|e| e.enabled == (e.label != "No mailboxes yet")),
        "{menu:?}"
    );
    let labels: Vec<String> = menu.into_iter().map(|e| e.label).collect();
    assert_eq!(
        labels,
        [
            "New address",
            "No mailboxes yet",
            "Open inbox",
            "Pause notifications",
            "Pause intake (SMTP answers 421)",
            "Settings…",
            "Quit"
        ]
    );

    // Pause intake: the engine stops taking SMTP sessions, and a second click resumes.
    for paused in [true, false] {
        tray.click(&item, &tray.entry(&item, "Pause intake", LONG));
        eventually(LONG, "the intake switch", || {
            (app.get("/v1/intake")["paused"] == paused).then_some(())
        });
    }

    // New address: a mailbox, its address on the clipboard, and a notification saying so.
    tray.click(&item, &tray.entry(&item, "New address", LONG));
    let mailboxes = eventually(LONG, "a mailbox", || {
        let list = app.get("/v1/mailbox");
        (list.as_array().map_or(0, Vec::len) == 1).then_some(list)
    });
    let (id, address) = (
        mailboxes[0]["id"].as_str().unwrap().to_string(),
        mailboxes[0]["address"].as_str().unwrap().to_string(),
    );
    eventually(LONG, "the address on the clipboard", || {
        (x11.clipboard().as_deref() == Some(address.as_str())).then_some(())
    });
    let copied = desktop.notifications.wait_for(1, LONG).remove(0);
    assert_eq!(
        (copied.summary.as_str(), copied.body.as_str()),
        ("New address copied", address.as_str())
    );

    // Mail in: the count beside the icon, the mailbox line with its unread count and time left.
    send_mail(app.smtp, &address, "Counted", "in the tray");
    let line = tray.entry(&item, &address, LONG);
    eventually(LONG, "the unread count in the menu", || {
        let line = tray.entry(&item, &address, LONG);
        (line.label.contains("1 unread") && tray.label(&item) == "1").then_some(())
    });
    assert!(line.label.contains("min left"), "{line:?}");
    tray.entry(&item, "Open inbox (1 unread)", LONG);

    // A mailbox line opens the window at that mailbox.
    tray.click(&item, &tray.entry(&item, &address, LONG));
    let driver = Driver::start(&desktop, inspector);
    let session = driver.session();
    session.wait_for(
        &format!("return location.hash === '#/mailbox/{id}' && document.documentElement.dataset.ready === 'true'"),
        LONG,
        "the window at the mailbox",
    );
    session.end();

    // Pause notifications: mail arrives, nothing pops up; the item shows it is on.
    let before = desktop.notifications.calls().len();
    tray.click(&item, &tray.entry(&item, "Pause notifications", LONG));
    eventually(LONG, "the pause shown as checked", || {
        (tray.entry(&item, "Pause notifications", LONG).checked == Some(true)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(2200)); // out of the last grouping window
    send_mail(app.smtp, &address, "Quietly", "paused");
    eventually(LONG, "the second message stored", || {
        (app.get(&format!("/v1/mailbox/{id}"))["messageCount"] == json!(2)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        desktop.notifications.calls().len(),
        before,
        "paused means silent"
    );

    // Quit: the app and its window end, the engine stopped cleanly.
    let window = app.window_pids()[0];
    tray.click(&item, &tray.entry(&item, "Quit", LONG));
    let (status, stderr) = app.wait_for_exit(LONG);
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("engine stopped"), "{stderr}");
    eventually(LONG, "the window gone too", || {
        (!alive(window)).then_some(())
    });
}

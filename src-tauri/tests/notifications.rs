//! Notifications: grouped under a burst, the privacy setting, off means off, and the warning
//! before a mailbox with unread mail expires.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{send_mail, App, Desktop, Notify};

const LONG: Duration = Duration::from_secs(30);
const HIDDEN: (&str, &str) = ("MAILIY_START_HIDDEN", "true");
/// The app's default grouping window.
const GROUP: Duration = Duration::from_millis(2000);

/// How many messages a notification stands for: 1, or the N of "N new messages".
fn stands_for(n: &Notify) -> u64 {
    n.summary
        .strip_suffix(" new messages")
        .map_or(1, |count| count.parse().expect("a count"))
}

#[test]
fn a_hundred_mails_a_second_raise_one_notification_per_burst_window() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&desktop, data.path(), &[HIDDEN]);
    let (mailbox, address) = app.new_mailbox(json!({}));

    let total = 200u64;
    let started = Instant::now();
    for i in 0..total {
        // Paced at 100 a second.
        let due = started + Duration::from_millis(i * 10);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        send_mail(app.smtp, &address, &format!("Burst {i}"), "load");
    }
    let sending = started.elapsed();
    crate::support::eventually(LONG, "every message stored", || {
        (app.get(&format!("/v1/mailbox/{mailbox}"))["messageCount"] == json!(total)).then_some(())
    });
    // The last group is shown when its window ends.
    let calls = crate::support::eventually(LONG, "every message in some notification", || {
        let calls = desktop.notifications.calls();
        (calls.iter().map(stands_for).sum::<u64>() >= total).then_some(calls)
    });
    std::thread::sleep(GROUP * 2); // nothing more comes
    assert_eq!(
        calls.len(),
        desktop.notifications.calls().len(),
        "late extras"
    );
    let windows = sending.as_millis().div_ceil(GROUP.as_millis()) as usize;
    assert!(
        calls.len() <= windows + 2,
        "{} notifications for {total} mails in {sending:?}: {calls:#?}",
        calls.len()
    );
    assert!(calls.len() >= 2, "the burst was announced: {calls:#?}");
    assert_eq!(
        calls.iter().map(stands_for).sum::<u64>(),
        total,
        "every message counted once: {calls:#?}"
    );
    assert_eq!(calls[0].body, "Burst 0", "the first one at once, as itself");
}

#[test]
fn the_privacy_setting_hides_sender_and_subject_and_off_means_off() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    let app = App::start(&desktop, data.path(), &[HIDDEN]);
    let (_, address) = app.new_mailbox(json!({}));

    app.send_json(
        "PATCH",
        "/v1/settings",
        json!({"notifications": {"showSenderAndSubject": false}}),
    );
    send_mail(app.smtp, &address, "Secret project Zebra", "body");
    let n = desktop.notifications.wait_for(1, LONG).remove(0);
    assert_eq!((n.summary.as_str(), n.body.as_str()), ("New mail", ""));
    assert!(
        !n.all_text().contains("Zebra") && !n.all_text().contains("Alice"),
        "{n:?}"
    );

    app.send_json(
        "PATCH",
        "/v1/settings",
        json!({"notifications": {"enabled": false}}),
    );
    std::thread::sleep(GROUP + Duration::from_millis(200)); // out of the first one's window
    send_mail(app.smtp, &address, "Nobody hears this", "body");
    std::thread::sleep(GROUP + Duration::from_millis(500));
    assert_eq!(
        desktop.notifications.calls().len(),
        1,
        "{:#?}",
        desktop.notifications.calls()
    );
}

#[test]
fn a_mailbox_with_unread_mail_is_warned_about_before_it_expires() {
    let desktop = Desktop::start();
    let data = tempfile::tempdir().unwrap();
    // A one-minute warning, so a mailbox living 65 s is warned about 5 s in.
    let app = App::start(
        &desktop,
        data.path(),
        &[HIDDEN, ("MAILIY_EXPIRY_WARNING_MINUTES", "1")],
    );
    let expires = mailiy::clock::to_rfc3339(mailiy::clock::now_ms() + 65_000);
    let (_, unread) = app.new_mailbox(json!({"expiresAt": expires}));
    let (_, empty) = app.new_mailbox(json!({"expiresAt": expires}));
    send_mail(app.smtp, &unread, "Read me", "before it is gone");

    let calls = desktop.notifications.wait_for(2, LONG);
    let warnings: Vec<&Notify> = calls
        .iter()
        .filter(|n| n.summary.starts_with("Mailbox expires"))
        .collect();
    assert_eq!(warnings.len(), 1, "{calls:#?}");
    assert_eq!(warnings[0].summary, "Mailbox expires in 1 min");
    assert!(warnings[0].body.contains(&unread), "{:?}", warnings[0]);
    assert!(
        warnings[0].body.contains("1 unread message"),
        "{:?}",
        warnings[0]
    );
    assert!(
        !calls.iter().any(|n| n.body.contains(&empty)),
        "no warning without unread mail"
    );
    // Once per expiry.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(desktop.notifications.calls().len(), 2);
}

//! Live delivery to test suites: long-poll waits and the server-sent event stream.

use std::time::{Duration, Instant};

use crate::common::*;

fn send(s: &Server, to: &str, subject: &str, body: &str) {
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let r = c.deliver(
        "app@example.test",
        &[to],
        &simple_message("app@example.test", to, subject, body),
    );
    assert_eq!(code(&r), 250, "{r}");
}

#[test]
fn a_wait_answers_when_the_message_commits_and_not_before() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "waiter"}));
    let addr = "waiter@mailiy.localhost";
    let url = s.url(&format!("/v1/mailbox/{}/messages?wait=10", enc(addr)));
    let started = Instant::now();
    let waiter = std::thread::spawn(move || {
        let v: Value = ureq::get(&url).call().unwrap().into_json().unwrap();
        (v, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "nothing arrived yet: the wait must hold"
    );
    send(&s, addr, "Your code", "482913");
    let acked = Instant::now();
    let (list, answered) = waiter.join().unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["subject"], "Your code");
    assert!(
        answered >= acked - Duration::from_millis(50) && started.elapsed() < Duration::from_secs(5)
    );
}

#[test]
fn a_wait_returns_at_once_when_mail_is_already_there_and_filters_apply() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "filt"}));
    let addr = "filt@mailiy.localhost";
    send(&s, addr, "Welcome aboard", "hi");
    let t = Instant::now();
    let (_, list) = s.get(&format!(
        "/v1/mailbox/{}/messages?wait=10&subject=WELCOME",
        enc(addr)
    ));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(t.elapsed() < Duration::from_secs(2));
    // A filter that does not match waits for the right mail, and ignores the wrong one.
    let url = s.url(&format!(
        "/v1/mailbox/{}/messages?wait=10&subject=verify",
        enc(addr)
    ));
    let waiter = std::thread::spawn(move || {
        ureq::get(&url)
            .call()
            .unwrap()
            .into_json::<Value>()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    send(&s, addr, "Newsletter", "not it");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !waiter.is_finished(),
        "a non-matching message does not end the wait"
    );
    send(
        &s,
        addr,
        "Please verify your email",
        "https://example.test/v?t=1",
    );
    let list = waiter.join().unwrap();
    assert_eq!(list[0]["subject"], "Please verify your email");
    let (_, from) = s.get(&format!(
        "/v1/mailbox/{}/messages?from=APP%40EXAMPLE",
        enc(addr)
    ));
    assert_eq!(from.as_array().unwrap().len(), 3);
}

#[test]
fn a_wait_times_out_with_an_empty_list_and_after_skips_old_mail() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "slow"}));
    let addr = "slow@mailiy.localhost";
    send(&s, addr, "old", "x");
    let old = s.messages(addr)[0]["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let (st, list) = s.get(&format!(
        "/v1/mailbox/{}/messages?wait=1&after={old}",
        enc(addr)
    ));
    assert_eq!((st, list.as_array().unwrap().len()), (200, 0));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let (st, v) = s.get(&format!("/v1/mailbox/{}/messages?wait=61", enc(addr)));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("invalid_value"))
    );
}

#[test]
fn a_mailbox_that_expires_or_is_deleted_during_a_wait_ends_it_with_404() {
    let s = Server::start(&[]);
    let short = s.mailbox(json!({"localPart": "fleeting", "expiresAt": rfc3339_in(1500)}));
    let doomed = s.mailbox(json!({"localPart": "doomed"}));
    let wait = |id: &str| {
        let url = s.url(&format!("/v1/mailbox/{id}/messages?wait=20"));
        std::thread::spawn(move || {
            let started = Instant::now();
            let status = match ureq::get(&url).call() {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(code, _)) => code,
                Err(e) => panic!("{e}"),
            };
            (status, started.elapsed())
        })
    };
    let expiring = wait(short["id"].as_str().unwrap());
    let deleted = wait(doomed["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}", doomed["id"].as_str().unwrap())),
        204
    );
    let (status, took) = deleted.join().unwrap();
    assert_eq!(status, 404);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (status, took) = expiring.join().unwrap();
    assert_eq!(status, 404, "the wait ends when the mailbox expires");
    assert!(
        took < Duration::from_secs(10),
        "ended at expiry, not at the 20 s wait: {took:?}"
    );
}

#[test]
fn sse_pushes_each_event_and_filters_by_mailbox() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "a"}));
    let b = s.mailbox(json!({"localPart": "b"}));
    let mut all = SseClient::connect(s.http, "/v1/events", &[]);
    let mut only_b = SseClient::connect(s.http, "/v1/events?mailbox=b%40mailiy.localhost", &[]);
    assert_eq!((all.status, only_b.status), (200, 200));
    send(&s, "a@mailiy.localhost", "to a", "x");
    send(&s, "b@mailiy.localhost", "to b", "x");
    let e = all.next_named("message.received").unwrap();
    let v: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(v["message"]["subject"], "to a");
    assert!(e.id.is_some());
    let e = all.next_named("message.received").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&e.data).unwrap()["message"]["subject"],
        "to b"
    );
    let e = only_b.next().unwrap();
    assert_eq!(e.event, "message.received");
    let v: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(
        (v["mailboxId"].clone(), v["message"]["subject"].clone()),
        (b["id"].clone(), json!("to b"))
    );
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}", b["id"].as_str().unwrap())),
        204
    );
    assert_eq!(only_b.next().unwrap().event, "mailbox.deleted");
}

#[test]
fn sse_replays_what_a_client_missed_after_reconnecting() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "replay"}));
    let addr = "replay@mailiy.localhost";
    let mut first = SseClient::connect(s.http, "/v1/events", &[]);
    send(&s, addr, "one", "x");
    let seen = first.next_named("message.received").unwrap();
    drop(first);
    // Missed while disconnected.
    send(&s, addr, "two", "x");
    send(&s, addr, "three", "x");
    let last = seen.id.unwrap();
    let mut again = SseClient::connect(s.http, "/v1/events", &[("Last-Event-ID", &last)]);
    let subjects: Vec<String> = (0..2)
        .map(|_| {
            let e = again.next_named("message.received").unwrap();
            serde_json::from_str::<Value>(&e.data).unwrap()["message"]["subject"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(subjects, ["two", "three"]);
    // And it goes on live after the replay.
    send(&s, addr, "four", "x");
    let e = again.next_named("message.received").unwrap();
    assert!(e.data.contains("\"four\""));
}

#[test]
fn links_and_codes_are_extracted_from_the_message() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "signup"}));
    let addr = "signup@mailiy.localhost";
    send(
        &s,
        addr,
        "Confirm your account",
        "Your verification code is 482913.\r\nOr open https://app.example.test/verify?t=abc.\r\nCall +1 (415) 555-0100. (c) 2026",
    );
    let id = s.messages(addr)[0]["id"].as_str().unwrap().to_string();
    let (_, m) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(addr)));
    assert_eq!(m["codes"], json!(["482913"]));
    assert_eq!(m["links"], json!(["https://app.example.test/verify?t=abc"]));
}

#[test]
fn a_client_that_never_reads_blocks_neither_ingest_nor_other_clients() {
    let s = Server::start(&["--catch-all", "pro"]);
    // This client subscribes and then never reads a byte.
    let stalled = SseClient::connect(s.http, "/v1/events", &[]);
    let mut live = SseClient::connect(s.http, "/v1/events", &[]);
    const N: usize = 1000;
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let smtp = s.smtp;
            std::thread::spawn(move || {
                let mut c = Smtp::connect(smtp);
                c.cmd("EHLO flood");
                for i in 0..N / 4 {
                    let to = "flood@mailiy.localhost";
                    let r = c.deliver(
                        "a@b.test",
                        &[to],
                        &format!("Subject: f{t}-{i}\r\n\r\nx\r\n"),
                    );
                    assert_eq!(code(&r), 250, "{r}");
                }
            })
        })
        .collect();
    let mut received = 0;
    while received < N {
        let e = live
            .next()
            .expect("the reading client keeps getting events");
        if e.event == "message.received" {
            received += 1;
        }
    }
    for t in senders {
        t.join().unwrap();
    }
    let (_, all) = s.get("/v1/messages?limit=1");
    assert_eq!(
        all["count"], N,
        "every message stored while a client stalled"
    );
    drop(stalled);
}

#[test]
fn reading_a_message_announces_it_seen_once_with_the_mailboxs_new_counts() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "reader"}));
    let addr = "reader@mailiy.localhost";
    send(&s, addr, "Read me", "hello");
    let id = s.messages(addr)[0]["id"].as_str().unwrap().to_string();
    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    let (status, _) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(addr)));
    assert_eq!(status, 200);
    let seen = events.next().expect("an event");
    assert_eq!(seen.event, "message.seen");
    let data: Value = serde_json::from_str(&seen.data).unwrap();
    assert_eq!(data, json!({"mailboxId": m["id"], "messageId": id}));
    let updated = events.next().expect("an event");
    assert_eq!(updated.event, "mailbox.updated");
    let data: Value = serde_json::from_str(&updated.data).unwrap();
    assert_eq!(data["mailbox"]["unreadCount"], 0);
    assert_eq!(data["mailbox"]["messageCount"], 1);
    // Read again: nothing changed, nothing is announced (the next event is the delete's).
    s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(addr)));
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}/messages/{id}", enc(addr))),
        204
    );
    assert_eq!(events.next().expect("an event").event, "message.deleted");
    let after_delete = events.next().expect("an event");
    assert_eq!(after_delete.event, "mailbox.updated");
    let data: Value = serde_json::from_str(&after_delete.data).unwrap();
    assert_eq!(data["mailbox"]["messageCount"], 0);
}

#[test]
fn an_extended_mailbox_is_announced_with_its_new_expiry() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "longer", "ttlMinutes": 10}));
    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    let (status, extended) = s.patch(
        &format!("/v1/mailbox/{}", m["id"].as_str().unwrap()),
        json!({"extendMinutes": 5}),
    );
    assert_eq!(status, 200, "{extended}");
    let e = events.next().expect("an event");
    assert_eq!(e.event, "mailbox.updated");
    let data: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(data["mailbox"]["expiresAt"], extended["expiresAt"]);
    assert_ne!(data["mailbox"]["expiresAt"], m["expiresAt"]);
}

#[test]
fn a_mailbox_is_announced_as_expiring_once_its_warning_time_comes_and_not_before() {
    let s = Server::start(&["--expiry-warning-minutes", "1"]);
    // Lives 64 s: its warning is due 4 s after creation. One that lives under a minute in all
    // is never announced (it would be "expiring" at birth).
    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    let soon = s.mailbox(json!({"localPart": "soon", "expiresAt": rfc3339_in(64_000)}));
    let short = s.mailbox(json!({"localPart": "short", "expiresAt": rfc3339_in(50_000)}));
    let created = Instant::now();
    let e = events
        .next_named("mailbox.expiring")
        .expect("mailbox.expiring");
    let waited = created.elapsed();
    let data: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(data["mailbox"]["id"], soon["id"]);
    assert!(
        waited >= Duration::from_millis(3_000),
        "announced {waited:?} after creation, before its warning time"
    );
    // Not again for the same expiry, and never for the short-lived one (both within 3 s).
    let mut rest = SseClient::connect(s.http, "/v1/events", &[]);
    std::thread::sleep(Duration::from_secs(3));
    s.post("/v1/mailbox", json!({"localPart": "marker"}));
    let next = rest.next().expect("the marker's event");
    assert_eq!(next.event, "mailbox.created", "{}", next.data);
    assert!(!next.data.contains(short["id"].as_str().unwrap()));
}

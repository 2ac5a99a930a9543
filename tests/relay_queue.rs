//! The automatic relay's durable queue, through real servers: a relay that is down for a while
//! gets every message once it is up, a `kill -9` with queued relays loses none of them, a
//! message deleted before its relay is never sent and leaves no row, and a fast burst is
//! matched message by message against the query.

use std::time::{Duration, Instant};

use crate::common::*;

/// Like `eventually`, with a longer bound: retries back off and bursts take a while.
fn within<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback address nothing listens on (yet): the relay that is down.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn deliveries(s: &Server) -> Vec<Value> {
    let (st, v) = s.get("/v1/relay/deliveries?limit=1000");
    assert_eq!(st, 200, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

/// Messages in a mailbox; 0 before catch-all made it.
fn arrived(s: &Server, mailbox: &str) -> u64 {
    let (_, m) = s.get(&format!("/v1/mailbox/{}", enc(mailbox)));
    m["messageCount"].as_u64().unwrap_or(0)
}

fn send_all(s: &Server, to: &str, subjects: &[String]) -> Vec<String> {
    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO queue.test")), 250);
    subjects
        .iter()
        .map(|subject| {
            let body = simple_message("shop@example.test", to, subject, "relay me");
            let r = c.deliver("shop@example.test", &[to], &body);
            assert!(r.starts_with("250"), "{r}");
            r.trim().rsplit(' ').next().unwrap().to_string()
        })
        .collect()
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

fn auto_relay_to<'a>(relay: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--catch-all",
        "pro",
        "--smtp-relay",
        relay,
        "--smtp-relay-backoff-max",
        "1",
        "--smtp-relay-timeout",
        "5",
    ];
    args.extend_from_slice(extra);
    args
}

/// Every job has been tried against the down relay and waits for the next attempt.
fn all_waiting(s: &Server, n: usize) {
    within(20, &format!("{n} jobs tried and pending"), || {
        let d = deliveries(s);
        let waiting = d.iter().filter(|j| {
            j["state"] == "pending"
                && j["attempts"].as_u64().unwrap() >= 1
                && j["lastError"].as_str().is_some()
                && j["nextAttemptAt"].as_str().is_some()
        });
        (d.len() == n && waiting.count() == n).then_some(())
    });
}

#[test]
fn a_relay_down_for_a_while_gets_every_message_once_it_is_up() {
    let relay = free_addr();
    let s = Server::start(&auto_relay_to(&relay, &["--smtp-relay-auto", "all"]));
    let sent = numbered("while down", 10);
    send_all(&s, "ann@dest.test", &sent);
    all_waiting(&s, 10);
    // Down for several retries, not only the first.
    within(20, "a third attempt", || {
        deliveries(&s)
            .iter()
            .all(|j| j["attempts"].as_u64().unwrap() >= 3)
            .then_some(())
    });
    let target = Server::start_custom_smtp(&relay, &["--catch-all", "pro"]);
    within(30, "all ten relayed", || {
        (arrived(&target, "ann@dest.test") == 10).then_some(())
    });
    let mut want = sent.clone();
    want.sort();
    assert_eq!(subjects(&target, "ann@dest.test"), want);
    within(10, "every job marked sent", || {
        let d = deliveries(&s);
        d.iter()
            .all(|j| j["state"] == "sent" && j["response"].as_str().unwrap().starts_with("250"))
            .then_some(())
    });
    // The copies here stay.
    assert_eq!(s.messages("ann@dest.test").len(), 10);
}

#[test]
fn kill_9_with_queued_relays_loses_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let relay = free_addr();
    let args = auto_relay_to(&relay, &["--smtp-relay-auto", "all"]);
    let s = Server::start_in(dir.path(), &args);
    let sent = numbered("before the kill", 30);
    send_all(&s, "bob@dest.test", &sent);
    all_waiting(&s, 30);
    s.kill9();

    let target = Server::start_custom_smtp(&relay, &["--catch-all", "pro"]);
    let s = Server::start_in(dir.path(), &args);
    within(40, "all thirty relayed after the restart", || {
        (arrived(&target, "bob@dest.test") >= 30).then_some(())
    });
    let mut want = sent.clone();
    want.sort();
    assert_eq!(
        subjects(&target, "bob@dest.test"),
        want,
        "each exactly once"
    );
    within(10, "every job marked sent", || {
        deliveries(&s)
            .iter()
            .all(|j| j["state"] == "sent")
            .then_some(())
    });
}

#[test]
fn a_message_deleted_before_its_relay_is_never_sent_and_leaves_no_row() {
    let relay = free_addr();
    let s = Server::start(&auto_relay_to(&relay, &["--smtp-relay-auto", "all"]));
    let ids = send_all(&s, "cy@dest.test", &numbered("private", 2));
    let gone = &ids[0];
    all_waiting(&s, 2);
    let path = format!("/v1/mailbox/{}/messages/{gone}", enc("cy@dest.test"));
    assert_eq!(s.delete(&path), 204);
    let d = deliveries(&s);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["messageId"], ids[1].as_str());
    // The file itself holds one job, of the message that stays.
    let db = rusqlite::Connection::open_with_flags(
        s.data_dir.join("mailiy.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM relay_job", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    drop(db);

    let target = Server::start_custom_smtp(&relay, &["--catch-all", "pro"]);
    within(20, "the kept message relayed", || {
        (arrived(&target, "cy@dest.test") == 1).then_some(())
    });
    assert_eq!(subjects(&target, "cy@dest.test"), ["private 1"]);
    // Well past the next retry: the deleted one never follows.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(arrived(&target, "cy@dest.test"), 1);
}

#[test]
fn a_fast_burst_of_500_matching_messages_is_relayed_whole_and_nothing_else() {
    let target = Server::start(&["--catch-all", "pro"]);
    let relay = target.smtp.to_string();
    let s = Server::start(&auto_relay_to(
        &relay,
        &["--smtp-relay-auto", "subject:invoice"],
    ));
    const SESSIONS: usize = 5;
    let started = Instant::now();
    let senders: Vec<_> = (0..SESSIONS)
        .map(|t| {
            let smtp = s.smtp;
            std::thread::spawn(move || {
                let mut c = Smtp::connect(smtp);
                assert_eq!(code(&c.cmd("EHLO burst.test")), 250);
                for i in 0..120 {
                    // Every sixth is a newsletter: 100 of them, 500 invoices.
                    let subject = if i % 6 == 5 {
                        format!("newsletter {t}-{i}")
                    } else {
                        format!("invoice {t}-{i}")
                    };
                    let body = simple_message("shop@example.test", "dee@dest.test", &subject, "x");
                    let r = c.deliver("shop@example.test", &["dee@dest.test"], &body);
                    assert!(r.starts_with("250"), "{r}");
                }
            })
        })
        .collect();
    for t in senders {
        t.join().unwrap();
    }
    let accepted = started.elapsed();
    assert_eq!(
        s.get(&format!("/v1/mailbox/{}", enc("dee@dest.test"))).1["messageCount"],
        600
    );
    within(120, "500 invoices relayed", || {
        (arrived(&target, "dee@dest.test") == 500).then_some(())
    });
    let relayed = started.elapsed();
    let (st, list) = target.get(&format!(
        "/v1/mailbox/{}/messages?limit=1000",
        enc("dee@dest.test")
    ));
    assert_eq!(st, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 500);
    assert!(list
        .iter()
        .all(|m| m["subject"].as_str().unwrap().starts_with("invoice ")));
    // The newsletters' jobs were dropped, not kept as pending or failed.
    let d = deliveries(&s);
    assert_eq!(d.len(), 500);
    assert!(d.iter().all(|j| j["state"] == "sent"));
    eprintln!(
        "relay burst: 600 accepted in {:.1} s, 500 relayed by {:.1} s",
        accepted.as_secs_f64(),
        relayed.as_secs_f64()
    );
}

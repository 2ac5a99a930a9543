//! Release and automatic relay into a second real `mailiy serve`: what arrives is the stored
//! message byte for byte, under our two trace lines; loops are refused; a relay that is down
//! gives a clear error and the message stays.

use std::path::PathBuf;

use crate::common::*;

fn corpus(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Sends raw bytes over SMTP as they are (dot-stuffed), as a real client would.
fn deliver_raw(s: &Server, from: &str, to: &str, raw: &[u8]) {
    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO relay.test")), 250);
    assert_eq!(code(&c.cmd(&format!("MAIL FROM:<{from}>"))), 250);
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{to}>"))), 250);
    assert_eq!(code(&c.cmd("DATA")), 354);
    c.send(&stuff_raw(raw));
    let r = c.cmd(".");
    assert_eq!(code(&r), 250, "{r}");
}

fn raw_of(s: &Server, mailbox: &str, id: &str) -> Vec<u8> {
    let (st, raw, _) = s.get_bytes(&format!("/v1/mailbox/{}/messages/{id}/raw", enc(mailbox)));
    assert_eq!(st, 200);
    raw
}

fn release(s: &Server, mailbox: &str, id: &str, body: Value) -> (u16, Value) {
    s.post(
        &format!("/v1/mailbox/{}/messages/{id}/release", enc(mailbox)),
        body,
    )
}

/// The message without the trace lines a release put on top: `Received:` then
/// `X-Mailiy-Released:`, each one line.
fn without_trace(raw: &[u8]) -> &[u8] {
    let text = raw;
    let line_end = |from: usize| {
        text[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p + 2)
            .expect("a trace line")
    };
    assert!(
        text.starts_with(b"Received: by "),
        "{}",
        String::from_utf8_lossy(&text[..80])
    );
    let second = line_end(0);
    assert!(text[second..].starts_with(b"X-Mailiy-Released: "));
    &text[line_end(second)..]
}

/// Byte equality, reported as where the two first differ (a message is too long to print).
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let show = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 40).min(b.len())]).into_owned()
        };
        panic!(
            "{what}: {} bytes arrived, {} stored, first difference at {at}:\n got  {:?}\n want {:?}",
            got.len(), want.len(), show(got), show(want)
        );
    }
}

fn only_message(s: &Server, mailbox: &str) -> Value {
    eventually(&format!("a message in {mailbox}"), || {
        // 404 until catch-all makes the mailbox with the first message.
        let (_, list) = s.get(&format!("/v1/mailbox/{}/messages", enc(mailbox)));
        let list = list.as_array().cloned().unwrap_or_default();
        (list.len() == 1).then(|| list[0].clone())
    })
}

#[test]
fn a_released_message_arrives_byte_for_byte_under_the_trace_lines() {
    let target = Server::start(&["--catch-all", "anon"]);
    let relay = target.smtp.to_string();
    let s = Server::start(&["--smtp-relay", &relay, "--smtp-relay-allow", "*@dest.test"]);
    let inbox = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    for (n, path) in [
        "real/flanker/mailgun-pic.eml",
        "real/spamassassin/sample-nonspam.eml",
    ]
    .iter()
    .enumerate()
    {
        deliver_raw(&s, "sender@example.test", &inbox, &corpus(path));
        let id = eventually("stored", || {
            let list = s.messages(&inbox);
            (list.len() == n + 1).then(|| list[0]["id"].as_str().unwrap().to_string())
        });
        let to = format!("copy{n}@dest.test");
        let (st, v) = release(&s, &inbox, &id, json!({"to": [to]}));
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["to"], json!([to]));
        assert!(v["response"].as_str().unwrap().starts_with("250"), "{v}");
        let arrived = only_message(&target, &to);
        let got = raw_of(&target, &to, arrived["id"].as_str().unwrap());
        let stored = raw_of(&s, &inbox, &id);
        assert_same(without_trace(&got), &stored, path);
        let (_, env) = target.get(&format!(
            "/v1/mailbox/{}/messages/{}",
            enc(&to),
            arrived["id"].as_str().unwrap()
        ));
        assert_eq!(env["envelope"]["mailFrom"], "sender@example.test", "{env}");
    }
    // Outside the allow list: refused before anything is sent.
    let id = s.messages(&inbox)[0]["id"].as_str().unwrap().to_string();
    let (st, v) = release(&s, &inbox, &id, json!({"to": ["someone@elsewhere.test"]}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("recipient_not_allowed"))
    );
    let (st, _) = release(&s, &inbox, &id, json!({"to": []}));
    assert_eq!(st, 422);
}

#[test]
fn automatic_relay_sends_what_matches_the_query_only() {
    let target = Server::start(&["--catch-all", "anon"]);
    let relay = target.smtp.to_string();
    let s = Server::start(&[
        "--catch-all",
        "anon",
        "--smtp-relay",
        &relay,
        "--smtp-relay-auto",
        "subject:invoice",
    ]);
    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO shop.test")), 250);
    let skip = simple_message("shop@example.test", "ann@dest.test", "Newsletter", "no");
    assert!(c
        .deliver("shop@example.test", &["ann@dest.test"], &skip)
        .starts_with("250"));
    let send = simple_message(
        "shop@example.test",
        "ann@dest.test",
        "Your invoice 42",
        "yes",
    );
    assert!(c
        .deliver("shop@example.test", &["ann@dest.test"], &send)
        .starts_with("250"));
    let arrived = only_message(&target, "ann@dest.test");
    assert_eq!(arrived["subject"], "Your invoice 42");
    let here = s
        .messages("ann@dest.test")
        .into_iter()
        .find(|m| m["subject"] == "Your invoice 42")
        .expect("kept here too");
    let got = raw_of(&target, "ann@dest.test", arrived["id"].as_str().unwrap());
    let stored = raw_of(&s, "ann@dest.test", here["id"].as_str().unwrap());
    assert_same(without_trace(&got), &stored, "the invoice");
    // The newsletter never went: a later matching message is the proof the worker kept up.
    let again = simple_message("shop@example.test", "ann@dest.test", "invoice 43", "yes");
    assert!(c
        .deliver("shop@example.test", &["ann@dest.test"], &again)
        .starts_with("250"));
    eventually("the second invoice", || {
        (target.messages("ann@dest.test").len() == 2).then_some(())
    });
    assert_eq!(
        subjects(&target, "ann@dest.test"),
        ["Your invoice 42", "invoice 43"]
    );
}

#[test]
fn loops_are_refused_our_own_listener_and_our_own_trace() {
    // A relay that is this server's own SMTP listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let own = format!("127.0.0.1:{port}");
    let s = Server::start_custom_smtp(&own, &["--smtp-relay", &format!("localhost:{port}")]);
    let inbox = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(&s, "a@example.test", &inbox, b"Subject: loop\r\n\r\nx\r\n");
    let id = only_message(&s, &inbox)["id"].as_str().unwrap().to_string();
    let (st, v) = release(&s, &inbox, &id, json!({"to": ["b@dest.test"]}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("relay_loop")),
        "{v}"
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("own SMTP listener"));

    // A message that comes back carrying our own trace line is not sent on again.
    let target = Server::start(&["--catch-all", "anon"]);
    let a = Server::start(&["--smtp-relay", &target.smtp.to_string()]);
    let inbox = a.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(
        &a,
        "a@example.test",
        &inbox,
        b"Subject: round trip\r\n\r\nx\r\n",
    );
    let id = only_message(&a, &inbox)["id"].as_str().unwrap().to_string();
    assert_eq!(
        release(&a, &inbox, &id, json!({"to": ["back@dest.test"]})).0,
        200
    );
    let back = only_message(&target, "back@dest.test");
    let returned = raw_of(&target, "back@dest.test", back["id"].as_str().unwrap());
    let second = a.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(&a, "a@example.test", &second, &returned);
    let id = only_message(&a, &second)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = release(&a, &second, &id, json!({"to": ["back@dest.test"]}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("relay_loop")),
        "{v}"
    );
    assert_eq!(target.messages("back@dest.test").len(), 1);
}

#[test]
fn a_relay_that_is_down_gives_a_clear_error_and_keeps_the_message() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = free.local_addr().unwrap().to_string();
    drop(free);
    let s = Server::start(&["--smtp-relay", &down, "--smtp-relay-timeout", "5"]);
    let inbox = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(&s, "a@example.test", &inbox, b"Subject: stays\r\n\r\nx\r\n");
    let id = only_message(&s, &inbox)["id"].as_str().unwrap().to_string();
    let before = raw_of(&s, &inbox, &id);
    let (st, v) = release(&s, &inbox, &id, json!({"to": ["b@dest.test"]}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (502, Some("relay_failed")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&down),
        "{v}"
    );
    assert_eq!(raw_of(&s, &inbox, &id), before);

    // Without a relay the route says how to set one.
    let plain = Server::start(&[]);
    let inbox = plain.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(&plain, "a@example.test", &inbox, b"Subject: x\r\n\r\nx\r\n");
    let id = only_message(&plain, &inbox)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = release(&plain, &inbox, &id, json!({"to": ["b@dest.test"]}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("relay_not_configured"))
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--smtp-relay"));
}

#[test]
fn release_over_starttls_with_the_targets_certificate() {
    let target = Server::start(&["--catch-all", "anon", "--smtp-require-tls"]);
    let ca = target.data_dir.join("tls-cert.pem");
    let relay = format!("localhost:{}", target.smtp.port());
    let s = Server::start(&[
        "--smtp-relay",
        &relay,
        "--smtp-relay-starttls",
        "--smtp-relay-tls-ca",
        ca.to_str().unwrap(),
        "--smtp-relay-user",
        "app",
        "--smtp-relay-password",
        "secret",
    ]);
    // A mailbox of its own: else the AUTH user's inbox would take it.
    target.mailbox(json!({"localPart": "tls", "domain": "dest.test"}));
    let inbox = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    deliver_raw(
        &s,
        "a@example.test",
        &inbox,
        b"Subject: secure\r\n\r\nx\r\n",
    );
    let id = only_message(&s, &inbox)["id"].as_str().unwrap().to_string();
    let (st, v) = release(&s, &inbox, &id, json!({"to": ["tls@dest.test"]}));
    assert_eq!(st, 200, "{v}");
    let arrived = only_message(&target, "tls@dest.test");
    let (_, full) = target.get(&format!(
        "/v1/mailbox/{}/messages/{}",
        enc("tls@dest.test"),
        arrived["id"].as_str().unwrap()
    ));
    assert!(full["envelope"]["tls"].is_object(), "{full}");
    assert_eq!(full["envelope"]["authUser"], "app", "{full}");
}

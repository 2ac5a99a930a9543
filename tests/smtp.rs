//! The SMTP listener over real TCP: replies, caps, smuggling, limits.

use crate::common::*;

fn server_with_box(extra: &[&str], body: Value) -> (Server, String) {
    let s = Server::start(extra);
    let m = s.mailbox(body);
    let addr = m["address"].as_str().unwrap().to_string();
    (s, addr)
}

#[test]
fn ehlo_advertises_the_required_extensions() {
    let s = Server::start(&[]);
    let mut c = s.smtp();
    let r = c.cmd("EHLO client.test");
    for ext in [
        "SIZE 52428800",
        "8BITMIME",
        "PIPELINING",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(r.contains(ext), "EHLO lacks {ext}: {r}");
    }
    // `--smtp-auth any` by default on loopback: an app's real config works unchanged.
    assert!(
        r.contains("AUTH PLAIN LOGIN CRAM-MD5"),
        "AUTH is on by default: {r}"
    );
    assert_eq!(code(&c.cmd("QUIT")), 221);
}

#[test]
fn delivers_to_a_live_mailbox_and_refuses_unknown_at_rcpt() {
    let (s, addr) = server_with_box(&[], json!({"localPart": "alice"}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert_eq!(code(&c.cmd("MAIL FROM:<app@example.test>")), 250);
    let r = c.cmd("RCPT TO:<nobody@mailiy.localhost>");
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // Case-insensitive address match.
    assert_eq!(code(&c.cmd("RCPT TO:<ALICE@Mailiy.Localhost>")), 250);
    assert_eq!(code(&c.cmd("DATA")), 354);
    c.send(simple_message("app@example.test", &addr, "hello", "body").as_bytes());
    let r = c.cmd(".");
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let list = s.messages(&addr);
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["size"].as_u64().unwrap() as usize,
        simple_message("app@example.test", &addr, "hello", "body").len()
    );
}

#[test]
fn null_sender_and_size_parameter_are_accepted() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert_eq!(code(&c.cmd("MAIL FROM:<> SIZE=1000")), 250);
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{addr}>"))), 250);
    assert_eq!(code(&c.cmd("DATA")), 354);
    c.send(b"Subject: bounce\r\n\r\nDelivery report\r\n.\r\n");
    assert_eq!(code(&c.reply()), 250);
    assert_eq!(s.messages(&addr).len(), 1);
}

#[test]
fn declared_size_over_the_cap_is_refused_before_data() {
    let (s, anon) = server_with_box(&[], json!({"tier": "anon"}));
    let pro = s.mailbox(json!({"tier": "pro"}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    // Over the largest cap of any tier: refused at MAIL.
    let r = c.cmd(&format!("MAIL FROM:<a@b.test> SIZE={}", 51 * 1024 * 1024));
    assert!(r.starts_with("552 5.3.4"), "{r}");
    // 6 MiB: fine for pro, over anon's 5 MiB: refused at that RCPT.
    assert_eq!(
        code(&c.cmd(&format!("MAIL FROM:<a@b.test> SIZE={}", 6 * 1024 * 1024))),
        250
    );
    let r = c.cmd(&format!("RCPT TO:<{anon}>"));
    assert!(r.starts_with("552 5.3.4"), "{r}");
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{pro}>"))), 250);
}

#[test]
fn oversized_data_is_refused_with_552_and_the_session_goes_on() {
    let (s, addr) = server_with_box(
        &["--anon-max-message", "64KiB", "--anon-max-storage", "1MiB"],
        json!({}),
    );
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<a@b.test>");
    c.cmd(&format!("RCPT TO:<{addr}>"));
    assert_eq!(code(&c.cmd("DATA")), 354);
    let line = "x".repeat(998) + "\r\n";
    c.send(b"Subject: big\r\n\r\n");
    for _ in 0..200 {
        c.send(line.as_bytes()); // ~200 KB, over the 64 KiB cap
    }
    c.send(b".\r\n");
    let r = c.reply();
    assert!(r.starts_with("552 5.3.4"), "{r}");
    assert!(s.messages(&addr).is_empty());
    // The session is still usable.
    let r = c.deliver(
        "a@b.test",
        &[&addr],
        &simple_message("a@b.test", &addr, "small", "ok"),
    );
    assert_eq!(code(&r), 250, "{r}");
}

#[test]
fn a_full_mailbox_answers_452_while_others_accept() {
    let (s, full) = server_with_box(
        &["--anon-max-message", "8KiB", "--anon-max-storage", "8KiB"],
        json!({}),
    );
    let other = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    let body = simple_message("a@b.test", &full, "fill", &"y".repeat(6000));
    assert_eq!(code(&c.deliver("a@b.test", &[&full], &body)), 250);
    // Second 6 KB message would exceed 8 KiB: refused at DATA end with 452.
    let r = c.deliver("a@b.test", &[&full], &body);
    assert!(r.starts_with("452 4.2.2"), "{r}");
    assert_eq!(code(&c.deliver("a@b.test", &[&other], &body)), 250);
    // Declaring the size lets RCPT refuse it before any data.
    c.cmd("MAIL FROM:<a@b.test> SIZE=6000");
    let r = c.cmd(&format!("RCPT TO:<{full}>"));
    assert!(r.starts_with("452 4.2.2"), "{r}");
}

#[test]
fn pipelined_commands_get_every_reply_in_order() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    let msg = simple_message("a@b.test", &addr, "piped", "one write");
    let all = format!(
        "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@mailiy.localhost>\r\nRCPT TO:<{addr}>\r\nDATA\r\n{msg}.\r\nQUIT\r\n"
    );
    c.send(all.as_bytes());
    let codes: Vec<u16> = (0..7).map(|_| code(&c.reply())).collect();
    assert_eq!(codes, [250, 250, 550, 250, 354, 250, 221]);
    assert_eq!(s.messages(&addr).len(), 1);
}

#[test]
fn more_than_100_recipients_get_452() {
    let s = Server::start(&["--catch-all", "anon"]);
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<a@b.test>");
    let mut batch = String::new();
    for i in 0..101 {
        batch.push_str(&format!("RCPT TO:<r{i}@example.test>\r\n"));
    }
    c.send(batch.as_bytes());
    let codes: Vec<u16> = (0..101).map(|_| code(&c.reply())).collect();
    assert!(codes[..100].iter().all(|&c| c == 250), "{codes:?}");
    assert_eq!(codes[100], 452);
    // Catch-all creates mailboxes only when mail arrives, never at RCPT.
    let (_, v) = s.get("/v1/mailbox");
    assert_eq!(v.as_array().unwrap().len(), 0);
}

#[test]
fn repeating_one_recipient_counts_toward_the_limit() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<a@b.test>");
    let batch = format!("RCPT TO:<{addr}>\r\n").repeat(150);
    c.send(batch.as_bytes());
    let codes: Vec<u16> = (0..150).map(|_| code(&c.reply())).collect();
    assert!(codes[..100].iter().all(|&c| c == 250), "{codes:?}");
    assert!(codes[100..].iter().all(|&c| c == 452), "{codes:?}");
    assert_eq!(code(&c.cmd("DATA")), 354);
    assert_eq!(code(&c.cmd("Subject: once\r\n\r\nx\r\n.")), 250);
    assert_eq!(
        s.messages(&addr).len(),
        1,
        "one copy, however often the address was given"
    );
}

#[test]
fn an_overlong_command_line_is_refused_and_its_tail_is_not_a_command() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    // The tail of the long line looks like a command; it must not be executed.
    let long = format!("NOOP {}RSET\r\n", "a".repeat(10_000));
    c.send(long.as_bytes());
    let r = c.reply();
    assert!(r.starts_with("500 5.5.2"), "{r}");
    assert_eq!(
        code(&c.cmd("NOOP")),
        250,
        "exactly one reply for the long line"
    );
    let r = c.deliver(
        "a@b.test",
        &[&addr],
        &simple_message("a@b.test", &addr, "after", "ok"),
    );
    assert_eq!(code(&r), 250);
}

#[test]
fn only_crlf_dot_crlf_ends_data() {
    let (s, addr) = server_with_box(&[], json!({}));
    for lookalike in ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r.\r\n"] {
        let mut c = s.smtp();
        c.cmd("EHLO client.test");
        c.cmd("MAIL FROM:<a@b.test>");
        c.cmd(&format!("RCPT TO:<{addr}>"));
        assert_eq!(code(&c.cmd("DATA")), 354);
        let smuggled = format!(
            "Subject: first\r\n\r\nhello{lookalike}MAIL FROM:<ceo@spoofed-bank.test>\r\nRCPT TO:<{addr}>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
        );
        c.send(smuggled.as_bytes());
        let r = c.reply();
        assert_eq!(code(&r), 250, "{lookalike:?}: {r}");
        // Nothing more may follow: the smuggled commands were message content.
        assert_eq!(code(&c.cmd("NOOP")), 250, "{lookalike:?}");
    }
    let list = s.messages(&addr);
    assert_eq!(
        list.len(),
        6,
        "one message per session, never a smuggled second"
    );
    for m in &list {
        let (_, raw, _) = s.get_bytes(&format!(
            "/v1/mailbox/{}/messages/{}/raw",
            enc(&addr),
            m["id"].as_str().unwrap()
        ));
        let raw = String::from_utf8_lossy(&raw);
        assert!(
            raw.contains("spoofed-bank.test"),
            "smuggled text stays inside the first message"
        );
    }
}

#[test]
fn bare_lf_messages_are_accepted_and_normalized() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    c.send(format!("EHLO php.test\nMAIL FROM:<a@b.test>\nRCPT TO:<{addr}>\nDATA\n").as_bytes());
    let codes: Vec<u16> = (0..4).map(|_| code(&c.reply())).collect();
    assert_eq!(codes, [250, 250, 250, 354]);
    c.send(b"Subject: sloppy\nX-A: 1\n\nline one\nline two\r\n.\r\n");
    assert_eq!(code(&c.reply()), 250);
    let m = &s.messages(&addr)[0];
    let (_, raw, _) = s.get_bytes(&format!(
        "/v1/mailbox/{}/messages/{}/raw",
        enc(&addr),
        m["id"].as_str().unwrap()
    ));
    assert_eq!(
        raw,
        b"Subject: sloppy\r\nX-A: 1\r\n\r\nline one\r\nline two\r\n"
    );
}

#[test]
fn dot_stuffing_is_undone() {
    let (s, addr) = server_with_box(&[], json!({}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    let r = c.deliver(
        "a@b.test",
        &[&addr],
        "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n",
    );
    assert_eq!(code(&r), 250);
    let m = &s.messages(&addr)[0];
    let (_, raw, _) = s.get_bytes(&format!(
        "/v1/mailbox/{}/messages/{}/raw",
        enc(&addr),
        m["id"].as_str().unwrap()
    ));
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n"
    );
}

#[test]
fn sequence_errors_get_503_and_too_many_errors_close_the_session() {
    let s = Server::start(&["--smtp-max-errors", "5"]);
    let mut c = s.smtp();
    assert!(
        c.cmd("MAIL FROM:<a@b.test>").starts_with("503"),
        "MAIL before EHLO"
    );
    c.cmd("EHLO client.test");
    assert!(c.cmd("RCPT TO:<x@mailiy.localhost>").starts_with("503"));
    assert!(c.cmd("DATA").starts_with("503"));
    assert!(c.cmd("BOGUS").starts_with("500"));
    assert!(
        c.cmd("BOGUS").starts_with("500"),
        "the fifth error is answered"
    );
    let r = c.reply();
    assert!(r.starts_with("421"), "then the session is closed: {r}");
    let mut buf = [0u8; 16];
    use std::io::Read;
    assert_eq!(c.stream.read(&mut buf).unwrap_or(0), 0, "closed");
}

#[test]
fn auth_is_accepted_with_any_credentials_when_enabled() {
    let (s, addr) = server_with_box(&["--smtp-auth-accept-any"], json!({}));
    // A real client library configured with a password, as an app would be.
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::{Message, SmtpTransport, Transport};
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let mailer = SmtpTransport::builder_dangerous("127.0.0.1")
            .port(s.smtp.port())
            .credentials(Credentials::new("user".into(), "secret".into()))
            .authentication(vec![mech])
            .build();
        let email = Message::builder()
            .from("App <app@example.test>".parse().unwrap())
            .to(addr.parse().unwrap())
            .subject(format!("via {mech:?}"))
            .body("hello from lettre".to_string())
            .unwrap();
        mailer.send(&email).expect("lettre send with auth");
    }
    assert_eq!(s.messages(&addr).len(), 2);
}

#[test]
fn auth_is_refused_clearly_when_off() {
    let s = Server::start(&["--smtp-auth", "off"]);
    let mut c = s.smtp();
    let r = c.cmd("EHLO client.test");
    assert!(!r.contains("AUTH"), "{r}");
    let r = c.cmd("AUTH PLAIN AHVzZXIAcGFzcw==");
    assert!(r.starts_with("502") && r.contains("--smtp-auth off"), "{r}");
}

#[test]
fn the_connection_limit_closes_idle_sessions_first_then_answers_421() {
    let (s, addr) = server_with_box(
        &["--smtp-max-connections", "2"],
        json!({"localPart": "lim"}),
    );
    // Two sessions holding a recipient: in a transaction, so never closed to make room.
    let in_transaction = || {
        let mut c = s.smtp();
        c.cmd("EHLO client.test");
        c.cmd("MAIL FROM:<a@b.test>");
        assert_eq!(code(&c.cmd(&format!("RCPT TO:<{addr}>"))), 250);
        c
    };
    let a = in_transaction();
    let mut b = in_transaction();
    let mut third = std::net::TcpStream::connect(s.smtp).unwrap();
    // A bug here must fail the test, not hang it.
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut buf = String::new();
    use std::io::Read;
    third.read_to_string(&mut buf).unwrap();
    assert!(buf.starts_with("421"), "{buf}");
    drop(a);
    // A freed slot takes a newcomer; then an idle session is closed for the next one.
    let mut idle = eventually("a freed slot", || {
        let mut t = std::net::TcpStream::connect(s.smtp).ok()?;
        t.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok()?;
        let mut g = [0u8; 3];
        t.read_exact(&mut g).ok()?;
        (&g == b"220").then_some(t)
    });
    let mut next = s.smtp();
    assert_eq!(code(&next.cmd("NOOP")), 250);
    let mut rest = String::new();
    idle.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("421 4.7.0"),
        "the idle session made room: {rest}"
    );
    // The session in a transaction was kept and finishes its message.
    assert_eq!(code(&b.cmd("DATA")), 354);
    b.send(simple_message("a@b.test", &addr, "kept", "x").as_bytes());
    assert_eq!(code(&b.cmd(".")), 250);
}

#[test]
fn idle_clients_are_disconnected() {
    let s = Server::start(&["--smtp-idle-timeout", "1"]);
    let mut c = s.smtp();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = c.reply();
    assert!(r.starts_with("421 4.4.2"), "{r}");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let s = Server::start(&[]);
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert!(s.stop(), "clean exit status on SIGTERM");
    let r = c.reply();
    assert!(r.starts_with("421") || r.contains("<closed>"), "{r}");
}

#[test]
fn a_refusal_names_its_cap_tier_and_the_flag_that_raises_it() {
    let (s, free) = server_with_box(&["--free-max-message", "64KiB"], json!({"tier": "free"}));
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    c.cmd(&format!("MAIL FROM:<a@b.test> SIZE={}", 100 * 1024));
    let r = c.cmd(&format!("RCPT TO:<{free}>"));
    assert!(
        r.starts_with("552 5.3.4")
            && r.contains("limit 65536 bytes for the free tier; --free-max-message raises it"),
        "{r}"
    );
    let r = c.cmd("RCPT TO:<nobody@mailiy.localhost>");
    assert!(
        r.starts_with("550 5.1.1") && r.contains("--catch-all TIER or the catchAll setting"),
        "{r}"
    );
}

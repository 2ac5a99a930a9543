//! Search (`q=`) through the real binary: each operator finds exactly the right messages among
//! a handful sent over SMTP, across mailboxes and in one; with wait; bad queries are 400.

use std::time::{Duration, Instant};

use crate::common::*;

const A: &str = "alpha@mailiy.localhost";
const B: &str = "beta@mailiy.localhost";

/// Sends a handful of distinct messages to two mailboxes; returns the server.
fn seeded() -> Server {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "alpha"}));
    s.mailbox(json!({"localPart": "beta"}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let send = |c: &mut Smtp, rcpt: &[&str], raw: String| {
        let r = c.deliver("envelope@sender.test", rcpt, &raw);
        assert_eq!(code(&r), 250, "{r}");
    };
    send(
        &mut c,
        &[A],
        format!(
            "From: Alice Müller <alice@shop.test>\r\nTo: {A}\r\nCc: carol@cc.test\r\n\
             Reply-To: help@shop.test\r\nSubject: Your verification code\r\n\
             Message-ID: <verify.1@shop.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Your code is 482913. Grüße aus München.\r\n"
        ),
    );
    send(
        &mut c,
        &[A, B],
        format!(
            "From: Bob <bob@news.test>\r\nTo: {A}\r\nSubject: Weekly newsletter\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
             <p>Read the <a href=\"https://news.test/issue\">latest issue</a> here. Привет мир</p>\r\n"
        ),
    );
    send(
        &mut c,
        &[B],
        format!(
            "From: Carol <carol@cc.test>\r\nTo: {B}\r\nSubject: Report attached\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n東京都の報告書です\r\n--b\r\n\
             Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n\r\n\
             {}\r\n--b--\r\n",
            "x".repeat(20_000)
        ),
    );
    s
}

/// Subjects of `GET path` (a list, or `{messages}`), sorted.
fn found(s: &Server, path: &str) -> Vec<String> {
    let (status, v) = s.get(path);
    assert_eq!(status, 200, "{path}: {v}");
    let list = v.get("messages").unwrap_or(&v).as_array().unwrap().clone();
    let mut subjects: Vec<String> = list
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    subjects
}

fn all(s: &Server, q: &str) -> Vec<String> {
    found(s, &format!("/v1/messages?q={}", enc(q)))
}

fn in_mailbox(s: &Server, mailbox: &str, q: &str) -> Vec<String> {
    found(
        s,
        &format!("/v1/mailbox/{}/messages?q={}", enc(mailbox), enc(q)),
    )
}

const VERIFY: &str = "Your verification code";
const NEWS: &str = "Weekly newsletter";
const REPORT: &str = "Report attached";

#[test]
fn each_operator_finds_exactly_its_messages() {
    let s = seeded();
    // The newsletter went to both mailboxes: two copies across all mail.
    let cases: &[(&str, &[&str])] = &[
        ("verification", &[VERIFY]),
        ("verif", &[VERIFY]),
        ("\"latest issue\"", &[NEWS, NEWS]),
        ("\"issue latest\"", &[]),
        ("from:alice@shop.test", &[VERIFY]),
        ("from:bob", &[NEWS, NEWS]),
        ("to:beta", &[REPORT]),
        ("cc:carol", &[VERIFY]),
        // The envelope named beta for the newsletter, its To header only alpha: beta's copy is
        // the Bcc one; alpha's copy never learns of beta (each copy keeps its own recipients).
        ("bcc:beta@mailiy.localhost", &[NEWS]),
        ("bcc:alpha", &[]),
        ("reply-to:help", &[VERIFY]),
        ("addressed:carol", &[VERIFY]),
        ("addressed:beta", &[NEWS, REPORT]),
        ("subject:report", &[REPORT]),
        ("subject:code", &[VERIFY]),
        ("message-id:<verify.1@shop.test>", &[VERIFY]),
        ("message-id:verify.1@shop.test", &[VERIFY]),
        ("message-id:verify.1", &[]),
        ("tag:anything", &[]),
        ("-tag:anything", &[NEWS, NEWS, REPORT, VERIFY]),
        ("is:unread", &[NEWS, NEWS, REPORT, VERIFY]),
        ("is:read", &[]),
        ("has:attachment", &[REPORT]),
        ("-has:attachment", &[NEWS, NEWS, VERIFY]),
        ("has:code", &[VERIFY]),
        ("has:link", &[NEWS, NEWS]),
        ("larger:10k", &[REPORT]),
        ("smaller:10k", &[NEWS, NEWS, VERIFY]),
        ("after:2000-01-01", &[NEWS, NEWS, REPORT, VERIFY]),
        ("before:2000-01-01", &[]),
        ("mailbox:beta@mailiy.localhost", &[NEWS, REPORT]),
        ("!mailbox:beta@mailiy.localhost", &[NEWS, VERIFY]),
        ("-from:bob is:unread", &[REPORT, VERIFY]),
        ("from:carol subject:report", &[REPORT]),
        ("from:carol subject:code", &[]),
        // Accents folded, other scripts, CJK inside a sentence.
        ("muller", &[VERIFY]),
        ("GRÜSSE", &[]),
        ("grüße", &[VERIFY]),
        ("munchen", &[VERIFY]),
        ("привет", &[NEWS, NEWS]),
        ("東京", &[REPORT]),
        ("報告書", &[REPORT]),
        ("大阪", &[]),
    ];
    for (q, want) in cases {
        let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        want.sort();
        assert_eq!(all(&s, q), want, "q={q}");
    }
    // In one mailbox: only its copies.
    assert_eq!(in_mailbox(&s, A, "from:bob"), vec![NEWS]);
    assert_eq!(in_mailbox(&s, B, "from:bob"), vec![NEWS]);
    assert_eq!(in_mailbox(&s, A, "has:attachment"), Vec::<String>::new());
    assert_eq!(in_mailbox(&s, B, "東京"), vec![REPORT]);
    // q holds beside the v1 substring filters.
    assert_eq!(
        found(
            &s,
            &format!("/v1/mailbox/{}/messages?subject=week&q=from:bob", enc(B))
        ),
        vec![NEWS]
    );
    assert_eq!(
        found(
            &s,
            &format!("/v1/mailbox/{}/messages?subject=report&q=from:bob", enc(B))
        ),
        Vec::<String>::new()
    );
    // is:read after reading one.
    let (_, list) = s.get(&format!("/v1/mailbox/{}/messages?q=from:alice", enc(A)));
    let id = list[0]["id"].as_str().unwrap();
    let (st, _) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(A)));
    assert_eq!(st, 200);
    assert_eq!(all(&s, "is:read"), vec![VERIFY]);
}

#[test]
fn a_bad_query_is_a_400_that_names_what_and_where() {
    let s = seeded();
    for (q, message) in [
        ("frm:alice", "unknown operator 'frm:' at 1"),
        ("hello subject:\"open", "unclosed quote at 15"),
        (
            "larger:huge",
            "'larger:' takes a size such as 500, 10k or 2M, not 'huge' at 8",
        ),
    ] {
        for path in [
            format!("/v1/messages?q={}", enc(q)),
            format!("/v1/mailbox/{}/messages?q={}", enc(A), enc(q)),
            format!("/v1/mailbox/{}/messages?wait=5&q={}", enc(A), enc(q)),
        ] {
            let started = Instant::now();
            let (status, v) = s.get(&path);
            assert_eq!(status, 400, "{path}: {v}");
            assert_eq!(v["error"]["code"], "invalid_query", "{v}");
            assert_eq!(v["error"]["message"], message, "{v}");
            assert!(started.elapsed() < Duration::from_secs(2), "not held");
        }
    }
}

#[test]
fn wait_with_q_returns_the_matching_arrival_and_not_another() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "waiter"}));
    let to = "waiter@mailiy.localhost";
    let url = s.url(&format!(
        "/v1/mailbox/{}/messages?wait=20&q={}",
        enc(to),
        enc("from:shop has:code")
    ));
    let started = Instant::now();
    let waiter = std::thread::spawn(move || {
        let v: Value = ureq::get(&url)
            .call()
            .expect("wait")
            .into_json()
            .expect("json");
        (v, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    // Arrives first but does not match: the wait goes on.
    let other = simple_message("news@shop.test", to, "no digits here", "just words");
    assert_eq!(code(&c.deliver("a@b.test", &[to], &other)), 250);
    std::thread::sleep(Duration::from_millis(300));
    let code_mail = simple_message("noreply@shop.test", to, "Sign in", "Your code is 771204");
    assert_eq!(code(&c.deliver("a@b.test", &[to], &code_mail)), 250);
    let (v, took) = waiter.join().expect("waiter");
    let list = v.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["subject"], "Sign in");
    assert!(
        took >= Duration::from_millis(550),
        "held until the match: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "answered at the match: {took:?}"
    );
}

#[test]
fn mailiy_wait_query_waits_for_the_matching_message() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "cli"}));
    let to = "cli@mailiy.localhost";
    let api = format!("http://{}", s.http);
    let waiting = std::thread::spawn(move || {
        std::process::Command::new(bin())
            .args([
                "wait",
                to,
                "--query",
                "subject:welcome -from:spam",
                "--code",
            ])
            .args(["--timeout", "20"])
            .env("MAILIY_API", api)
            .output()
            .expect("mailiy wait")
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let spam = simple_message("spam@x.test", to, "Welcome offer", "Your code is 111111");
    assert_eq!(code(&c.deliver("a@b.test", &[to], &spam)), 250);
    let real = simple_message("app@x.test", to, "Welcome aboard", "Your code is 424242");
    assert_eq!(code(&c.deliver("a@b.test", &[to], &real)), 250);
    let out = waiting.join().expect("waiter");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "424242");
}

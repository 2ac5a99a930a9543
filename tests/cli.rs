//! The CLI for shell tests: `mailiy new`, `mailiy send` (sendmail-style), `mailiy wait`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::*;

fn mailiy(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("MAILIY_API", format!("http://{}", s.http))
        .env("MAILIY_SMTP", s.smtp.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn new_send_and_wait_for_the_code_from_a_shell() {
    let s = Server::start(&[]);
    let out = mailiy(&s, &["new", "--ttl", "10"], None);
    assert!(out.status.success(), "{out:?}");
    let addr = stdout(&out);
    assert!(addr.ends_with("@mailiy.localhost"), "{addr}");
    let json = mailiy(
        &s,
        &["new", "--tier", "free", "--local-part", "cli", "--json"],
        None,
    );
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        (v["address"].as_str(), v["tier"].as_str()),
        (Some("cli@mailiy.localhost"), Some("free"))
    );

    // sendmail-style: recipients from the headers (-t), a bare-LF message like PHP writes.
    let msg = format!("To: {addr}\nBcc: cli@mailiy.localhost\nSubject: Your sign-in code\n\nYour code is 731904.\nOpen https://app.example.test/in\n");
    let sent = mailiy(
        &s,
        &["send", "-t", "-f", "app@example.test", "-oi"],
        Some(&msg),
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let code = mailiy(&s, &["wait", &addr, "--code", "--timeout", "10"], None);
    assert!(code.status.success(), "{code:?}");
    assert_eq!(stdout(&code), "731904");
    let link = mailiy(&s, &["wait", &addr, "--link", "--timeout", "10"], None);
    assert_eq!(stdout(&link), "https://app.example.test/in");
    // The Bcc recipient got it, and the Bcc header was not delivered.
    let copy = mailiy(
        &s,
        &["wait", "cli@mailiy.localhost", "--json", "--timeout", "10"],
        None,
    );
    let m: Value = serde_json::from_str(&stdout(&copy)).unwrap();
    assert!(m["headers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| !h["name"].as_str().unwrap().eq_ignore_ascii_case("bcc")));
}

#[test]
fn wait_blocks_until_mail_arrives_and_fails_on_timeout() {
    let s = Server::start(&[]);
    let addr = stdout(&mailiy(&s, &["new"], None));
    let waiting = {
        let (api, a) = (format!("http://{}", s.http), addr.clone());
        std::thread::spawn(move || {
            Command::new(bin())
                .args(["wait", &a, "--subject", "welcome", "--timeout", "20"])
                .env("MAILIY_API", api)
                .output()
                .unwrap()
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sent = mailiy(
        &s,
        &["send", &addr],
        Some("Subject: Welcome!\r\n\r\nHello there\r\n.. a dotted line\r\n"),
    );
    assert!(sent.status.success(), "{sent:?}");
    let out = waiting.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("Subject: Welcome!") && text.contains(".. a dotted line"),
        "{text}"
    );

    let timed_out = mailiy(
        &s,
        &["wait", &addr, "--subject", "never", "--timeout", "1"],
        None,
    );
    assert_eq!(timed_out.status.code(), Some(1));
    let unknown = mailiy(
        &s,
        &["send", "nobody@mailiy.localhost"],
        Some("Subject: x\n\nx\n"),
    );
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("550"),
        "{unknown:?}"
    );
}

#[test]
fn send_without_recipients_reads_the_headers_and_its_errors_are_one_line() {
    let s = Server::start(&[]);
    let addr = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let hidden = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    // As PHP's `sendmail_path = "mailiy send"` calls it: no -t, no recipient named.
    let sent = mailiy(
        &s,
        &["send"],
        Some(&format!(
            "To: {addr}\nBcc: {hidden}\nSubject: from php\n\nhi\n"
        )),
    );
    assert!(sent.status.success(), "{sent:?}");
    for mailbox in [&addr, &hidden] {
        let got = s.messages(mailbox);
        assert_eq!(got.len(), 1, "{mailbox}");
        assert_eq!(got[0]["subject"], "from php");
    }
    let id = s.messages(&hidden)[0]["id"].as_str().unwrap().to_string();
    let (_, raw, _) = s.get_bytes(&format!("/v1/mailbox/{}/messages/{id}/raw", enc(&hidden)));
    assert!(
        !String::from_utf8_lossy(&raw).contains("Bcc:"),
        "the Bcc header is not sent"
    );
    // A user error: one line, no backtrace even when asked for one.
    let out = Command::new(bin())
        .args(["send"])
        .env("MAILIY_SMTP", s.smtp.to_string())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(b"Subject: nobody\n\nx\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("mailiy: no recipients"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}

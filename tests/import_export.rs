//! `mailiy import` and `mailiy export` against a real server: an mbox and a Maildir built from
//! corpus messages arrive with their count, a broken file gets its own line and the rest go on,
//! and export then import into a fresh server gives the same raw bytes (mbox, Maildir, .eml).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// Corpus messages (small ones from several parsers' test suites).
const CORPUS: &[&str] = &[
    "real/cpython/msg_02.eml",
    "real/cpython/msg_07.eml",
    "real/cpython/msg_10.eml",
    "real/flanker/mailgun-pic.eml",
    "real/spamassassin/sample-nonspam.eml",
];

fn corpus(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A message body line that mbox must quote, and one quoted already.
const FROM_LINES: &[u8] =
    b"Subject: From lines\r\nTo: x@y.test\r\n\r\nFrom the start of a line\r\n>From quoted\r\nend\r\n";

fn mailiy(s: &Server, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("MAILIY_SMTP", s.smtp.to_string())
        .env("MAILIY_API", format!("http://{}", s.http))
        .output()
        .expect("run mailiy")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The raw bytes of every message of a mailbox, sorted (import order is not arrival order).
fn raws(s: &Server, mailbox: &str) -> Vec<Vec<u8>> {
    let (_, list) = s.get(&format!("/v1/mailbox/{}/messages?limit=1000", enc(mailbox)));
    let mut all: Vec<Vec<u8>> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let path = format!(
                "/v1/mailbox/{}/messages/{}/raw",
                enc(mailbox),
                m["id"].as_str().unwrap()
            );
            s.get_bytes(&path).1
        })
        .collect();
    all.sort();
    all
}

/// An mbox written the plain way (LF line ends, mboxrd quoting), independent of ours.
fn write_mbox(path: &Path, messages: &[Vec<u8>]) {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(b"From sender@example.test Thu Dec  3 10:00:00 2026\n");
        let lf = text(m).replace("\r\n", "\n");
        for line in lf.strip_suffix('\n').unwrap_or(&lf).split('\n') {
            if line.trim_start_matches('>').starts_with("From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

fn address(s: &Server) -> String {
    s.mailbox(json!({"tier": "pro"}))["address"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_mbox_and_a_maildir_from_the_corpus_arrive_and_a_broken_file_gets_its_line() {
    let s = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut messages: Vec<Vec<u8>> = CORPUS.iter().map(|p| corpus(p)).collect();
    messages.push(FROM_LINES.to_vec());
    let mbox = dir.path().join("corpus.mbox");
    write_mbox(&mbox, &messages);
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (n, m) in messages.iter().enumerate() {
        let sub = if n % 2 == 0 { "cur" } else { "new" };
        std::fs::write(maildir.join(sub).join(format!("{n}.host:2,S")), m).unwrap();
    }
    let broken = dir.path().join("broken.eml");
    std::fs::write(&broken, b"\x00\x01\x02 this is not mail\n").unwrap();

    let to = address(&s);
    let out = mailiy(
        &s,
        &[
            "import",
            "--to",
            &to,
            mbox.to_str().unwrap(),
            broken.to_str().unwrap(),
            maildir.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "a failure makes the exit code say so"
    );
    let n = messages.len();
    assert!(
        stdout.contains(&format!(
            "imported {} of {} messages (1 failed)",
            2 * n,
            2 * n + 1
        )),
        "{stdout}\n{stderr}"
    );
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("mailiy import: "))
        .collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(
        failures[0].contains("broken.eml") && failures[0].contains("not a message"),
        "{stderr}"
    );
    assert_eq!(s.messages(&to).len(), 2 * n);
    // From the mbox and from the Maildir alike, each message is stored as SMTP stores it.
    let mut want: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            let crlf = text(m).replace("\r\n", "\n").replace('\n', "\r\n");
            // SMTP ends every message with a line end.
            match crlf.ends_with("\r\n") {
                true => crlf.into_bytes(),
                false => (crlf + "\r\n").into_bytes(),
            }
        })
        .flat_map(|m| [m.clone(), m])
        .collect();
    want.sort();
    assert_eq!(raws(&s, &to), want);
}

#[test]
fn export_then_import_into_a_fresh_server_gives_the_same_bytes() {
    let a = Server::start(&[]);
    let box_a = address(&a);
    let dir = tempfile::tempdir().unwrap();
    for (n, m) in CORPUS
        .iter()
        .map(|p| corpus(p))
        .chain([FROM_LINES.to_vec()])
        .enumerate()
    {
        let f = dir.path().join(format!("{n}.eml"));
        std::fs::write(&f, m).unwrap();
    }
    let out = mailiy(
        &a,
        &["import", "--to", &box_a, dir.path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored = raws(&a, &box_a);
    assert_eq!(stored.len(), CORPUS.len() + 1);

    // The download route itself: a From line in a body is quoted.
    let (st, mbox, ct) = a.get_bytes(&format!("/v1/mailbox/{}/mbox", enc(&box_a)));
    assert_eq!((st, ct.as_str()), (200, "application/mbox"));
    let mbox = text(&mbox);
    assert!(
        mbox.contains("\n>From the start of a line\n>>From quoted\n"),
        "{mbox}"
    );
    assert_eq!(
        mbox.matches("\nFrom ").count() + 1,
        stored.len(),
        "one From line each"
    );

    for (format, out_path) in [
        ("mbox", "all.mbox"),
        ("maildir", "Maildir"),
        ("eml", "emls"),
    ] {
        let target = dir.path().join(out_path);
        let out = mailiy(
            &a,
            &[
                "export",
                "--format",
                format,
                "--mailbox",
                &box_a,
                "-o",
                target.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        let b = Server::start(&[]);
        let box_b = address(&b);
        let out = mailiy(&b, &["import", "--to", &box_b, target.to_str().unwrap()]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        assert_eq!(raws(&b, &box_b), stored, "{format}: not the same bytes");
    }
    // Every mailbox at once, when none is named.
    let second = address(&a);
    let mut c = a.smtp();
    assert_eq!(code(&c.cmd("EHLO export.test")), 250);
    let r = c.deliver(
        "x@example.test",
        &[&second],
        "Subject: other\r\n\r\nother\r\n",
    );
    assert_eq!(code(&r), 250, "{r}");
    let all = dir.path().join("every.mbox");
    let out = mailiy(&a, &["export", "-o", all.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let every = text(&std::fs::read(&all).unwrap());
    assert_eq!(every.matches("\nFrom ").count() + 1, stored.len() + 1);
}

fn upload(s: &Server, mailbox: &str, body: &[u8]) -> (u16, Value) {
    let r = ureq::post(&s.url(&format!("/v1/mailbox/{}/messages", enc(mailbox))))
        .set("Content-Type", "message/rfc822")
        .send_bytes(body);
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            (status, r.into_json().unwrap_or(Value::Null))
        }
        Err(e) => panic!("upload: {e}"),
    }
}

#[test]
fn an_uploaded_message_is_stored_like_smtp_mail_within_its_tiers_cap() {
    let s = Server::start(&["--anon-max-message", "2MiB", "--anon-max-storage", "8MiB"]);
    let anon = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = upload(
        &s,
        &anon,
        b"Subject: dropped\nTo: x@y.test\n\nbare LF lines\n",
    );
    assert_eq!(st, 201, "{v}");
    let raw = s
        .get_bytes(&format!(
            "/v1/mailbox/{}/messages/{}/raw",
            enc(&anon),
            v["id"].as_str().unwrap()
        ))
        .1;
    assert_eq!(
        raw, b"Subject: dropped\r\nTo: x@y.test\r\n\r\nbare LF lines\r\n",
        "normalised as SMTP does"
    );
    // Over the API's usual 1 MiB but within the tier's cap: taken.
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b"0123456789abcdef\r\n".as_slice(), 90_000).flatten());
    assert_eq!(upload(&s, &anon, &big).0, 201);
    // Over the tier's cap: refused, naming it.
    big.extend(std::iter::repeat_n(b"0123456789abcdef\r\n".as_slice(), 40_000).flatten());
    let (st, v) = upload(&s, &anon, &big);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (413, Some("message_too_large")),
        "{v}"
    );
    assert_eq!(s.messages(&anon).len(), 2);
    assert_eq!(
        upload(&s, "nobody@mailiy.localhost", b"Subject: x\r\n\r\nx\r\n").0,
        404
    );
}

//! Browser tests of the inbox UI (`ui/`): Debian's Chromium driven by `playwright-core` (from
//! examples/playwright's node_modules, installed by scripts/setup.sh; no browser download)
//! against the real `mailiy serve`. Each test runs one script of `tests/browser/` with
//! `MAILIY_URL` and `MAILIY_SMTP` set, under a timeout; screenshots go to
//! `target/ui-screenshots/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{code, eventually, files_under, json, occurrences, stuff_raw, Server};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `node tests/browser/SCRIPT` against `s` (plus `env`); kills it after `limit`; panics
/// with its output (and the server log) unless it exits 0.
fn node(script: &str, s: &Server, env: &[(&str, String)], limit: Duration) {
    let pw = root().join("examples/playwright/node_modules/playwright-core/index.mjs");
    assert!(
        pw.exists(),
        "{} is missing: run scripts/setup.sh (npm ci in examples/playwright)",
        pw.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/setup.sh (apt-get install chromium)"
    );
    let t0 = Instant::now();
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/browser").join(script))
        .current_dir(root())
        .env("MAILIY_URL", format!("http://{}", s.http))
        .env("MAILIY_SMTP", s.smtp.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("spawn node (scripts/setup.sh installs it)");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait node") {
            break Some(st);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    let took = t0.elapsed();
    match status {
        Some(st) if st.success() => eprintln!("{script}: passed in {took:.1?}\n{out}{err}"),
        _ => {
            let how = match status {
                Some(st) => format!("failed ({st})"),
                None => format!("hung: killed after {limit:?}"),
            };
            let log = s.log.lock().map(|l| l.clone()).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "{script} {how} after {took:.1?}\n--- stdout\n{out}\n--- stderr\n{err}\n--- server log (tail)\n{tail}"
            );
        }
    }
}

/// New address + clipboard, live mail within a second, open it, the code, j/k/Enter, copy the
/// code, screenshots (light, dark, narrow).
#[test]
fn browser_smoke() {
    let s = Server::start(&[]);
    node("smoke.mjs", &s, &[], Duration::from_secs(45));
}

/// Tags from X-Tags show as chips on the list row (three and a count) and in the reader.
#[test]
fn browser_tags() {
    let s = Server::start(&[]);
    node("tags.mjs", &s, &[], Duration::from_secs(40));
}

/// A Bcc copy shows Bcc beside To; the Headers tab shows the envelope and the SMTP session.
#[test]
fn browser_envelope() {
    let s = Server::start(&[]);
    node("envelope.mjs", &s, &[], Duration::from_secs(40));
}

/// A 3-second mailbox shows its expiry in words, vanishes from the UI when it expires and leaves
/// a notice; the in-page warning before expiry, and its Extend.
#[test]
fn browser_expiry() {
    let s = Server::start(&["--expiry-warning-minutes", "1"]);
    node("expiry.mjs", &s, &[], Duration::from_secs(60));
}

/// The settings view: pinned fields locked, a change saved and in force; screenshots.
#[test]
fn browser_settings() {
    let s = Server::start(&[]);
    node("settings.mjs", &s, &[], Duration::from_secs(45));
}

/// Faults on demand: a banner on every page while any is on, gone after one click on it.
#[test]
fn browser_faults_banner() {
    let s = Server::start(&[]);
    node("faults.mjs", &s, &[], Duration::from_secs(45));
}

/// Pause intake: a loud banner while paused, the settings switch, resumed in one click on it.
#[test]
fn browser_intake_banner() {
    let s = Server::start(&[]);
    node("intake.mjs", &s, &[], Duration::from_secs(45));
}

/// Drag-and-drop of an .eml file onto the messages pane, and "Download all (mbox)".
#[test]
fn browser_transfer() {
    let s = Server::start(&[]);
    node("transfer.mjs", &s, &[], Duration::from_secs(45));
}

/// Release from the reader into a second server (the relay).
#[test]
fn browser_release() {
    let relay = Server::start(&["--catch-all", "anon"]);
    let s = Server::start(&["--smtp-relay", &relay.smtp.to_string()]);
    let env = [("MAILIY_RELAY_API", format!("http://{}", relay.http))];
    node("release.mjs", &s, &env, Duration::from_secs(45));
}

/// The relay set in the settings view at run time, then a release into a second server.
#[test]
fn browser_relay_settings() {
    let relay = Server::start(&["--catch-all", "anon"]);
    let s = Server::start(&[]);
    let env = [
        ("MAILIY_RELAY_API", format!("http://{}", relay.http)),
        ("MAILIY_RELAY_SMTP", relay.smtp.to_string()),
    ];
    node("relay-settings.mjs", &s, &env, Duration::from_secs(45));
}

/// `--require-token`: the page asks for the token, refuses a wrong one, works with the right one.
#[test]
fn browser_token() {
    let s = Server::start(&["--require-token"]);
    let token = std::fs::read_to_string(s.data_dir.join("token")).expect("token file");
    node(
        "token.mjs",
        &s,
        &[("MAILIY_TOKEN", token.trim().to_string())],
        Duration::from_secs(45),
    );
}

/// The engine stops and starts again on the same addresses (the script runs it): the page's
/// connection indicator shows the outage and recovers, and new mail arrives without a reload.
#[test]
fn browser_reconnects_after_an_engine_restart() {
    // The script runs its own engine on fixed free addresses, so it can come back where the
    // page looks; `s` only lends node() its plumbing (its URLs are overridden below).
    let s = Server::start(&[]);
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
    };
    let data = tempfile::tempdir().expect("tempdir");
    node(
        "reconnect.mjs",
        &s,
        &[
            ("MAILIY_URL", format!("http://{}", free())),
            ("MAILIY_SMTP", free().to_string()),
            ("MAILIY_BIN", crate::common::bin().display().to_string()),
            ("MAILIY_DATA", data.path().display().to_string()),
        ],
        Duration::from_secs(60),
    );
}

/// A flooded mailbox: the page keeps a bounded list (newest first) and live mail stays on top.
#[test]
fn browser_flooded_mailbox_keeps_a_bounded_list() {
    let s = Server::start(&["--default-tier", "pro"]);
    let m = s.mailbox(json!({"localPart": "flood"}));
    let addr = m["address"].as_str().unwrap().to_string();
    let mut smtp = s.smtp();
    assert_eq!(code(&smtp.cmd("EHLO flood.test")), 250);
    for i in 0..60 {
        let body = format!("From: a@example.test\r\nTo: {addr}\r\nSubject: flood {i}\r\n\r\nx\r\n");
        let r = smtp.deliver("a@example.test", &[&addr], &body);
        assert_eq!(code(&r), 250, "{r}");
    }
    node(
        "flood.mjs",
        &s,
        &[
            (
                "MAILIY_FLOOD_MAILBOX",
                m["id"].as_str().unwrap().to_string(),
            ),
            ("MAILIY_FLOOD_ADDRESS", addr),
        ],
        Duration::from_secs(60),
    );
}

/// Mail streaming into the open mailbox: one row per message (never a rebuilt list), the
/// selection kept, the counts, and 500 rows with a steady element count past the cap.
#[test]
fn browser_live_stream_updates_the_list_in_place() {
    let s = Server::start(&["--default-tier", "pro"]);
    let m = s.mailbox(json!({"localPart": "stream"}));
    node(
        "stream.mjs",
        &s,
        &[
            (
                "MAILIY_STREAM_MAILBOX",
                m["id"].as_str().unwrap().to_string(),
            ),
            (
                "MAILIY_STREAM_ADDRESS",
                m["address"].as_str().unwrap().to_string(),
            ),
        ],
        Duration::from_secs(120),
    );
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

/// Every `tests/corpus/xss` message rendered in the real UI: no script runs, no request reaches
/// 127.0.0.1:9; a remote image loads only after "Load".
#[test]
fn browser_xss_corpus_is_inert() {
    let s = Server::start(&[]);
    let corpus = s.mailbox(json!({"localPart": "browser-xss", "tier": "pro"}));
    let remote = s.mailbox(json!({"localPart": "browser-remote", "tier": "pro"}));
    let (corpus_addr, remote_addr) = (
        corpus["address"].as_str().unwrap().to_string(),
        remote["address"].as_str().unwrap().to_string(),
    );
    let mut cases = Vec::new();
    files(&root().join("tests/corpus/xss"), &mut cases);
    cases.sort();
    assert!(cases.len() >= 200, "only {} xss cases", cases.len());
    let t0 = Instant::now();
    let mut smtp = s.smtp();
    assert_eq!(code(&smtp.cmd("EHLO browser.test")), 250);
    let mut stored = 0;
    for f in &cases {
        let raw = std::fs::read(f).unwrap();
        assert_eq!(code(&smtp.cmd("MAIL FROM:<corpus@example.test>")), 250);
        assert_eq!(
            code(&smtp.cmd(&format!("RCPT TO:<{corpus_addr}>"))),
            250,
            "{}",
            f.display()
        );
        assert_eq!(code(&smtp.cmd("DATA")), 354);
        smtp.send(&stuff_raw(&raw));
        let r = smtp.reply();
        if code(&r) == 250 {
            stored += 1;
        } else {
            eprintln!("{}: not stored: {}", f.display(), r.trim());
            smtp.cmd("RSET");
        }
    }
    let pixel = format!(
        "From: News <news@example.test>\r\nTo: {remote_addr}\r\nSubject: Remote pixel\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello with a picture</p>\
         <img src=\"http://127.0.0.1:9/pixel-ok\" alt=\"pixel\">\r\n"
    );
    let r = smtp.deliver("news@example.test", &[&remote_addr], &pixel);
    assert_eq!(code(&r), 250, "{r}");
    eprintln!(
        "delivered {stored} of {} xss messages in {:.1?}",
        cases.len(),
        t0.elapsed()
    );
    assert!(stored >= 200, "only {stored} xss messages stored");
    node(
        "xss.mjs",
        &s,
        &[
            (
                "MAILIY_XSS_MAILBOX",
                corpus["id"].as_str().unwrap().to_string(),
            ),
            ("MAILIY_XSS_COUNT", stored.to_string()),
            (
                "MAILIY_REMOTE_MAILBOX",
                remote["id"].as_str().unwrap().to_string(),
            ),
        ],
        Duration::from_secs(180),
    );
}

/// The reader's layout at 1440, 1024 and 390 px, light and dark: one scroll (the frame fills the
/// pane to the window's bottom), preview widths, the HTML source tab, arrow keys in the tabs,
/// "Open link" beside the code, list and reader side by side at 1024, Back at 390.
#[test]
fn browser_reader_layout() {
    let s = Server::start(&[]);
    node("reader-layout.mjs", &s, &[], Duration::from_secs(110));
}

/// The reader with real HTML mail: a link in a message opens in a new page, every inline
/// `cid:` image (ours and the corpus's) has pixels, a foreign site cannot read an attachment.
#[test]
fn browser_reader_opens_links_and_shows_inline_images() {
    let s = Server::start(&[]);
    let corpus = s.mailbox(json!({"localPart": "browser-cid", "tier": "pro"}));
    let addr = corpus["address"].as_str().unwrap().to_string();
    let mut cases = Vec::new();
    files(&root().join("tests/corpus/real"), &mut cases);
    cases.retain(|f| {
        let raw = std::fs::read(f).unwrap_or_default();
        raw.windows(4).any(|w| w.eq_ignore_ascii_case(b"cid:"))
    });
    cases.sort();
    assert!(
        cases.len() >= 10,
        "only {} corpus messages with cid:",
        cases.len()
    );
    let mut smtp = s.smtp();
    assert_eq!(code(&smtp.cmd("EHLO browser.test")), 250);
    for f in &cases {
        assert_eq!(code(&smtp.cmd("MAIL FROM:<corpus@example.test>")), 250);
        assert_eq!(code(&smtp.cmd(&format!("RCPT TO:<{addr}>"))), 250);
        assert_eq!(code(&smtp.cmd("DATA")), 354);
        smtp.send(&stuff_raw(&std::fs::read(f).unwrap()));
        let r = smtp.reply();
        assert_eq!(code(&r), 250, "{}: {r}", f.display());
    }
    node(
        "reader.mjs",
        &s,
        &[(
            "MAILIY_CID_MAILBOX",
            corpus["id"].as_str().unwrap().to_string(),
        )],
        Duration::from_secs(100),
    );
}

/// The inbox as a new user meets it: the first start's two ways, the refusals banner and its
/// buttons, extend at the cap, the row menu, All inboxes, `[` `]` `?` Esc, aria-activedescendant,
/// the server-side search and its inline error, unread in title and favicon, the theme, emoji;
/// screenshots at 1440, 1024 and 390 px, light and dark.
#[test]
fn browser_inbox() {
    let s = Server::start(&[]);
    node("inbox.mjs", &s, &[], Duration::from_secs(120));
}

/// Delete with Undo: Undo restores; after the window the message is gone from the engine and its
/// token from every file of the data dir; a pending delete goes out as the page closes; ticked
/// rows delete together or are marked read; Mark all read, Empty mailbox; deleting an address
/// with mail asks first.
#[test]
fn browser_delete_with_undo_leaves_no_trace() {
    let s = Server::start(&[]);
    let token = format!("UNDO{}Z", std::process::id() as u64 * 7919 + 4243);
    let mbx = s.mailbox(json!({"localPart": "undo-forensic"}));
    let addr = mbx["address"].as_str().unwrap().to_string();
    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO undo.test")), 250);
    let body = format!("the token {token} inside");
    let r = c.deliver(
        "a@b.test",
        &[&addr],
        &crate::common::simple_message("a@b.test", &addr, &format!("secret {token}"), &body),
    );
    assert_eq!(code(&r), 250, "{r}");
    // The search index keeps words lower-cased: that form must go too.
    let forms = [token.clone(), token.to_lowercase()];
    let holding = |s: &Server| -> Vec<String> {
        files_under(&s.data_dir)
            .iter()
            .filter(|(_, b)| forms.iter().any(|f| occurrences(b, f.as_bytes()) > 0))
            .map(|(p, _)| p.display().to_string())
            .collect()
    };
    // On disk while it lives, so its absence afterwards means something.
    assert!(
        !holding(&s).is_empty(),
        "the token is on disk before the delete"
    );
    node(
        "undo.mjs",
        &s,
        &[("UNDO_TOKEN", token.clone()), ("UNDO_MAILBOX", addr)],
        Duration::from_secs(80),
    );
    eventually("no file holds the deleted message's token", || {
        holding(&s).is_empty().then_some(())
    });
}

/// axe-core on the inbox, the reader and settings, light and dark, at 1440 and 390 px: no
/// serious or critical violation (contrast included).
#[test]
fn browser_accessibility_axe() {
    let s = Server::start(&[]);
    node("a11y.mjs", &s, &[], Duration::from_secs(120));
}

/// The reader's check tabs (HTML check, Link check, Spam check) against a real spamd and a
/// link target on loopback: each clicked, its findings seen, screenshots taken.
#[test]
fn browser_reader_check_tabs() {
    let spamd = crate::checks::Spamd::start();
    let s = Server::start(&[
        "--link-check-allow",
        "loopback",
        "--spamassassin",
        &spamd.addr.to_string(),
    ]);
    node("checks.mjs", &s, &[], Duration::from_secs(90));
}

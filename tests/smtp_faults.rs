//! Faults on demand against the real `mailiy serve`: each fault mode set through `PUT /v1/faults`
//! (or `--faults FILE`) and observed by Python smtplib with its exact code and text, as an app's
//! error handling would see it; "next N" counts, greylisting passed by a client that retries
//! like an MTA, a rate limit that resets after its window, slow replies, a cut in the middle of
//! DATA with nothing stored, and PUT validation that leaves the old configuration in force.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// Sends one message per attempt with smtplib and prints one line per attempt:
/// `ok`, or the exception's name, code and text (`SMTPRecipientsRefused 451 4.7.1 ...`).
/// Modes: `once N` (N attempts, each on a new connection); `retry` (like an MTA: after a 4xx,
/// wait a second and try again, up to 10 times; prints the attempts and the seconds taken).
const PY: &str = r#"
import smtplib, sys, time
mode, host, port, rcpt, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
msg = "From: app@example.test\r\nTo: %s\r\nSubject: faults\r\n\r\n%s\r\n" % (rcpt, "x" * 200)

if mode == "once":
    for _ in range(n):
        try:
            with smtplib.SMTP(host, port, timeout=20) as s:
                s.sendmail("app@example.test", [rcpt], msg)
            print("ok")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[rcpt]
            print("SMTPRecipientsRefused %d %s" % (code, text.decode()))
        except smtplib.SMTPServerDisconnected:
            print("SMTPServerDisconnected")
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
            print("%s %d %s" % (type(e).__name__, e.smtp_code, e.smtp_error.decode()))
elif mode == "retry":
    start = time.monotonic()
    for tries in range(1, 11):
        try:
            with smtplib.SMTP(host, port, timeout=20) as s:
                s.sendmail("app@example.test", [rcpt], msg)
            print("ok attempts=%d seconds=%.2f" % (tries, time.monotonic() - start))
            break
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[rcpt]
            print("SMTPRecipientsRefused %d %s" % (code, text.decode()))
            if code >= 500:
                break
            time.sleep(1)
"#;

/// Runs the Python client; returns its lines.
fn smtplib(mode: &str, addr: SocketAddr, rcpt: &str, n: usize) -> Vec<String> {
    let out = Command::new("python3")
        .args(["-c", PY, mode])
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(rcpt)
        .arg(n.to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// One attempt; its line.
fn send_once(s: &Server, rcpt: &str) -> String {
    smtplib("once", s.smtp, rcpt, 1).remove(0)
}

fn put_faults(s: &Server, body: &str) -> (u16, Value) {
    let r = ureq::put(&s.url("/v1/faults"))
        .set("Content-Type", "application/json")
        .send_string(body);
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            (status, r.into_json().expect("a JSON answer"))
        }
        Err(e) => panic!("PUT /v1/faults: {e}"),
    }
}

fn set_faults(s: &Server, body: Value) -> Value {
    let (status, v) = put_faults(s, &body.to_string());
    assert_eq!(status, 200, "{v}");
    v
}

/// A server with one mailbox; returns its address.
fn server() -> (Server, String) {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "app"}));
    let address = m["address"].as_str().expect("address").to_string();
    (s, address)
}

fn fault_refusals(s: &Server) -> u64 {
    let (_, body, _) = s.get_bytes("/metrics");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("mailiy_messages_rejected_total{reason=\"fault\"} "))
        .and_then(|v| v.parse().ok())
        .expect("the fault counter in /metrics")
}

#[test]
fn each_stage_answers_its_exact_code_to_smtplib_and_nothing_is_stored() {
    let (s, rcpt) = server();
    let (status, v) = s.get("/v1/faults");
    assert_eq!(status, 200);
    assert_eq!(v["active"], false, "off by default: {v}");
    assert_eq!(send_once(&s, &rcpt), "ok");
    let cases = [
        (
            json!({"rules": [{"stage": "connect", "code": 554, "text": "5.3.2 Not accepting mail"}]}),
            "SMTPConnectError 554 5.3.2 Not accepting mail",
        ),
        (
            json!({"rules": [{"stage": "helo", "code": 554, "text": "5.7.1 Go away", "probability": 1.0}]}),
            "SMTPHeloError 554 5.7.1 Go away",
        ),
        (
            json!({"rules": [{"stage": "mail", "code": 451, "text": "4.3.0 Sender check failed"}]}),
            "SMTPSenderRefused 451 4.3.0 Sender check failed",
        ),
        (
            json!({"rules": [{"stage": "rcpt", "code": 450, "text": "4.2.1 Try later", "recipient": rcpt}]}),
            "SMTPRecipientsRefused 450 4.2.1 Try later",
        ),
        (
            json!({"rules": [{"stage": "data", "code": 554, "text": "5.5.0 No DATA today"}]}),
            "SMTPDataError 554 5.5.0 No DATA today",
        ),
        (
            json!({"rules": [{"stage": "dataEnd", "code": 552, "text": "5.3.4 Refused at the dot"}]}),
            "SMTPDataError 552 5.3.4 Refused at the dot",
        ),
        (
            json!({"mailboxes": [{"address": rcpt, "answer": "full"}]}),
            "SMTPRecipientsRefused 452 4.2.2 Mailbox full (Mailiy faults)",
        ),
        (
            json!({"mailboxes": [{"address": rcpt, "answer": "unknown"}]}),
            "SMTPRecipientsRefused 550 5.1.1 No such mailbox here (Mailiy faults)",
        ),
        (
            json!({"rules": [{"stage": "data", "disconnectAfterBytes": 64}]}),
            "SMTPServerDisconnected",
        ),
    ];
    for (config, want) in &cases {
        let v = set_faults(&s, config.clone());
        assert_eq!(v["active"], true, "{v}");
        let before = fault_refusals(&s);
        assert_eq!(send_once(&s, &rcpt), *want, "{config}");
        assert!(fault_refusals(&s) > before, "counted in /metrics: {config}");
    }
    assert_eq!(
        s.messages(&rcpt).len(),
        1,
        "only the message sent before the faults"
    );
    let v = set_faults(&s, json!({}));
    assert_eq!(v["active"], false);
    assert_eq!(send_once(&s, &rcpt), "ok", "all off again");
    assert_eq!(s.messages(&rcpt).len(), 2);
}

#[test]
fn a_count_refuses_the_next_n_attempts_then_mail_goes_through() {
    let (s, rcpt) = server();
    set_faults(
        &s,
        json!({"rules": [{"stage": "rcpt", "code": 451, "text": "4.4.5 Busy, retry", "count": 2}]}),
    );
    let lines = smtplib("once", s.smtp, &rcpt, 3);
    assert_eq!(
        lines,
        [
            "SMTPRecipientsRefused 451 4.4.5 Busy, retry",
            "SMTPRecipientsRefused 451 4.4.5 Busy, retry",
            "ok"
        ]
    );
    assert_eq!(s.messages(&rcpt).len(), 1);
    let (_, v) = s.get("/v1/faults");
    assert_eq!(v["rules"][0]["count"], 0, "{v}");
    assert_eq!(v["active"], false, "a spent count is off: {v}");
}

#[test]
fn greylisting_is_passed_by_a_client_that_retries_after_the_delay() {
    let (s, rcpt) = server();
    set_faults(&s, json!({"greylist": {"delaySeconds": 2}}));
    let lines = smtplib("retry", s.smtp, &rcpt, 1);
    let last = lines.last().expect("a result");
    assert!(last.starts_with("ok attempts="), "{lines:?}");
    let refusals = &lines[..lines.len() - 1];
    assert!(
        refusals.len() >= 2,
        "first attempt and a too-early retry: {lines:?}"
    );
    for r in refusals {
        assert!(
            r.starts_with("SMTPRecipientsRefused 451 4.7.1 Greylisted"),
            "{lines:?}"
        );
    }
    let seconds: f64 = last
        .rsplit("seconds=")
        .next()
        .and_then(|v| v.parse().ok())
        .expect("seconds");
    assert!(seconds >= 2.0, "accepted only after the delay: {lines:?}");
    assert_eq!(s.messages(&rcpt).len(), 1);
    // Once passed, the triplet is remembered: the next message goes through at once.
    assert_eq!(send_once(&s, &rcpt), "ok");
}

#[test]
fn the_rate_limit_refuses_past_n_messages_and_resets_after_its_window() {
    let (s, rcpt) = server();
    set_faults(
        &s,
        json!({"rateLimit": {"messages": 2, "windowSeconds": 2, "per": "client", "code": 421}}),
    );
    let started = Instant::now();
    let lines = smtplib("once", s.smtp, &rcpt, 3);
    assert_eq!(lines[..2], ["ok", "ok"], "{lines:?}");
    assert_eq!(
        lines[2], "SMTPSenderRefused 421 4.7.0 Rate limit: 2 messages per 2 s, try again later",
        "{lines:?}"
    );
    std::thread::sleep(
        Duration::from_secs(2).saturating_sub(started.elapsed()) + Duration::from_millis(200),
    );
    assert_eq!(send_once(&s, &rcpt), "ok", "a new window");
    assert_eq!(s.messages(&rcpt).len(), 3);
}

#[test]
fn slow_replies_wait_at_least_the_delay_set() {
    let (s, rcpt) = server();
    let started = Instant::now();
    assert_eq!(send_once(&s, &rcpt), "ok");
    let fast = started.elapsed();
    set_faults(
        &s,
        json!({"rules": [{"stage": "mail", "delayMs": 700}, {"stage": "rcpt", "delayMs": 800}]}),
    );
    let started = Instant::now();
    assert_eq!(send_once(&s, &rcpt), "ok");
    let slow = started.elapsed();
    assert!(
        slow >= Duration::from_millis(1500),
        "took {slow:?} (without the delays {fast:?})"
    );
    assert_eq!(s.messages(&rcpt).len(), 2, "slow, but delivered");
}

#[test]
fn a_bad_put_is_a_400_naming_the_field_and_the_old_faults_stay() {
    let (s, rcpt) = server();
    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    let good = json!({"rules": [{"stage": "rcpt", "code": 451, "text": "4.3.0 Kept"}]});
    set_faults(&s, good.clone());
    let ev = events.next_named("faults.updated").expect("faults.updated");
    let data: Value = serde_json::from_str(&ev.data).expect("event JSON");
    assert_eq!(data["faults"]["rules"][0]["code"], 451, "{data}");
    assert_eq!(data["faults"]["active"], true, "{data}");
    for (body, field) in [
        (
            r#"{"rules":[{"stage":"rcpt","code":250}]}"#,
            "rules[0].code",
        ),
        (
            r#"{"rules":[{"stage":"rcpt","code":"451"}]}"#,
            "rules[0].code",
        ),
        (
            r#"{"rules":[{"stage":"later","code":451}]}"#,
            "rules[0].stage",
        ),
        (
            r#"{"rules":[{"stage":"mail","code":451,"probability":1.5}]}"#,
            "rules[0].probability",
        ),
        (
            r#"{"greylist":{"delaySeconds":-1}}"#,
            "greylist.delaySeconds",
        ),
        (
            r#"{"rateLimit":{"messages":1,"windowSeconds":0}}"#,
            "rateLimit.windowSeconds",
        ),
        (
            r#"{"mailboxes":[{"answer":"full"}]}"#,
            "mailboxes[0].address",
        ),
        (r#"{"rules":[],"greylisting":{}}"#, "greylisting"),
        (r#"{"rules":["#, "not valid JSON"),
    ] {
        let (status, v) = put_faults(&s, body);
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_faults", "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "{body}: {message:?} should name {field}"
        );
    }
    let (_, v) = s.get("/v1/faults");
    assert_eq!(
        v["rules"], good["rules"],
        "the old configuration is in force: {v}"
    );
    assert_eq!(send_once(&s, &rcpt), "SMTPRecipientsRefused 451 4.3.0 Kept");
}

#[test]
fn faults_from_a_file_at_start_and_a_bad_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("faults.json");
    std::fs::write(
        &file,
        r#"{"rules":[{"stage":"rcpt","code":451,"text":"4.7.0 From the file"}]}"#,
    )
    .expect("write");
    let s = Server::start(&["--faults", file.to_str().expect("path")]);
    let (_, v) = s.get("/v1/faults");
    assert_eq!(v["active"], true, "{v}");
    let m = s.mailbox(json!({"localPart": "app"}));
    let rcpt = m["address"].as_str().expect("address");
    assert_eq!(
        send_once(&s, rcpt),
        "SMTPRecipientsRefused 451 4.7.0 From the file"
    );
    drop(s);

    std::fs::write(&file, r#"{"rules":[{"stage":"rcpt","code":200}]}"#).expect("write");
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin())
        .args([
            "serve",
            "--smtp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--faults")
        .arg(&file)
        .output()
        .expect("run mailiy");
    assert!(
        !out.status.success(),
        "a bad fault file must stop the start"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[0].code"), "{err}");
}

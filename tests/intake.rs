//! Pause intake (`/v1/intake`): new SMTP sessions hear 421 4.3.2 while paused, mail flows again
//! after the resume, and the change is announced.

use std::process::Command;

use crate::common::*;

/// smtplib sends one message and prints the SMTP code it got: 250, or the refusal's code.
const PY: &str = r#"
import smtplib, sys
host, port, to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msg = "From: a@example.com\r\nTo: %s\r\nSubject: while paused?\r\n\r\nbody\r\n" % to
try:
    with smtplib.SMTP(host, port, timeout=10) as s:
        s.sendmail("a@example.com", [to], msg)
    print("code=250")
except smtplib.SMTPConnectError as e:
    print("code=%d" % e.smtp_code)
    print("text=%s" % e.smtp_error.decode())
"#;

fn smtplib(s: &Server, to: &str) -> Vec<(String, String)> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY, "127.0.0.1", &s.smtp.port().to_string(), to]);
    run_client(&mut cmd, "python smtplib")
}

/// Everything the server sends a new connection before it closes it.
fn first_bytes(s: &Server) -> String {
    use std::io::Read;
    let mut tcp = std::net::TcpStream::connect(s.smtp).expect("connect");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut all = String::new();
    tcp.read_to_string(&mut all).expect("read until the close");
    all
}

pub fn put_intake(s: &Server, body: Value) -> (u16, Value) {
    match ureq::put(&s.url("/v1/intake")).send_json(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            (status, r.into_json().unwrap_or(Value::Null))
        }
        Err(e) => panic!("PUT /v1/intake: {e}"),
    }
}

#[test]
fn paused_intake_answers_421_to_smtplib_and_delivers_after_resume() {
    let s = Server::start(&[]);
    let address = s.mailbox(json!({}))["address"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, open) = s.get("/v1/intake");
    assert_eq!((status, open["paused"].as_bool()), (200, Some(false)));

    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    let (status, paused) = put_intake(&s, json!({"paused": true}));
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused"], true);
    assert!(paused["pausedAt"].is_string());
    let ev = events.next_named("intake.updated").expect("intake.updated");
    assert!(ev.data.contains("\"paused\":true"), "{}", ev.data);

    let got = smtplib(&s, &address);
    assert_eq!(value(&got, "code"), "421");
    assert_eq!(value(&got, "text"), "4.3.2 Intake paused, try again later");
    assert!(s.messages(&address).is_empty());

    // A raw client sees the one line and then the close, never a greeting.
    assert_eq!(
        first_bytes(&s),
        "421 4.3.2 Intake paused, try again later\r\n"
    );

    let (status, resumed) = put_intake(&s, json!({"paused": false}));
    assert_eq!((status, resumed["paused"].as_bool()), (200, Some(false)));
    assert_eq!(value(&smtplib(&s, &address), "code"), "250");
    eventually("the message after resume", || {
        (s.messages(&address).len() == 1).then_some(())
    });
}

#[test]
fn a_chosen_reply_is_given_and_bad_ones_are_refused() {
    let s = Server::start(&[]);
    let (status, v) = put_intake(
        &s,
        json!({"paused": true, "code": 554, "text": "5.3.2 Not taking mail today"}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(first_bytes(&s), "554 5.3.2 Not taking mail today\r\n");

    for bad in [
        json!({"code": 250}),
        json!({"text": "two\r\n250 lines"}),
        json!({"paused": "yes"}),
        json!({"other": 1}),
    ] {
        let (status, v) = put_intake(&s, bad.clone());
        assert!(status == 422 || status == 400, "{bad} gave {status} {v}");
    }
    // Refused changes left the pause as it was.
    let (_, now) = s.get("/v1/intake");
    assert_eq!(
        (now["paused"].as_bool(), now["code"].as_u64()),
        (Some(true), Some(554))
    );
}

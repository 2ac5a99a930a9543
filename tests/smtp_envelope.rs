//! The envelope, the session transcript and the refusals, through the real `mailiy serve`:
//! Python smtplib sends (with a Bcc, over STARTTLS, with AUTH), raw sockets make the refusals,
//! and the API is read back.

use std::process::Command;

use serde_json::Value;

use crate::common::*;

/// Sends one message with smtplib to every address in RCPTS (comma-separated), the headers
/// naming only the first. Modes: `plain`; `tls` (STARTTLS verifying CAFILE, then AUTH PLAIN
/// with user `app` and PASSWORD). Prints `key=value` lines.
const PY: &str = r#"
import base64, smtplib, ssl, sys
mode, host, port, cafile, rcpts, token, password = sys.argv[1:8]
rcpts = rcpts.split(",")
msg = "From: app@example.test\r\nTo: %s\r\nSubject: envelope\r\n\r\nbody %s\r\n" % (rcpts[0], token)
with smtplib.SMTP(host, int(port), local_hostname="app.example.test") as s:
    if mode == "tls":
        s.starttls(context=ssl.create_default_context(cafile=cafile))
        s.ehlo("app.example.test")
        # PLAIN, whose base64 the test looks for (login() would pick CRAM-MD5 first).
        s.user, s.password = "app", password
        s.auth("PLAIN", s.auth_plain)
        print("version=" + s.sock.version())
    s.sendmail("app@example.test", rcpts, msg)
print("plain_b64=" + base64.b64encode(("\0app\0" + password).encode()).decode())
"#;

fn python(
    mode: &str,
    s: &Server,
    rcpts: &[&str],
    token: &str,
    password: &str,
) -> Vec<(String, String)> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY, mode, "127.0.0.1", &s.smtp.port().to_string()])
        .arg(s.data_dir.join("tls-cert.pem"))
        .args([&rcpts.join(","), token, password]);
    run_client(&mut cmd, &format!("python {mode}"))
}

fn token(what: &str) -> String {
    format!("{what}{}x{}", std::process::id(), rand_part())
}

fn rand_part() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The only message of a mailbox, in full.
fn only_message(s: &Server, address: &str) -> Value {
    let list = s.messages(address);
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().unwrap();
    let (st, full) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(address)));
    assert_eq!(st, 200, "{full}");
    full
}

/// The transcript lines of a mailbox's only message, as "client: text" / "server: text".
fn transcript(s: &Server, address: &str) -> (Vec<String>, String) {
    let id = s.messages(address)[0]["id"].as_str().unwrap().to_string();
    let (st, v) = s.get(&format!(
        "/v1/mailbox/{}/messages/{id}/session",
        enc(address)
    ));
    assert_eq!(st, 200, "{v}");
    let lines = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert!(l["t"].is_u64(), "{l}");
            format!(
                "{}: {}",
                l["direction"].as_str().unwrap(),
                l["text"].as_str().unwrap()
            )
        })
        .collect();
    (lines, v.to_string())
}

fn refusals(s: &Server, query: &str) -> Vec<Value> {
    let (st, v) = s.get(&format!("/v1/refusals{query}"));
    assert_eq!(st, 200, "{v}");
    v.as_array().unwrap().clone()
}

#[test]
fn smtplib_with_a_bcc_shows_the_envelope_the_bcc_and_a_transcript_without_the_body() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "shown"}));
    s.mailbox(json!({"localPart": "hidden"}));
    let (shown, hidden) = ("shown@mailiy.localhost", "hidden@mailiy.localhost");
    let body = token("BODY");
    python("plain", &s, &[shown, "Hidden@Mailiy.localhost"], &body, "-");

    for address in [shown, hidden] {
        let m = only_message(&s, address);
        let e = &m["envelope"];
        assert_eq!(e["mailFrom"], "app@example.test");
        // Each copy names only its own recipient (lower-cased): the To recipient's copy never
        // learns of the Bcc, and the Bcc recipient's copy says it was one.
        assert_eq!(e["rcptTo"], json!([address]), "{e}");
        assert_eq!(e["helo"], "app.example.test");
        assert!(
            e["client"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{e}"
        );
        assert_eq!(e["authUser"], Value::Null);
        assert_eq!(e["tls"], Value::Null);
        let bcc = if address == hidden {
            json!([hidden])
        } else {
            json!([])
        };
        assert_eq!(m["bcc"], bcc, "in the envelope, in no header: {address}");
    }
    let (shown_lines, _) = transcript(&s, shown);
    assert!(
        shown_lines
            .iter()
            .any(|l| l == "client: RCPT TO:<…> (another recipient)"),
        "{shown_lines:#?}"
    );
    assert!(
        !shown_lines
            .iter()
            .any(|l| l.to_lowercase().contains("hidden")),
        "the To copy's transcript names the Bcc: {shown_lines:#?}"
    );

    let (lines, json) = transcript(&s, hidden);
    let has = |prefix: &str| {
        lines
            .iter()
            .any(|l| l.to_lowercase().starts_with(&prefix.to_lowercase()))
    };
    for want in [
        "server: 220 ",
        "client: ehlo app.example.test",
        "server: 250-",
        "client: mail from:<app@example.test>",
        "client: rcpt to:<…> (another recipient)",
        "client: rcpt to:<Hidden@Mailiy.localhost>",
        "server: 250 2.1.5",
        "client: data",
        "server: 354 ",
    ] {
        assert!(has(want), "no {want:?} in {lines:#?}");
    }
    assert!(
        !json.contains(&body),
        "message content in the transcript: {json}"
    );
    assert!(!json.contains("Subject"), "headers are content too");
}

#[test]
fn over_starttls_the_envelope_shows_tls_and_auth_secrets_never_reach_the_transcript() {
    let s = Server::start(&["--smtp-auth-accept-any"]);
    s.mailbox(json!({"localPart": "tls"}));
    let rcpt = "tls@mailiy.localhost";
    let password = token("PASSWORD");
    let out = python("tls", &s, &[rcpt], &token("BODY"), &password);
    assert_eq!(value(&out, "version"), "TLSv1.3");

    let m = only_message(&s, rcpt);
    let tls = &m["envelope"]["tls"];
    assert_eq!(tls["version"], "TLSv1.3", "{m}");
    let cipher = tls["cipher"].as_str().unwrap();
    assert!(cipher.starts_with("TLS13_"), "{cipher}");
    assert_eq!(m["envelope"]["authUser"], "app", "the user it logged in as");

    let (lines, json) = transcript(&s, rcpt);
    assert!(lines.iter().any(|l| l == "client: STARTTLS"), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l == "client: AUTH PLAIN <redacted>"),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("server: 235")));
    assert!(!json.contains(&password), "password in the transcript");
    assert!(
        !json.contains(value(&out, "plain_b64")),
        "credentials in the transcript"
    );
}

#[test]
fn a_long_session_keeps_its_latest_lines_within_the_bound() {
    let s = Server::start(&["--smtp-transcript-lines", "20"]);
    s.mailbox(json!({"localPart": "long"}));
    let rcpt = "long@mailiy.localhost";
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    for i in 0..40 {
        let cmd = if i % 2 == 0 { "NOOP" } else { "RSET" };
        assert_eq!(code(&c.cmd(cmd)), 250);
    }
    let r = c.deliver("a@b.test", &[rcpt], "Subject: long\r\n\r\nhi\r\n");
    assert_eq!(code(&r), 250, "{r}");
    let (lines, _) = transcript(&s, rcpt);
    // The session's opening, a note for the 80-odd lines left out, and the transaction.
    assert_eq!(lines.len(), 20, "20 lines, the note among them: {lines:#?}");
    assert!(lines[0].starts_with("server: 220 "), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("server: [") && l.contains("earlier lines not kept")),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "server: 354 3.0.0 Send the message, end with <CRLF>.<CRLF>"
    );
    assert!(lines
        .iter()
        .any(|l| l == "client: RCPT TO:<long@mailiy.localhost>"));
}

#[test]
fn refusals_list_550_and_552_with_their_transcript_and_go_with_the_mailbox() {
    let s = Server::start(&["--anon-max-message", "1KiB"]);
    s.mailbox(json!({"localPart": "small"}));
    let small = "small@mailiy.localhost";
    let unknown = format!("{}@mailiy.localhost", token("nobody").to_lowercase());
    let mut c = s.smtp();
    c.cmd("EHLO refuser.test");
    assert_eq!(code(&c.cmd("MAIL FROM:<app@example.test>")), 250);
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{unknown}>"))), 550);
    assert_eq!(code(&c.cmd(&format!("RCPT TO:<{small}>"))), 250);
    assert_eq!(code(&c.cmd("DATA")), 354);
    c.send(format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(2048)).as_bytes());
    assert_eq!(code(&c.reply()), 552);

    let all = refusals(&s, "");
    assert_eq!(all.len(), 2, "{all:#?}");
    let (too_big, unknown_rcpt) = (&all[0], &all[1]);
    assert_eq!(unknown_rcpt["code"], 550);
    assert_eq!(unknown_rcpt["recipients"], json!([unknown]));
    assert_eq!(unknown_rcpt["mailFrom"], "app@example.test");
    assert!(unknown_rcpt["client"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(unknown_rcpt["reply"]
        .as_str()
        .unwrap()
        .starts_with("550 5.1.1"));
    assert!(unknown_rcpt["time"].as_str().unwrap().ends_with('Z'));
    let excerpt = unknown_rcpt["transcript"].as_array().unwrap();
    assert_eq!(
        excerpt.last().unwrap()["text"].as_str().unwrap()[..3],
        *"550"
    );
    assert!(excerpt.iter().any(|l| l["text"] == "EHLO refuser.test"));
    assert_eq!(too_big["code"], 552);
    assert_eq!(too_big["recipients"], json!([small]));
    assert!(
        !too_big.to_string().contains("xxxxxxxx"),
        "no content: {too_big}"
    );

    let only_small = refusals(&s, &format!("?mailbox={}", enc(small)));
    assert_eq!(only_small.len(), 1);
    assert_eq!(only_small[0]["code"], 552);
    assert_eq!(refusals(&s, "?limit=1").len(), 1);
    let (st, v) = s.get("/v1/refusals?limit=0");
    assert_eq!(
        (st, &v["error"]["code"]),
        (422, &json!("invalid_value")),
        "{v}"
    );

    // Deleting the mailbox forgets every refusal naming it; the 550 came before its RCPT.
    assert_eq!(s.delete(&format!("/v1/mailbox/{}", enc(small))), 204);
    let left = refusals(&s, "");
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["code"], 550);
}

#[test]
fn refusals_age_out_and_go_when_their_mailbox_expires() {
    let s = Server::start(&["--refusals-max-age", "1"]);
    let mut c = s.smtp();
    c.cmd("EHLO t");
    c.cmd("MAIL FROM:<a@b.test>");
    assert_eq!(code(&c.cmd("RCPT TO:<gone@mailiy.localhost>")), 550);
    assert_eq!(refusals(&s, "").len(), 1);
    eventually("the refusal's age-out", || {
        refusals(&s, "").is_empty().then_some(())
    });

    let s = Server::start(&["--anon-max-message", "1KiB"]);
    s.mailbox(json!({"localPart": "brief", "expiresAt": rfc3339_in(1500)}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    c.cmd("MAIL FROM:<a@b.test> SIZE=4096");
    assert_eq!(code(&c.cmd("RCPT TO:<brief@mailiy.localhost>")), 552);
    assert_eq!(refusals(&s, "").len(), 1);
    eventually("the mailbox's expiry", || {
        refusals(&s, "").is_empty().then_some(())
    });
    let (_, list) = s.get("/v1/mailbox");
    assert_eq!(list, json!([]));
}

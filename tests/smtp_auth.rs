//! SMTP AUTH and an inbox per app, against the real `mailiy serve`: Python smtplib logging in
//! with PLAIN, LOGIN and CRAM-MD5 (`--smtp-auth any`, the default) and with a bcrypt users
//! file; raw sockets for the failures (bad base64, a cancelled exchange, the error limit, AUTH
//! twice); LAN mode (AUTH required, only over TLS). Where mail landed is read from the API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Logs in with MECH (PLAIN, LOGIN or CRAM-MD5; `-` for none) as USER / PASSWORD, after
/// STARTTLS when CAFILE is not `-`, then sends one message with subject SUBJECT to the RCPT
/// arguments. Prints `key=value` lines: what EHLO offered for AUTH, the login's code, the send's.
const PY: &str = r#"
import smtplib, ssl, sys
host, port, cafile, mech, user, password, subject = sys.argv[1:8]
rcpts = sys.argv[8:]
msg = "From: app@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\nfrom an app\r\n" % (rcpts[0], subject)
with smtplib.SMTP(host, int(port), timeout=10) as s:
    if cafile != "-":
        s.starttls(context=ssl.create_default_context(cafile=cafile))
    s.ehlo()
    print("ehlo_auth=" + s.esmtp_features.get("auth", "").strip())
    if mech != "-":
        s.user, s.password = user, password
        handler = getattr(s, "auth_" + mech.lower().replace("-", "_"))
        try:
            code, _ = s.auth(mech, handler, initial_response_ok=(mech != "LOGIN"))
        except smtplib.SMTPAuthenticationError as e:
            code = e.smtp_code
        print("auth=%d" % code)
        if code != 235:
            sys.exit(0)
    try:
        s.sendmail("app@example.test", rcpts, msg)
        print("send=250")
    except smtplib.SMTPRecipientsRefused as e:
        print("send=%d" % list(e.recipients.values())[0][0])
    except smtplib.SMTPSenderRefused as e:
        print("send=%d" % e.smtp_code)
"#;

struct Login<'a> {
    mech: &'a str,
    user: &'a str,
    password: &'a str,
}

const fn login<'a>(mech: &'a str, user: &'a str, password: &'a str) -> Login<'a> {
    Login {
        mech,
        user,
        password,
    }
}

/// Runs the Python client; returns its `key=value` lines.
fn python(
    smtp: SocketAddr,
    cafile: Option<&Path>,
    l: &Login,
    subject: &str,
    rcpts: &[&str],
) -> Vec<(String, String)> {
    let cafile = cafile.map_or("-".into(), |p| p.display().to_string());
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY, "127.0.0.1", &smtp.port().to_string(), &cafile])
        .args([l.mech, l.user, l.password, subject])
        .args(rcpts);
    run_client(&mut cmd, &format!("python {}", l.mech))
}

/// The committed users file: shop / s3cret.
fn users_file() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp-users");
    format!("file:{}", path.display())
}

#[test]
fn python_logins_land_in_each_users_inbox_and_a_ui_address_keeps_its_copy() {
    let s = Server::start(&[]);
    let ui = s.mailbox(json!({"localPart": "made-in-ui"}));
    let ui = ui["address"].as_str().unwrap().to_string();
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let r = python(
            s.smtp,
            None,
            &login(mech, "shop", "anything"),
            mech,
            &["orders@customer.test", &ui, "second@customer.test"],
        );
        assert_eq!(value(&r, "ehlo_auth"), "PLAIN LOGIN CRAM-MD5");
        assert_eq!(value(&r, "auth"), "235", "{mech}");
        assert_eq!(value(&r, "send"), "250", "{mech}");
    }
    let r = python(
        s.smtp,
        None,
        &login("PLAIN", "Blog", "x"),
        "blog",
        &["reader@customer.test"],
    );
    assert_eq!(value(&r, "send"), "250");
    let r = python(
        s.smtp,
        None,
        &login("CRAM-MD5", "news@apps.test", "x"),
        "news",
        &["reader@customer.test"],
    );
    assert_eq!(value(&r, "send"), "250");

    // Two unknown recipients per message, one copy each in shop's inbox.
    let shop = "shop@mailiy.localhost";
    assert_eq!(subjects(&s, shop), ["CRAM-MD5", "LOGIN", "PLAIN"]);
    assert_eq!(subjects(&s, &ui), ["CRAM-MD5", "LOGIN", "PLAIN"]);
    assert_eq!(subjects(&s, "blog@mailiy.localhost"), ["blog"]);
    assert_eq!(subjects(&s, "news@apps.test"), ["news"]);
    let (st, m) = s.get(&format!("/v1/mailbox/{}", enc(shop)));
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["smtpUser"], "shop");
    assert_eq!(m["tier"], "anon", "the default tier");
    let (_, m) = s.get(&format!("/v1/mailbox/{}", enc(&ui)));
    assert!(m.get("smtpUser").is_none(), "{m}");
    assert_eq!(s.get("/v1/settings").1["smtpAuth"], "any");
}

#[test]
fn without_a_login_the_unknown_recipient_is_still_550() {
    let s = Server::start(&[]);
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert_eq!(code(&c.cmd("MAIL FROM:<app@example.test>")), 250);
    let r = c.cmd("RCPT TO:<orders@customer.test>");
    assert!(r.starts_with("550 5.1.1"), "{r}");
}

#[test]
fn a_users_file_checks_bcrypt_and_offers_no_cram_md5() {
    let s = Server::start(&["--smtp-auth", &users_file()]);
    let good = python(
        s.smtp,
        None,
        &login("PLAIN", "shop", "s3cret"),
        "good",
        &["orders@customer.test"],
    );
    assert_eq!(value(&good, "ehlo_auth"), "PLAIN LOGIN");
    assert_eq!(value(&good, "auth"), "235");
    assert_eq!(value(&good, "send"), "250");
    let good = python(
        s.smtp,
        None,
        &login("LOGIN", "shop", "s3cret"),
        "login",
        &["orders@customer.test"],
    );
    assert_eq!(value(&good, "auth"), "235");
    for l in [
        login("PLAIN", "shop", "wrong"),
        login("LOGIN", "blog", "s3cret"),
    ] {
        let bad = python(s.smtp, None, &l, "bad", &["orders@customer.test"]);
        assert_eq!(value(&bad, "auth"), "535", "{} {}", l.user, l.password);
    }
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert!(c.cmd("AUTH CRAM-MD5").starts_with("504 5.5.4"));
    assert_eq!(subjects(&s, "shop@mailiy.localhost"), ["good", "login"]);
    assert_eq!(s.get("/v1/settings").1["smtpAuth"], "file");
}

#[test]
fn auth_failures_are_501_535_and_503_and_end_at_the_error_limit() {
    let s = Server::start(&["--smtp-auth", &users_file(), "--smtp-max-errors", "5"]);
    let mut c = s.smtp();
    assert!(
        c.cmd("AUTH PLAIN AHNob3AAczNjcmV0").starts_with("503"),
        "before EHLO"
    );
    c.cmd("EHLO client.test");
    let r = c.cmd("AUTH PLAIN not*base64");
    assert!(r.starts_with("501 5.5.2"), "{r}");
    assert!(c.cmd("AUTH LOGIN").starts_with("334 VXNlcm5hbWU6"));
    assert!(c.cmd("*").starts_with("501"), "cancelled");
    let r = c.cmd("AUTH PLAIN AHNob3AAd3Jvbmc="); // shop / wrong
    assert!(r.starts_with("535 5.7.8"), "{r}");
    let r = c.cmd("AUTH PLAIN AHNob3AAd3Jvbmc=");
    assert!(r.starts_with("535 5.7.8"), "{r}");
    // Five failures, the 503 before EHLO included: the limit closes the session.
    assert!(c.reply().starts_with("421 4.7.0"));
    assert_eq!(c.try_reply().unwrap_or_default(), "<closed>");

    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    assert!(c
        .cmd("AUTH PLAIN AHNob3AAczNjcmV0")
        .starts_with("235 2.7.0"));
    assert!(c
        .cmd("AUTH PLAIN AHNob3AAczNjcmV0")
        .starts_with("503 5.5.1"));
    // The secrets never reach the log.
    let log = s.log.lock().unwrap().clone();
    assert!(
        !log.contains("s3cret") && !log.contains("AHNob3AAczNjcmV0"),
        "{log}"
    );
}

#[test]
fn lan_mode_requires_auth_over_tls_and_then_delivers() {
    let s = Server::start_custom_smtp("0.0.0.0:0", &[]);
    let smtp: SocketAddr = format!("127.0.0.1:{}", s.smtp.port()).parse().unwrap();
    let mut c = Smtp::connect(smtp);
    let r = c.cmd("EHLO client.test");
    assert!(r.contains("STARTTLS") && !r.contains("AUTH"), "{r}");
    let r = c.cmd("AUTH PLAIN AHNob3AAczNjcmV0");
    assert!(r.starts_with("538 5.7.11"), "{r}");
    let r = c.cmd("MAIL FROM:<app@example.test>");
    assert!(r.starts_with("530 5.7.0 Authentication required"), "{r}");

    let cert = s.data_dir.join("tls-cert.pem");
    let without = python(
        smtp,
        Some(&cert),
        &login("-", "", ""),
        "no login",
        &["orders@customer.test"],
    );
    assert_eq!(value(&without, "ehlo_auth"), "PLAIN LOGIN CRAM-MD5");
    assert_eq!(
        value(&without, "send"),
        "530",
        "over TLS too, MAIL waits for AUTH"
    );
    let with = python(
        smtp,
        Some(&cert),
        &login("PLAIN", "shop", "x"),
        "over tls",
        &["orders@customer.test"],
    );
    assert_eq!(value(&with, "auth"), "235");
    assert_eq!(value(&with, "send"), "250");

    // LAN mode: the API wants the token.
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let url = s.url("/v1/mailbox/shop@mailiy.localhost/messages");
    let msgs: Value = ureq::get(&url)
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .expect("messages")
        .into_json()
        .unwrap();
    assert_eq!(msgs.as_array().map(Vec::len), Some(1), "{msgs}");
    assert_eq!(msgs[0]["subject"], "over tls");
}

/// `mailiy serve` that must refuse to start; returns its stderr.
fn refused_start(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--http", "127.0.0.1:0"])
        .args(args)
        .output()
        .expect("mailiy");
    assert!(!out.status.success(), "{args:?} started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_malformed_users_file_or_auth_off_on_the_lan_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "# apps\nshop:$2y$05$ZUDnZEj3JUXn\n").unwrap();
    let mode = format!("file:{}", file.display());
    let err = refused_start(&["--smtp", "127.0.0.1:0", "--smtp-auth", &mode]);
    assert!(err.contains("line 2") && err.contains("bcrypt"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let err = refused_start(&["--smtp", "0.0.0.0:0", "--smtp-auth", "off"]);
    assert!(
        err.contains("--smtp-auth off") && err.contains("LAN"),
        "{err}"
    );
}

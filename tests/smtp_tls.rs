//! STARTTLS and implicit TLS (`--smtps`) against the real `mailiy serve`: real clients (Python
//! smtplib, curl, swaks) that verify our certificate the way their users would trust it, and raw
//! sockets for the edge cases (command injection after STARTTLS, garbage and truncated
//! handshakes, STARTTLS twice or before EHLO, `--smtp-require-tls`). Every message sent over TLS
//! is looked for in the API afterwards.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// A Python client; prints `key=value` lines for the test to check. Modes:
/// `starttls`, `smtps` (smtplib, verifying against CAFILE); `inject`, `early` (raw socket
/// wrapped in TLS after STARTTLS).
const PY: &str = r#"
import smtplib, socket, ssl, sys
mode, host, port, cafile, rcpt = sys.argv[1:6]
port = int(port)
ctx = ssl.create_default_context(cafile=cafile)
msg = "From: app@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\nsent over TLS\r\n" % (rcpt, mode)

def reply(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data.decode() + "<closed>"
        data += chunk
        last = data.split(b"\r\n")[-2] if data.endswith(b"\r\n") else b""
        if len(last) >= 4 and last[3:4] == b" ":
            return data.decode()

def first(r):
    return r.splitlines()[-1][:3] if r else "none"

if mode == "starttls":
    with smtplib.SMTP(host, port) as s:
        s.starttls(context=ctx)
        s.sendmail("app@example.test", [rcpt], msg)
        print("version=" + s.sock.version())
elif mode == "smtps":
    with smtplib.SMTP_SSL(host, port, context=ctx) as s:
        s.sendmail("app@example.test", [rcpt], msg)
        print("version=" + s.sock.version())
else:
    s = socket.create_connection((host, port), timeout=10)
    reply(s)
    if mode == "inject":
        s.sendall(b"EHLO client.test\r\n")
        reply(s)
        # One write: commands ride in the clear behind STARTTLS (CVE-2011-0411).
        s.sendall(b"STARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<evil@example.test>\r\n")
    else:
        s.sendall(b"STARTTLS\r\n")
    print("starttls=" + reply(s).strip())
    t = ctx.wrap_socket(s, server_hostname=host)
    t.sendall(b"EHLO client.test\r\n")
    ehlo = reply(t)
    print("ehlo_replies=" + str(sum(1 for l in ehlo.splitlines() if l[3:4] == " ")))
    print("ehlo_offers_starttls=" + str("STARTTLS" in ehlo))
    t.sendall(b"RCPT TO:<" + rcpt.encode() + b">\r\n")
    print("rcpt_without_sender=" + first(reply(t)))
    t.sendall(b"STARTTLS\r\n")
    print("starttls_again=" + first(reply(t)))
    t.sendall(b"MAIL FROM:<app@example.test>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n")
    print("pipelined=" + ",".join(l[:3] for l in reply(t).splitlines()))
    t.sendall(msg.encode() + b".\r\n")
    print("data=" + first(reply(t)))
    t.sendall(b"QUIT\r\n")
    reply(t)
"#;

/// Runs the Python client; returns its `key=value` lines.
fn python(mode: &str, addr: SocketAddr, cafile: &Path, rcpt: &str) -> Vec<(String, String)> {
    let out = Command::new("python3")
        .args([
            "-c",
            PY,
            mode,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .arg(cafile)
        .arg(rcpt)
        .output()
        .expect("python3");
    key_values(&format!("python {mode}"), &out)
}

fn cert_in(s: &Server) -> PathBuf {
    s.data_dir.join("tls-cert.pem")
}

/// A server with `--smtps`, a mailbox, and its address.
fn tls_server(extra: &[&str]) -> (Server, String) {
    let mut args = vec!["--smtps", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    let m = s.mailbox(json!({"localPart": "tls"}));
    let addr = m["address"].as_str().unwrap().to_string();
    (s, addr)
}

#[test]
fn python_starttls_and_smtps_verify_our_certificate_and_deliver() {
    let (s, rcpt) = tls_server(&[]);
    // The PEM the API serves is the one the listener presents: trusting it is enough.
    let (st, pem, ctype) = s.get_bytes("/v1/tls/certificate");
    assert_eq!(st, 200);
    assert_eq!(ctype, "application/x-pem-file");
    assert_eq!(pem, std::fs::read(cert_in(&s)).unwrap());
    let served = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(served.path(), &pem).unwrap();

    let tls = python("starttls", s.smtp, served.path(), &rcpt);
    assert!(value(&tls, "version").starts_with("TLSv1."), "{tls:?}");
    let smtps = s.smtps.expect("smtps listener");
    let implicit = python("smtps", smtps, &cert_in(&s), &rcpt);
    assert!(value(&implicit, "version").starts_with("TLSv1."));
    assert_eq!(subjects(&s, &rcpt), ["smtps", "starttls"]);
}

#[test]
fn starttls_drops_what_was_pipelined_after_it_and_starts_over() {
    let (s, rcpt) = tls_server(&[]);
    let r = python("inject", s.smtp, &cert_in(&s), &rcpt);
    // Only the 220: the MAIL behind it got no reply, before or after the handshake.
    assert_eq!(value(&r, "starttls"), "220 2.0.0 Ready to start TLS");
    assert_eq!(
        value(&r, "ehlo_replies"),
        "1",
        "one reply, to our EHLO only"
    );
    assert_eq!(
        value(&r, "ehlo_offers_starttls"),
        "False",
        "not offered again"
    );
    assert_eq!(
        value(&r, "rcpt_without_sender"),
        "503",
        "the injected MAIL never ran"
    );
    assert_eq!(value(&r, "starttls_again"), "554");
    assert_eq!(value(&r, "pipelined"), "250,250,354");
    assert_eq!(value(&r, "data"), "250");
    let msgs = s.messages(&rcpt);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["subject"], "inject");
}

#[test]
fn starttls_before_ehlo_works_and_the_client_must_ehlo_after() {
    let (s, rcpt) = tls_server(&[]);
    let r = python("early", s.smtp, &cert_in(&s), &rcpt);
    assert_eq!(value(&r, "starttls"), "220 2.0.0 Ready to start TLS");
    assert_eq!(value(&r, "data"), "250");
    assert_eq!(subjects(&s, &rcpt), ["early"]);
}

#[test]
fn require_tls_answers_530_in_the_clear_and_delivers_after_starttls() {
    let (s, rcpt) = tls_server(&["--smtp-require-tls", "--smtp-auth-accept-any"]);
    let mut c = s.smtp();
    assert!(c.cmd("EHLO client.test").contains("STARTTLS"));
    let r = c.cmd("MAIL FROM:<app@example.test>");
    assert_eq!(
        r.trim_end(),
        "530 5.7.0 Must issue a STARTTLS command first"
    );
    assert!(c.cmd("AUTH PLAIN AGEAYg==").starts_with("530 5.7.0"));
    python("starttls", s.smtp, &cert_in(&s), &rcpt);
    python("smtps", s.smtps.unwrap(), &cert_in(&s), &rcpt);
    assert_eq!(subjects(&s, &rcpt), ["smtps", "starttls"]);
}

#[test]
fn curl_ssl_reqd_and_smtps_with_our_cacert() {
    let (s, rcpt) = tls_server(&[]);
    let cert = cert_in(&s);
    let mail = tempfile::NamedTempFile::new().unwrap();
    for (url, subject) in [
        (format!("smtp://{}", s.smtp), "curl starttls"),
        (format!("smtps://{}", s.smtps.unwrap()), "curl smtps"),
    ] {
        let body = simple_message("app@example.test", &rcpt, subject, "via curl");
        std::fs::write(mail.path(), body).unwrap();
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--ssl-reqd", "--cacert"])
            .arg(&cert)
            .args(["--url", &url, "--mail-from", "app@example.test"])
            .args(["--mail-rcpt", &rcpt, "--upload-file"])
            .arg(mail.path());
        let out = cmd.output().expect("curl");
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(subjects(&s, &rcpt), ["curl smtps", "curl starttls"]);
}

#[test]
fn swaks_tls_and_tls_on_connect_verify_our_certificate() {
    if Command::new("swaks").arg("--version").output().is_err() {
        eprintln!("swaks is not installed (scripts/setup.sh test installs it): skipped");
        return;
    }
    let (s, rcpt) = tls_server(&[]);
    let cert = cert_in(&s);
    for (addr, mode, subject) in [
        (s.smtp, "--tls", "swaks tls"),
        (s.smtps.unwrap(), "--tls-on-connect", "swaks tls-on-connect"),
    ] {
        let out = Command::new("swaks")
            .args(["--to", &rcpt, "--from", "app@example.test"])
            .args(["--server", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args([mode, "--tls-verify", "--tls-ca-path"])
            .arg(&cert)
            .args(["--header", &format!("Subject: {subject}")])
            .output()
            .expect("swaks");
        assert!(
            out.status.success(),
            "swaks {mode}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(subjects(&s, &rcpt), ["swaks tls", "swaks tls-on-connect"]);
}

/// A delivery in the clear on a new connection.
fn plain_delivery(s: &Server, rcpt: &str, body: &str) -> String {
    let mut c = s.smtp();
    c.cmd("EHLO client.test");
    c.deliver("app@example.test", &[rcpt], body)
}

/// Reads until the server closes the connection; false if it is still open after `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let until = Instant::now() + within;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1024];
    while Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // a TLS alert, say
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true, // reset
        }
    }
    false
}

/// A ClientHello record header announcing 512 bytes, and the first few of them.
const TRUNCATED_HELLO: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh";

#[test]
fn a_garbage_handshake_closes_that_connection_only() {
    let (s, rcpt) = tls_server(&[]);
    // A session opened before, which must keep working.
    let mut before = s.smtp();
    before.cmd("EHLO client.test");

    let mut after_starttls = s.smtp();
    after_starttls.cmd("EHLO client.test");
    assert!(after_starttls.cmd("STARTTLS").starts_with("220 2.0.0"));
    after_starttls
        .stream
        .write_all(b"this is not a TLS handshake\r\n\r\n")
        .unwrap();
    assert!(closed_within(
        &mut after_starttls.stream,
        Duration::from_secs(5)
    ));

    let mut implicit = TcpStream::connect(s.smtps.unwrap()).unwrap();
    implicit.write_all(b"EHLO client.test\r\n").unwrap();
    assert!(closed_within(&mut implicit, Duration::from_secs(5)));

    let body = simple_message("app@example.test", &rcpt, "still here", "x");
    assert!(before
        .deliver("app@example.test", &[&rcpt], &body)
        .starts_with("250"));
    assert!(plain_delivery(&s, &rcpt, &body).starts_with("250"));
    python("smtps", s.smtps.unwrap(), &cert_in(&s), &rcpt);
    assert_eq!(subjects(&s, &rcpt).len(), 3);
}

#[test]
fn a_truncated_handshake_is_closed_at_the_idle_timeout_and_others_go_on() {
    let (s, rcpt) = tls_server(&["--smtp-idle-timeout", "2"]);
    let mut stalled = s.smtp();
    stalled.cmd("EHLO client.test");
    assert!(stalled.cmd("STARTTLS").starts_with("220"));
    stalled.stream.write_all(TRUNCATED_HELLO).unwrap();
    let mut stalled_implicit = TcpStream::connect(s.smtps.unwrap()).unwrap();
    stalled_implicit.write_all(TRUNCATED_HELLO).unwrap();
    // A client that gives up halfway through its hello.
    let mut gone = TcpStream::connect(s.smtps.unwrap()).unwrap();
    gone.write_all(TRUNCATED_HELLO).unwrap();
    drop(gone);

    // Meanwhile TLS and plain clients are served.
    python("starttls", s.smtp, &cert_in(&s), &rcpt);
    let body = simple_message("app@example.test", &rcpt, "plain", "x");
    assert!(plain_delivery(&s, &rcpt, &body).starts_with("250"));
    assert!(closed_within(&mut stalled.stream, Duration::from_secs(6)));
    assert!(closed_within(&mut stalled_implicit, Duration::from_secs(6)));
    assert_eq!(subjects(&s, &rcpt), ["plain", "starttls"]);
}

#[test]
fn the_tls_command_prints_the_certificate_and_its_fingerprint() {
    let (s, _) = tls_server(&[]);
    let out = Command::new(bin())
        .args(["tls", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .expect("mailiy tls");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let cert = cert_in(&s);
    assert!(
        text.contains(&format!("certificate: {}", cert.display())),
        "{text}"
    );
    assert!(text.contains("--cacert"), "{text}");
    // The fingerprint is the SHA-256 of the certificate's DER, as Python computes it.
    let py = Command::new("python3")
        .args([
            "-c",
            "import hashlib,ssl,sys;print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read())).hexdigest())",
        ])
        .arg(&cert)
        .output()
        .expect("python3");
    let hex = String::from_utf8_lossy(&py.stdout).trim().to_uppercase();
    let ours = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256: "))
        .unwrap_or_else(|| panic!("no fingerprint in {text}"));
    assert_eq!(ours.replace(':', ""), hex);
}

#[test]
fn bad_certificate_flags_are_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    for args in [
        vec!["--smtp-tls-cert", junk.to_str().unwrap()],
        vec![
            "--smtp-tls-cert",
            junk.to_str().unwrap(),
            "--smtp-tls-key",
            junk.to_str().unwrap(),
        ],
    ] {
        let out = Command::new(bin())
            .args(["serve", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(&args)
            .output()
            .expect("mailiy serve");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--smtp-tls-key") || err.contains("junk.pem"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_users_own_certificate_is_presented() {
    // A pair made by one server, handed to another as the user's own files.
    let (first, _) = tls_server(&[]);
    let cert = cert_in(&first);
    let key = first.data_dir.join("tls-key.pem");
    let (s, rcpt) = tls_server(&[
        "--smtp-tls-cert",
        cert.to_str().unwrap(),
        "--smtp-tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        !cert_in(&s).exists(),
        "no certificate made beside the user's"
    );
    python("starttls", s.smtp, &cert, &rcpt);
    assert_eq!(subjects(&s, &rcpt), ["starttls"]);
}

//! Real clients and app stacks through TLS and AUTH against the real `mailiy serve`, each
//! configured as the "point your app at Mailiy" table in docs/smtp.md says and trusting our
//! certificate the way its users would (the PEM from the data dir or `GET /v1/tls/certificate`):
//! nodemailer, Python smtplib, Django, PHPMailer, PHP's `mail()` through msmtp, Rails'
//! ActionMailer, Jakarta Mail (under Spring's `spring.mail.*`), msmtp, mutt, swaks and curl.
//!
//! Each client sends with credentials twice per mode: to a mailbox made through the API (which
//! gets its copy as without AUTH), and to an address with no mailbox, which must land in the
//! inbox of the user it logged in as (#14's inbox per app, [`assert_user_inbox`]). A missing
//! client fails its test naming scripts/setup.sh, which installs them all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// The server's `--domain` when not given (config.rs).
const DOMAIN: &str = "mailiy.localhost";
/// A recipient with no mailbox: an authenticated client's mail to it goes to its user's inbox.
const UNKNOWN: &str = "orders@customer.test";
const SENDER: &str = "app@example.test";
const PASSWORD: &str = "app-password";
/// Long enough for a JVM compiling its source file on a loaded 2-core machine.
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

/// How a client reaches the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--smtp` without TLS.
    Plain,
    /// `--smtp`, upgraded with STARTTLS (the client requires it).
    Starttls,
    /// `--smtps`: the handshake first.
    Smtps,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Plain => "plain",
            Mode::Starttls => "starttls",
            Mode::Smtps => "smtps",
        })
    }
}

impl Mode {
    /// The URL scheme curl and mutt take for it.
    fn url_scheme(self) -> &'static str {
        if self == Mode::Smtps {
            "smtps"
        } else {
            "smtp"
        }
    }
}

const ALL: &[Mode] = &[Mode::Plain, Mode::Starttls, Mode::Smtps];
const TLS: &[Mode] = &[Mode::Starttls, Mode::Smtps];

/// A server with `--smtps` and AUTH (any credentials), without catch-all, a mailbox made
/// through the API, and a directory for the clients' files.
struct Target {
    s: Server,
    live: String,
    /// Our PEM as served by `GET /v1/tls/certificate` (what a user downloads and trusts).
    cert: PathBuf,
    work: tempfile::TempDir,
}

impl Target {
    fn start() -> Target {
        let s = Server::start(&["--smtps", "127.0.0.1:0", "--smtp-auth-accept-any"]);
        let live = s.mailbox(json!({"localPart": "live"}))["address"]
            .as_str()
            .expect("address")
            .to_string();
        let (status, pem, _) = s.get_bytes("/v1/tls/certificate");
        assert_eq!(status, 200);
        let work = tempfile::tempdir().expect("tempdir");
        let cert = work.path().join("mailiy.pem");
        std::fs::write(&cert, pem).expect("write PEM");
        Target {
            s,
            live,
            cert,
            work,
        }
    }

    fn port(&self, mode: Mode) -> u16 {
        match mode {
            Mode::Plain | Mode::Starttls => self.s.smtp.port(),
            Mode::Smtps => self.s.smtps.expect("smtps listener").port(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }
}

/// One message a client sends.
struct Send<'a> {
    mode: Mode,
    user: &'a str,
    to: &'a str,
    subject: String,
}

/// #14's inbox per app, the one place that says where it is: a client authenticated as USER
/// has its mail for recipients without a mailbox delivered to `USER@DOMAIN` (USER itself when it
/// holds an '@'), made on first use. Asserts that inbox holds exactly `expected` (subjects).
fn assert_user_inbox(s: &Server, user: &str, expected: &[String]) {
    let inbox = user_inbox(user);
    let (status, v) = s.get(&format!("/v1/mailbox/{}/messages", enc(&inbox)));
    assert_eq!(
        status, 200,
        "no inbox {inbox} for AUTH user {user:?} (#14: an authenticated client's mail for a \
         recipient without a mailbox lands in USER@DOMAIN, made on first use): {v}"
    );
    let mut got: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(got, want, "the inbox of AUTH user {user:?} ({inbox})");
}

fn user_inbox(user: &str) -> String {
    if user.contains('@') {
        user.to_string()
    } else {
        format!("{user}@{DOMAIN}")
    }
}

/// A client's command for one message, and the file to feed it on stdin, if any.
struct Run {
    cmd: Command,
    input: Option<PathBuf>,
}

impl From<Command> for Run {
    fn from(cmd: Command) -> Run {
        Run { cmd, input: None }
    }
}

/// A client: the command that sends one message.
type Client = fn(&Target, &Send) -> Run;

/// The variables every script in tests/clients reads.
fn script_env(cmd: &mut Command, t: &Target, send: &Send) {
    cmd.env("MAILIY_MODE", send.mode.to_string())
        .env("MAILIY_HOST", "127.0.0.1")
        .env("MAILIY_PORT", t.port(send.mode).to_string())
        .env("MAILIY_CA", &t.cert)
        .env("MAILIY_USER", send.user)
        .env("MAILIY_PASS", PASSWORD)
        .env("MAILIY_FROM", SENDER)
        .env("MAILIY_TO", send.to)
        .env("MAILIY_SUBJECT", &send.subject);
}

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a script from tests/clients with its interpreter and the MAILIY_* variables.
fn script(program: &str, args: &[&str], t: &Target, send: &Send) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(clients_dir());
    script_env(&mut cmd, t, send);
    cmd
}

/// Sends as `user` in each mode, first to the API's mailbox, then to a recipient without one;
/// asserts the first copies are in that mailbox and the others in the user's inbox.
fn delivers_as(name: &str, user: &str, modes: &[Mode], client: impl Fn(&Target, &Send) -> Run) {
    let t = Target::start();
    let mut live = Vec::new();
    for &mode in modes {
        let send = Send {
            mode,
            user,
            to: &t.live,
            subject: format!("{name} {mode}"),
        };
        send_with(
            &t,
            &format!("{name} {mode} as {user} to {}", t.live),
            client(&t, &send),
        );
        live.push(send.subject);
    }
    live.sort();
    assert_eq!(subjects(&t.s, &t.live), live, "{name}: the API's mailbox");

    let mut routed = Vec::new();
    for &mode in modes {
        let send = Send {
            mode,
            user,
            to: UNKNOWN,
            subject: format!("{name} {mode} for {user}"),
        };
        send_with(
            &t,
            &format!(
                "{name} {mode} as {user} to {UNKNOWN}, which has no mailbox (#14: accepted for \
                 the inbox {})",
                user_inbox(user)
            ),
            client(&t, &send),
        );
        routed.push(send.subject);
    }
    assert_user_inbox(&t.s, user, &routed);
    assert_eq!(subjects(&t.s, &t.live), live, "{name}: nothing more for it");
}

/// Runs one client's send; panics with its output unless it succeeds.
fn send_with(t: &Target, what: &str, mut run: Run) {
    run_tool_fed(
        what,
        Some(&t.s),
        &mut run.cmd,
        run.input.as_deref(),
        CLIENT_LIMIT,
    );
}

fn nodemailer(t: &Target, send: &Send) -> Run {
    let module = clients_dir().join("node_modules/nodemailer/package.json");
    assert!(
        module.exists(),
        "{} is missing: run scripts/setup.sh test (npm ci in tests/clients)",
        module.display()
    );
    script("node", &["nodemailer.mjs"], t, send).into()
}

fn smtplib(t: &Target, send: &Send) -> Run {
    script("python3", &["smtplib_send.py"], t, send).into()
}

#[test]
fn nodemailer_require_tls_and_secure_with_our_ca_and_auth() {
    delivers_as("nodemailer", "shop", ALL, nodemailer);
}

#[test]
fn python_smtplib_login_in_the_clear_after_starttls_and_over_smtp_ssl() {
    delivers_as("smtplib", "shop", ALL, smtplib);
}

#[test]
fn two_apps_logged_in_as_shop_and_blog_get_an_inbox_each() {
    let t = Target::start();
    let apps: [(&str, Mode, Client); 2] = [
        ("shop", Mode::Starttls, smtplib),
        ("blog", Mode::Smtps, nodemailer),
    ];
    for (user, mode, client) in apps {
        for to in [UNKNOWN, t.live.as_str(), "someone@else.test"] {
            let send = Send {
                mode,
                user,
                to,
                subject: format!("{user} to {to}"),
            };
            send_with(&t, &format!("{user} ({mode}) to {to}"), client(&t, &send));
        }
    }
    for user in ["shop", "blog"] {
        assert_user_inbox(
            &t.s,
            user,
            &[
                format!("{user} to {UNKNOWN}"),
                format!("{user} to someone@else.test"),
            ],
        );
    }
    let live = format!("blog to {}", t.live);
    assert_eq!(
        subjects(&t.s, &t.live),
        [live, format!("shop to {}", t.live)],
        "a mailbox made through the API still receives its own"
    );
}

#[test]
fn django_email_use_tls_and_use_ssl_trusting_ssl_cert_file() {
    // A user name that is an address names its inbox itself.
    delivers_as("django", "apps@project.test", ALL, |t, send| {
        let mut cmd = script("python3", &["django_send.py"], t, send);
        // Django's SSL context is Python's default one: SSL_CERT_FILE is how its users trust.
        cmd.env("SSL_CERT_FILE", &t.cert);
        cmd.into()
    });
}

#[test]
fn phpmailer_smtpsecure_tls_and_ssl_trusting_openssl_cafile() {
    delivers_as("phpmailer", "shop", ALL, |t, send| {
        let cafile = format!("openssl.cafile={}", t.cert.display());
        script("php", &["-d", &cafile, "phpmailer.php"], t, send).into()
    });
}

#[test]
fn php_mail_through_msmtp_as_sendmail_path() {
    delivers_as("php mail()", "shop", TLS, |t, send| {
        let rc = msmtprc(t, send);
        let sendmail = format!("sendmail_path=msmtp -C {} -t", rc.display());
        let mut cmd = script("php", &["-d", &sendmail, "-r", PHP_MAIL], t, send);
        cmd.current_dir(t.work.path());
        cmd.into()
    });
}

/// PHP's own `mail()`, which hands the message to `sendmail_path`.
const PHP_MAIL: &str = r#"
$e = getenv();
$ok = mail($e['MAILIY_TO'], $e['MAILIY_SUBJECT'], 'sent by mail()', 'From: ' . $e['MAILIY_FROM']);
if (!$ok) { fwrite(STDERR, "mail() returned false\n"); exit(1); }
echo "sent\n";
"#;

#[test]
fn rails_actionmailer_enable_starttls_and_tls_with_ca_file() {
    // Plain is not run: Debian's mail 2.7 on net-smtp 0.3 upgrades whenever STARTTLS is offered
    // and ignores enable_starttls_auto: false (docs/smtp.md says so in Rails' row).
    delivers_as("actionmailer", "shop", TLS, |t, send| {
        script("ruby", &["actionmailer.rb"], t, send).into()
    });
}

const JAKARTA_JARS: &[&str] = &[
    "/usr/share/java/jakarta-mail.jar",
    "/usr/share/java/jakarta-activation.jar",
];

#[test]
fn jakarta_mail_as_spring_mail_properties_trusting_a_keytool_truststore() {
    delivers_as("jakarta", "shop", ALL, |t, send| {
        for jar in JAKARTA_JARS {
            assert!(
                Path::new(jar).exists(),
                "{jar} is missing: scripts/setup.sh test installs it (libjakarta-mail-java)"
            );
        }
        let store = t.file("truststore.p12");
        if !store.exists() {
            // What a Java user does with our PEM: import it into a trust store for the JVM.
            run_tool(
                "keytool -importcert",
                None,
                Command::new("keytool")
                    .args(["-importcert", "-noprompt", "-alias", "mailiy", "-file"])
                    .arg(&t.cert)
                    .args([
                        "-storetype",
                        "PKCS12",
                        "-storepass",
                        "changeit",
                        "-keystore",
                    ])
                    .arg(&store),
                CLIENT_LIMIT,
            );
        }
        let trust = format!("-Djavax.net.ssl.trustStore={}", store.display());
        let mut cmd = script(
            "java",
            &[
                &trust,
                "-Djavax.net.ssl.trustStorePassword=changeit",
                "-cp",
                &JAKARTA_JARS.join(":"),
                "JakartaSend.java",
            ],
            t,
            send,
        );
        // Jakarta Mail's identity check matches host names, not IP addresses.
        cmd.env("MAILIY_HOST", "localhost");
        cmd.into()
    });
}

/// An msmtp configuration as the table gives it, one account per mode.
fn msmtprc(t: &Target, send: &Send) -> PathBuf {
    let starttls = if send.mode == Mode::Smtps {
        "off"
    } else {
        "on"
    };
    let rc = t.file(&format!("msmtprc-{}-{}", send.mode, send.user));
    let text = format!(
        "account mailiy\nhost 127.0.0.1\nport {}\nfrom {SENDER}\ntls on\ntls_starttls {starttls}\n\
         tls_trust_file {}\nauth on\nuser {}\npassword {PASSWORD}\naccount default : mailiy\n",
        t.port(send.mode),
        t.cert.display(),
        send.user
    );
    std::fs::write(&rc, text).expect("write msmtprc");
    // msmtp refuses a configuration file with a password that others may read.
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&rc, mode).expect("chmod msmtprc");
    rc
}

/// The message a command-line client sends (it does not write headers of its own).
fn message_file(t: &Target, send: &Send) -> PathBuf {
    let path = t.file(&format!("{}.eml", send.subject.replace(' ', "-")));
    let body = simple_message(SENDER, send.to, &send.subject, "sent from a file");
    std::fs::write(&path, body).expect("write message");
    path
}

#[test]
fn msmtp_tls_on_with_tls_trust_file_and_auth_on() {
    delivers_as("msmtp", "shop", TLS, |t, send| {
        let mut cmd = Command::new("msmtp");
        cmd.arg("-C").arg(msmtprc(t, send)).arg(send.to);
        Run {
            cmd,
            input: Some(message_file(t, send)),
        }
    });
}

#[test]
fn mutt_with_its_default_ssl_force_tls_and_certificate_file() {
    delivers_as("mutt", "shop", TLS, |t, send| {
        let scheme = send.mode.url_scheme();
        let muttrc = t.file(&format!("muttrc-{}", send.mode));
        let text = format!(
            "set smtp_url = \"{scheme}://{}@127.0.0.1:{}/\"\nset smtp_pass = \"{PASSWORD}\"\n\
             set certificate_file = \"{}\"\nset from = \"{SENDER}\"\nset record = \"\"\n",
            send.user,
            t.port(send.mode),
            t.cert.display()
        );
        std::fs::write(&muttrc, text).expect("write muttrc");
        let body = t.file("mutt-body.txt");
        std::fs::write(&body, "sent by mutt\n").expect("write body");
        let mut cmd = Command::new("mutt");
        // -n: no system muttrc, so mutt's own defaults (ssl_force_tls on) hold.
        cmd.arg("-n")
            .arg("-F")
            .arg(&muttrc)
            .args(["-s", &send.subject, send.to])
            .env("HOME", t.work.path());
        Run {
            cmd,
            input: Some(body),
        }
    });
}

#[test]
fn swaks_tls_verifying_and_tls_on_connect_not_verifying_with_auth() {
    delivers_as("swaks", "shop", TLS, |t, send| {
        let mut cmd = Command::new("swaks");
        cmd.args(["--to", send.to, "--from", SENDER])
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &t.port(send.mode).to_string(),
            ])
            .args(["--auth", "LOGIN", "--auth-user", send.user])
            .args(["--auth-password", PASSWORD])
            .args(["--header", &format!("Subject: {}", send.subject)]);
        if send.mode == Mode::Smtps {
            // swaks's default: no verification at all, which must work too.
            cmd.arg("--tls-on-connect");
        } else {
            cmd.args(["--tls", "--tls-verify", "--tls-ca-path"])
                .arg(&t.cert);
        }
        cmd.into()
    });
}

#[test]
fn curl_ssl_reqd_and_smtps_with_cacert_and_user() {
    delivers_as("curl", "shop", TLS, |t, send| {
        let scheme = send.mode.url_scheme();
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--ssl-reqd", "--cacert"])
            .arg(&t.cert)
            .args([
                "--url",
                &format!("{scheme}://127.0.0.1:{}", t.port(send.mode)),
            ])
            .args(["--user", &format!("{}:{PASSWORD}", send.user)])
            .args(["--mail-from", SENDER, "--mail-rcpt", send.to])
            .arg("--upload-file")
            .arg(message_file(t, send));
        cmd.into()
    });
}

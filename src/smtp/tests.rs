//! Session tests against the in-memory sink: the protocol, reply by reply, with no socket and
//! no store. `tests/smtp.rs` drives the real server over TCP end to end.

use std::path::PathBuf;

mod faults;

use super::{Flow, MemorySink, Session};
use crate::config::{Config, SmtpConfig};
use crate::engine::AuthPolicy;
use crate::metrics::Rejection;

/// The SIZE these sessions advertise, unless a test sets its own.
const LARGEST: u64 = 1024 * 1024;

/// A session on a sink, driven by lines, each reply checked by its start
/// (`s.rcpt_to("x@y", "550 5.1.1")`). A test keeps a clone of the sink to look into.
struct TestSession {
    rt: tokio::runtime::Runtime,
    session: Session<MemorySink>,
    greeting: String,
    flow: Flow,
}

impl TestSession {
    fn new(sink: MemorySink) -> Self {
        Self::with(sink, LARGEST, |_| {})
    }

    /// A session past EHLO, and a clone of its sink to look into.
    fn greeted(sink: MemorySink) -> (Self, MemorySink) {
        let mut s = Self::new(sink.clone());
        s.ehlo();
        (s, sink)
    }

    /// With the SIZE to advertise and changes to the default SMTP config.
    fn with(sink: MemorySink, largest: u64, tune: impl FnOnce(&mut SmtpConfig)) -> Self {
        let mut cfg = Config::with_data_dir(PathBuf::new()).smtp;
        tune(&mut cfg);
        let peer = "127.0.0.1:2525".parse().expect("peer");
        let mut session = Session::new(sink, cfg, largest, peer);
        let greeting = text(session.take_output());
        let flow = session.greeting_flow();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        TestSession {
            rt,
            session,
            greeting,
            flow,
        }
    }

    /// Sends raw bytes; returns every reply they produced.
    fn send(&mut self, bytes: &[u8]) -> String {
        assert_eq!(self.flow, Flow::Continue, "the session had ended");
        self.flow = self.rt.block_on(self.session.receive(bytes));
        text(self.session.take_output())
    }

    /// Sends one command line; its reply must start with `expect`.
    fn cmd(&mut self, line: &str, expect: &str) -> String {
        let reply = self.send(format!("{line}\r\n").as_bytes());
        assert!(
            reply.starts_with(expect),
            "{line:?}: wanted {expect:?}, got {reply:?}"
        );
        reply
    }

    /// EHLO, answered with 250; returns the extension lines.
    fn ehlo(&mut self) -> Vec<String> {
        let reply = self.cmd("EHLO client.test", "250");
        reply.lines().map(str::to_string).collect()
    }

    fn mail_from(&mut self, address: &str, expect: &str) -> String {
        self.cmd(&format!("MAIL FROM:<{address}>"), expect)
    }

    fn rcpt_to(&mut self, address: &str, expect: &str) -> String {
        self.cmd(&format!("RCPT TO:<{address}>"), expect)
    }

    /// DATA (354), then `content` (CRLF-ended lines, dot-stuffed by the caller) and the final
    /// dot; the reply to the dot must start with `expect`.
    fn data(&mut self, content: &[u8], expect: &str) -> String {
        self.cmd("DATA", "354");
        let mut wire = content.to_vec();
        wire.extend_from_slice(b".\r\n");
        let reply = self.send(&wire);
        assert!(
            reply.starts_with(expect),
            "end of DATA: wanted {expect:?}, got {reply:?}"
        );
        reply
    }

    /// A whole transaction to `to`, answered with `expect`.
    fn deliver(&mut self, to: &str, content: &[u8], expect: &str) -> String {
        self.mail_from("sender@example.test", "250");
        self.rcpt_to(to, "250");
        self.data(content, expect)
    }
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).expect("replies are UTF-8")
}

/// The three-digit code of every reply line, continuation lines folded into their reply.
fn codes(replies: &str) -> Vec<u16> {
    replies
        .lines()
        .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
        .map(|l| l[..3].parse().expect("a reply code"))
        .collect()
}

/// `--smtp-auth any` on loopback: PLAIN, LOGIN and CRAM-MD5, any login, none required.
const ANY: AuthPolicy = AuthPolicy {
    offered: true,
    cram_md5: true,
    required: false,
    tls_only: false,
};

fn alice() -> MemorySink {
    MemorySink::new().with_mailbox("alice@mailiy.test", 64 * 1024, 1024 * 1024)
}

const HELLO: &[u8] = b"Subject: hi\r\n\r\nhello\r\n";

#[test]
fn greets_then_ehlo_lists_size_and_pipelining_without_auth() {
    let sink = MemorySink::new();
    let mut s = TestSession::new(sink.clone());
    assert!(s.greeting.starts_with("220 "), "{:?}", s.greeting);
    assert!(
        s.greeting.ends_with("ESMTP Mailiy ready\r\n"),
        "{:?}",
        s.greeting
    );
    assert_eq!(sink.sessions(), 1);
    let lines = s.ehlo();
    assert!(lines[0].starts_with("250-"), "{lines:?}");
    for ext in [
        "250-SIZE 1048576",
        "250-8BITMIME",
        "250-PIPELINING",
        "250-SMTPUTF8",
    ] {
        assert!(lines.iter().any(|l| l == ext), "{ext} missing: {lines:?}");
    }
    assert_eq!(
        lines.last().map(String::as_str),
        Some("250 ENHANCEDSTATUSCODES")
    );
    assert!(!lines.iter().any(|l| l.contains("AUTH")), "{lines:?}");
    s.cmd("HELO client.test", "250 ");
    s.cmd("NOOP", "250 2.0.0");
    s.cmd("QUIT", "221 2.0.0");
    assert_eq!(s.flow, Flow::Close);
}

#[test]
fn ehlo_offers_auth_when_the_mailroom_does() {
    let mut s = TestSession::new(MemorySink::new().with_auth(ANY));
    let lines = s.ehlo();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("250 AUTH PLAIN LOGIN CRAM-MD5")
    );
}

#[test]
fn mail_before_helo_is_503_and_sequence_errors_too() {
    let mut s = TestSession::new(alice());
    s.mail_from("a@b.test", "503 5.5.1");
    s.ehlo();
    s.rcpt_to("alice@mailiy.test", "503 5.5.1");
    s.cmd("DATA", "503 5.5.1");
    s.mail_from("a@b.test", "250 2.1.0");
    s.mail_from("a@b.test", "503 5.5.1");
    s.cmd("DATA", "503 5.5.1 No valid recipients");
    s.cmd("RSET", "250 2.0.0");
    s.mail_from("a@b.test", "250");
}

#[test]
fn unknown_recipient_is_550_before_data_and_known_ones_get_the_message() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.mail_from("app@example.test", "250");
    s.rcpt_to("nobody@mailiy.test", "550 5.1.1");
    assert_eq!(sink.rejections(Rejection::UnknownRecipient), 1);
    s.rcpt_to("ALICE@Mailiy.Test", "250 2.1.5");
    s.data(HELLO, "250 2.0.0 OK queued as ");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].envelope_from, "app@example.test");
    assert_eq!(got[0].recipients, ["alice@mailiy.test"]);
    assert_eq!(got[0].raw, HELLO);
}

#[test]
fn a_declared_size_too_big_is_552_at_mail_or_at_rcpt() {
    let (mut s, sink) = TestSession::greeted(MemorySink::new().with_mailbox(
        "small@mailiy.test",
        1000,
        1024 * 1024,
    ));
    s.cmd(
        &format!("MAIL FROM:<a@b.test> SIZE={}", LARGEST + 1),
        "552 5.3.4",
    );
    s.cmd("MAIL FROM:<a@b.test> SIZE=2000", "250");
    s.rcpt_to("small@mailiy.test", "552 5.3.4");
    assert_eq!(sink.rejections(Rejection::TooBig), 2);
}

#[test]
fn a_full_mailbox_is_452_at_rcpt_by_size_and_at_the_end_of_data() {
    let (mut s, sink) =
        TestSession::greeted(MemorySink::new().with_mailbox("full@mailiy.test", 1000, 100));
    s.cmd("MAIL FROM:<a@b.test> SIZE=200", "250");
    s.rcpt_to("full@mailiy.test", "452 4.2.2");
    s.cmd("RSET", "250");
    let body = [b"x".repeat(60), b"\r\n".to_vec()].concat();
    s.deliver("full@mailiy.test", &body, "250");
    // 62 of 100 bytes used: a second copy does not fit.
    s.deliver("full@mailiy.test", &body, "452 4.2.2");
    assert_eq!(sink.rejections(Rejection::MailboxFull), 2);
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn recipients_past_the_limit_get_452_repeats_included() {
    let sink = MemorySink::new().with_catch_all(16 * 1024, 48 * 1024);
    let mut s = TestSession::with(sink.clone(), LARGEST, |c| c.max_recipients = 4);
    s.ehlo();
    s.mail_from("a@b.test", "250");
    for to in ["a@x.test", "b@x.test", "a@x.test", "c@x.test"] {
        s.rcpt_to(to, "250");
    }
    s.rcpt_to("d@x.test", "452 4.5.3");
    assert_eq!(sink.rejections(Rejection::TooManyRecipients), 1);
    s.data(HELLO, "250");
    assert_eq!(
        sink.messages()[0].recipients,
        ["a@x.test", "b@x.test", "c@x.test"]
    );
}

#[test]
fn dot_stuffing_is_undone() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.deliver(
        "alice@mailiy.test",
        b"Subject: dots\r\n\r\n..leading dot\r\n...two\r\n",
        "250",
    );
    assert_eq!(
        sink.messages()[0].raw,
        b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n"
    );
}

#[test]
fn only_crlf_dot_crlf_ends_data() {
    for lookalike in ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r.\r\n"] {
        let (mut s, sink) = TestSession::greeted(alice());
        s.mail_from("a@b.test", "250");
        s.rcpt_to("alice@mailiy.test", "250");
        s.cmd("DATA", "354");
        let smuggled = format!(
            "Subject: first\r\n\r\nhello{lookalike}MAIL FROM:<ceo@spoofed.test>\r\nRCPT TO:<alice@mailiy.test>\r\nDATA\r\nevil\r\n.\r\n"
        );
        let reply = s.send(smuggled.as_bytes());
        assert_eq!(codes(&reply), [250], "{lookalike:?}: {reply:?}");
        s.cmd("NOOP", "250");
        let got = sink.messages();
        assert_eq!(got.len(), 1, "{lookalike:?}");
        assert!(
            String::from_utf8_lossy(&got[0].raw).contains("spoofed.test"),
            "{lookalike:?}: the smuggled text stays inside the message"
        );
    }
}

#[test]
fn an_empty_message_and_a_data_end_split_across_reads() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.deliver("alice@mailiy.test", b"", "250");
    s.mail_from("a@b.test", "250");
    s.rcpt_to("alice@mailiy.test", "250");
    s.cmd("DATA", "354");
    for part in [&b"Subject: x\r\n\r\nbody\r"[..], b"\n.", b"\r", b"\n"] {
        let reply = s.send(part);
        assert_eq!(reply.is_empty(), part != b"\n", "{part:?}: {reply:?}");
    }
    let got = sink.messages();
    assert_eq!(got[0].raw, b"");
    assert_eq!(got[1].raw, b"Subject: x\r\n\r\nbody\r\n");
}

#[test]
fn bare_lf_is_normalised_in_commands_and_messages() {
    let sink = alice();
    let mut s = TestSession::new(sink.clone());
    let reply = s.send(b"EHLO php.test\nMAIL FROM:<a@b.test>\nRCPT TO:<alice@mailiy.test>\nDATA\n");
    assert_eq!(codes(&reply), [250, 250, 250, 354]);
    let reply = s.send(b"Subject: sloppy\nX-A: 1\n\nline one\nline two\r\n.\r\n");
    assert_eq!(codes(&reply), [250]);
    assert_eq!(
        sink.messages()[0].raw,
        b"Subject: sloppy\r\nX-A: 1\r\n\r\nline one\r\nline two\r\n"
    );
}

#[test]
fn a_bare_cr_in_a_command_is_501() {
    let mut s = TestSession::new(alice());
    s.ehlo();
    s.cmd("MAIL FROM:<a@b.test>\rX-Injected: 1", "501 5.5.2");
    s.mail_from("a@b.test", "250");
}

#[test]
fn an_overlong_line_is_500_and_its_tail_is_not_a_command() {
    let mut s = TestSession::new(alice());
    s.ehlo();
    let long = format!("NOOP {}RSET", "a".repeat(super::MAX_LINE + 10));
    let reply = s.cmd(&long, "500 5.5.2");
    assert_eq!(codes(&reply), [500], "one reply for the long line");
    // The same, arriving in pieces shorter than a line: one reply, and the tail is skipped.
    let mut replies = String::new();
    for piece in long.as_bytes().chunks(1000) {
        replies += &s.send(piece);
    }
    replies += &s.send(b"\r\n");
    assert_eq!(codes(&replies), [500], "{replies:?}");
    s.cmd("NOOP", "250");
    s.deliver("alice@mailiy.test", HELLO, "250");
}

#[test]
fn too_many_errors_close_the_session_with_421() {
    let mut s = TestSession::with(MemorySink::new(), LARGEST, |c| c.max_errors = 3);
    s.cmd("BOGUS", "500 5.5.1");
    s.cmd("DATA", "503");
    let reply = s.cmd("BOGUS", "500 5.5.1");
    assert_eq!(codes(&reply), [500, 421], "{reply:?}");
    assert_eq!(s.flow, Flow::Close);
}

#[test]
fn pipelined_commands_are_answered_in_order_in_one_output() {
    let sink = alice();
    let mut s = TestSession::new(sink.clone());
    let reply = s.send(
        b"EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@mailiy.test>\r\n\
          RCPT TO:<alice@mailiy.test>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    );
    assert_eq!(
        codes(&reply),
        [250, 250, 550, 250, 354, 250, 221],
        "{reply:?}"
    );
    assert_eq!(s.flow, Flow::Close);
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn auth_plain_and_login_accept_anything_when_enabled() {
    let mut s = TestSession::new(alice().with_auth(ANY));
    s.cmd("AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==", "503 5.5.1"); // before EHLO
    s.ehlo();
    s.cmd("AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==", "235 2.7.0");
    s.cmd("AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==", "503 5.5.1 Already");
    s.deliver("alice@mailiy.test", HELLO, "250");
    // Each exchange in a session of its own: client line, the reply it gets.
    let exchanges: [&[(&str, &str)]; 2] = [
        &[
            ("AUTH LOGIN", "334 VXNlcm5hbWU6"),
            ("dXNlcg==", "334 UGFzc3dvcmQ6"),
            ("c2VjcmV0", "235 2.7.0"),
        ],
        &[
            ("AUTH PLAIN", "334 "),
            ("*", "501 5.0.0"),
            ("AUTH XOAUTH2", "504 5.5.4"),
            ("AUTH PLAIN", "334 "),
            ("dXNlcgB1c2VyAHNlY3JldA==", "235 2.7.0"),
        ],
    ];
    for exchange in exchanges {
        let mut s = TestSession::new(alice().with_auth(ANY));
        s.ehlo();
        for (line, expect) in exchange {
            s.cmd(line, expect);
        }
    }
}

#[test]
fn auth_is_502_when_off() {
    let mut s = TestSession::new(alice());
    s.ehlo();
    s.cmd("AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==", "502 5.5.1");
}

#[test]
fn starttls_and_bdat_are_502_and_a_bdat_chunk_is_skipped() {
    let mut s = TestSession::new(alice());
    s.ehlo();
    s.cmd("STARTTLS", "502 5.5.1");
    // The 12-byte chunk holds commands: they must not run.
    let reply = s.send(b"BDAT 12\r\nRSET\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(codes(&reply), [502, 250], "{reply:?}");
    assert_eq!(s.flow, Flow::Continue);
}

#[test]
fn a_failed_recipient_check_is_451_and_the_session_goes_on() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.mail_from("a@b.test", "250");
    sink.fail_lookups(true);
    s.rcpt_to("alice@mailiy.test", "451 4.3.0");
    sink.fail_lookups(false);
    s.rcpt_to("alice@mailiy.test", "250");
}

#[test]
fn a_store_failure_is_451_and_a_full_disk_452_4_3_1() {
    let (mut s, sink) = TestSession::greeted(alice());
    sink.fail_store(true);
    s.deliver("alice@mailiy.test", HELLO, "451 4.3.0");
    sink.fail_store(false);
    sink.fill_disk(true);
    s.deliver("alice@mailiy.test", HELLO, "452 4.3.1");
    sink.fill_disk(false);
    s.deliver("alice@mailiy.test", HELLO, "250");
    assert_eq!(sink.rejections(Rejection::StoreFailure), 2);
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn a_mailbox_gone_before_the_end_of_data_is_550() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.mail_from("a@b.test", "250");
    s.rcpt_to("alice@mailiy.test", "250");
    sink.remove_mailbox("alice@mailiy.test");
    s.data(HELLO, "550 5.1.1");
    assert!(sink.messages().is_empty());
}

#[test]
fn a_message_over_its_cap_is_552_and_the_session_goes_on() {
    let (mut s, sink) = TestSession::greeted(MemorySink::new().with_mailbox(
        "small@mailiy.test",
        1000,
        1024 * 1024,
    ));
    s.mail_from("a@b.test", "250");
    s.rcpt_to("small@mailiy.test", "250");
    assert!(s.session.in_transaction());
    let big = [b"Subject: big\r\n\r\n".to_vec(), b"x\r\n".repeat(2000)].concat();
    s.data(&big, "552 5.3.4");
    assert_eq!(s.flow, Flow::Continue);
    assert!(!s.session.in_transaction());
    assert_eq!(sink.rejections(Rejection::TooBig), 1);
    s.deliver("small@mailiy.test", HELLO, "250");
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn streaming_past_the_advertised_size_is_cut() {
    let sink = MemorySink::new().with_mailbox("small@mailiy.test", 1000, 1024 * 1024);
    let mut s = TestSession::with(sink.clone(), 10_000, |_| {});
    s.ehlo();
    s.mail_from("a@b.test", "250");
    s.rcpt_to("small@mailiy.test", "250");
    s.cmd("DATA", "354");
    let line = b"y".repeat(998);
    let mut last = String::new();
    for _ in 0..20 {
        last = s.send(&[&line[..], b"\r\n"].concat());
        if s.flow != Flow::Continue {
            break;
        }
    }
    assert_eq!(s.flow, Flow::Cut);
    assert!(
        last.starts_with("552 5.3.4") && last.ends_with("closing\r\n"),
        "{last:?}"
    );
    assert!(sink.messages().is_empty());
}

impl TestSession {
    /// A session whose connection can do TLS, so it offers STARTTLS.
    fn with_starttls(sink: MemorySink, tune: impl FnOnce(&mut SmtpConfig)) -> Self {
        let mut s = Self::with(sink, LARGEST, tune);
        s.session.offer_starttls();
        s
    }

    /// STARTTLS answered with 220 and the handshake left to the connection, which this
    /// socket-free test stands in for by going on.
    fn starttls(&mut self) -> String {
        let reply = self.send(b"STARTTLS\r\n");
        assert!(reply.starts_with("220 2.0.0"), "{reply:?}");
        assert_eq!(self.flow, Flow::StartTls);
        self.flow = Flow::Continue;
        reply
    }
}

#[test]
fn ehlo_offers_starttls_only_until_tls_is_active() {
    let mut plain = TestSession::new(MemorySink::new());
    assert!(!plain.ehlo().iter().any(|l| l.contains("STARTTLS")));
    plain.cmd("STARTTLS", "502 5.5.1");

    let mut s = TestSession::with_starttls(alice(), |_| {});
    assert!(s.ehlo().iter().any(|l| &l[4..] == "STARTTLS"), "offered");
    assert!(!s.session.is_secure());
    s.starttls();
    assert!(s.session.is_secure());
    assert!(
        !s.ehlo().iter().any(|l| l.contains("STARTTLS")),
        "not again"
    );
    s.cmd("STARTTLS", "554 5.5.1");
}

#[test]
fn starttls_forgets_the_session_and_drops_what_was_pipelined_after_it() {
    let sink = alice();
    let mut s = TestSession::with_starttls(sink.clone(), |_| {});
    s.ehlo();
    s.mail_from("before@example.test", "250");
    // Pipelined in the clear after STARTTLS: must never run once TLS is up (CVE-2011-0411).
    let reply = s.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.test>\r\n");
    assert_eq!(reply, "220 2.0.0 Ready to start TLS\r\n", "one reply only");
    assert_eq!(s.flow, Flow::StartTls);
    s.flow = Flow::Continue;
    // RFC 3207: HELO and the sender are forgotten; the client must EHLO again.
    s.mail_from("after@example.test", "503 5.5.1");
    s.ehlo();
    s.cmd("RCPT TO:<alice@mailiy.test>", "503 5.5.1"); // no sender: `evil` never ran
    s.deliver("alice@mailiy.test", HELLO, "250 2.0.0");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].envelope_from, "sender@example.test");
}

#[test]
fn starttls_before_ehlo_and_with_parameters() {
    let mut s = TestSession::with_starttls(alice(), |_| {});
    s.cmd("STARTTLS now", "501 5.5.4");
    s.starttls();
    s.ehlo();
    s.deliver("alice@mailiy.test", HELLO, "250 2.0.0");
}

#[test]
fn require_tls_refuses_mail_and_auth_before_starttls() {
    let sink = alice().with_auth(ANY);
    let mut s = TestSession::with_starttls(sink.clone(), |c| c.require_tls = true);
    s.ehlo();
    s.mail_from(
        "a@example.test",
        "530 5.7.0 Must issue a STARTTLS command first",
    );
    s.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "530 5.7.0");
    s.starttls();
    s.ehlo();
    s.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "235");
    s.deliver("alice@mailiy.test", HELLO, "250 2.0.0");
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn an_implicit_tls_session_is_secure_from_the_start() {
    let mut s = TestSession::with(alice(), LARGEST, |c| c.require_tls = true);
    s.session.start_secure();
    assert!(!s.ehlo().iter().any(|l| l.contains("STARTTLS")));
    s.cmd("STARTTLS", "554 5.5.1");
    s.deliver("alice@mailiy.test", HELLO, "250 2.0.0");
}

#[test]
fn refusals_say_how_to_fix_them() {
    let (mut s, _) = TestSession::greeted(MemorySink::new().with_mailbox(
        "small@mailiy.test",
        1000,
        1024 * 1024,
    ));
    s.mail_from("a@b.test", "250");
    let unknown = s.rcpt_to("nobody@mailiy.test", "550 5.1.1");
    assert!(unknown.contains("--catch-all TIER"), "{unknown}");
    s.rcpt_to("small@mailiy.test", "250");
    let big = [b"Subject: big\r\n\r\n".to_vec(), b"x\r\n".repeat(2000)].concat();
    let over = s.data(&big, "552 5.3.4");
    assert!(
        over.contains("limit 1000 bytes for the anon tier; --anon-max-message raises it"),
        "{over}"
    );
    let declared = s.cmd(&format!("MAIL FROM:<a@b.test> SIZE={}", LARGEST + 1), "552");
    assert!(declared.contains("--pro-max-message"), "{declared}");
}

#[test]
fn each_message_keeps_its_envelope_and_transcript_without_content() {
    let (mut s, sink) = TestSession::greeted(alice().with_mailbox("bob@mailiy.test", 1024, 4096));
    s.mail_from("App@Example.test", "250");
    s.rcpt_to("Alice@mailiy.test", "250");
    s.rcpt_to("bob@mailiy.test", "250");
    s.data(b"Subject: hi\r\n\r\nsecret-body-token\r\n", "250");
    let got = sink.messages();
    let e = &got[0].envelope;
    assert_eq!(e.mail_from, "App@Example.test");
    assert_eq!(e.rcpt_to, ["alice@mailiy.test", "bob@mailiy.test"]);
    assert_eq!(e.helo.as_deref(), Some("client.test"));
    assert_eq!(e.client.as_deref(), Some("127.0.0.1:2525"));
    assert_eq!((e.auth_user.clone(), e.tls.clone()), (None, None));
    let texts: Vec<&str> = got[0].transcript.iter().map(|l| l.text.as_str()).collect();
    assert!(texts.contains(&"EHLO client.test") && texts.contains(&"DATA"));
    assert!(texts.iter().any(|t| t.starts_with("354")));
    assert!(!texts.iter().any(|t| t.contains("secret-body-token")));
    // The next transaction starts with no recipients of its own, and where they went with it.
    s.deliver("bob@mailiy.test", HELLO, "250");
    let next = &sink.messages()[1].envelope;
    assert_eq!(next.rcpt_to, ["bob@mailiy.test"]);
    assert_eq!(next.delivered_to, ["bob@mailiy.test"]);
}

#[test]
fn refusals_are_counted_and_recorded_with_their_recipient() {
    let (mut s, sink) = TestSession::greeted(alice());
    s.mail_from("sender@example.test", "250");
    s.rcpt_to("nobody@mailiy.test", "550");
    s.cmd("RSET", "250");
    s.cmd("MAIL FROM:<big@example.test> SIZE=99999999", "552");
    let r = sink.refusals();
    assert_eq!(sink.rejections(Rejection::UnknownRecipient), 1);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].code, 550);
    assert_eq!(r[0].recipients, ["nobody@mailiy.test"]);
    assert_eq!(r[0].mail_from.as_deref(), Some("sender@example.test"));
    assert_eq!(r[0].client, "127.0.0.1:2525");
    assert!(r[0]
        .transcript
        .last()
        .is_some_and(|l| l.text.starts_with("550")));
    assert_eq!(r[1].code, 552);
    assert!(r[1].recipients.is_empty());
    assert_eq!(r[1].mail_from.as_deref(), Some("big@example.test"));
}

/// LAN mode: AUTH required, and only over TLS.
const LAN: AuthPolicy = AuthPolicy {
    offered: true,
    cram_md5: true,
    required: true,
    tls_only: true,
};

#[test]
fn an_authenticated_session_sends_the_unknown_to_its_own_inbox_once() {
    let sink = alice().with_auth(ANY);
    let mut s = TestSession::new(sink.clone());
    s.ehlo();
    s.rcpt_to("nobody@x.test", "503"); // (no sender yet)
    s.mail_from("a@b.test", "250");
    s.rcpt_to("nobody@x.test", "550 5.1.1"); // no login yet: as before
    s.cmd("RSET", "250");
    s.cmd("AUTH PLAIN AHNob3AAczNjcmV0", "235 2.7.0"); // shop / s3cret
    s.mail_from("a@b.test", "250");
    s.rcpt_to("nobody@x.test", "250");
    s.rcpt_to("other@y.test", "250");
    s.rcpt_to("alice@mailiy.test", "250");
    s.data(HELLO, "250 2.0.0");
    let m = sink.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].recipients, ["shop@sink.test", "alice@mailiy.test"]);
    // The inbox now exists: the next message finds it live.
    s.deliver("third@z.test", HELLO, "250 2.0.0");
    assert_eq!(sink.messages()[1].recipients, ["shop@sink.test"]);
}

#[test]
fn auth_failures_are_501_535_and_count_toward_the_error_limit() {
    let sink = alice().with_auth(ANY).with_user("shop", "s3cret");
    let mut s = TestSession::with(sink, LARGEST, |c| c.max_errors = 4);
    s.ehlo();
    s.cmd("AUTH PLAIN %%%", "501 5.5.2");
    s.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    s.cmd("*", "501 5.0.0");
    s.cmd("AUTH PLAIN AHNob3AAd3Jvbmc=", "535 5.7.8"); // shop / wrong
    let last = s.cmd("AUTH PLAIN AHNob3AAd3Jvbmc=", "535 5.7.8");
    assert!(last.contains("421 4.7.0"), "{last:?}");
    assert_eq!(s.flow, Flow::Close);
}

#[test]
fn a_good_login_is_235_and_a_second_auth_503() {
    let sink = alice().with_auth(ANY).with_user("shop", "s3cret");
    let mut s = TestSession::new(sink);
    s.ehlo();
    s.cmd("AUTH PLAIN AHNob3AAczNjcmV0", "235 2.7.0");
    s.cmd("AUTH PLAIN AHNob3AAczNjcmV0", "503 5.5.1");
}

#[test]
fn a_user_name_that_names_no_inbox_is_535() {
    let mut s = TestSession::new(alice().with_auth(ANY));
    s.ehlo();
    // "my app" / x
    let reply = s.cmd("AUTH PLAIN AG15IGFwcAB4", "535 5.7.8");
    assert!(reply.contains("cannot name an inbox"), "{reply:?}");
}

#[test]
fn cram_md5_without_it_offered_is_504() {
    let policy = AuthPolicy {
        cram_md5: false,
        ..ANY
    };
    let mut s = TestSession::new(alice().with_auth(policy));
    let lines = s.ehlo();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("250 AUTH PLAIN LOGIN")
    );
    s.cmd("AUTH CRAM-MD5", "504 5.5.4");
}

#[test]
fn lan_mode_requires_auth_and_offers_it_only_over_tls() {
    let sink = alice().with_auth(LAN);
    let mut s = TestSession::with_starttls(sink.clone(), |_| {});
    let lines = s.ehlo();
    assert!(!lines.iter().any(|l| l.contains("AUTH")), "{lines:?}");
    s.cmd("AUTH PLAIN AHNob3AAczNjcmV0", "538 5.7.11");
    s.mail_from("a@b.test", "530 5.7.0 Authentication required");
    s.starttls();
    let lines = s.ehlo();
    assert!(lines.iter().any(|l| l.contains("AUTH PLAIN")), "{lines:?}");
    s.mail_from("a@b.test", "530 5.7.0");
    s.cmd("AUTH PLAIN AHNob3AAczNjcmV0", "235");
    s.deliver("alice@mailiy.test", HELLO, "250 2.0.0");
    assert_eq!(sink.messages().len(), 1);
}

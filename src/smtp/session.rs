//! One SMTP session: [`Session`] is the protocol state machine, sans IO: it is fed the client's
//! bytes and produces replies, receives DATA and hands messages to its [`Mailroom`]. [`run`]
//! moves bytes between it and a socket; tests and the fuzzer drive the same [`Session`] from
//! bytes alone, against an in-memory sink.
//!
//! Replies are buffered and flushed whenever the client's pipelined input is used up, so
//! PIPELINING clients get every reply in order with one write.

use std::net::SocketAddr;
use std::sync::Arc;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use smtp_proto::{Request, MAIL_BODY_BINARYMIME};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::auth::{Exchange, Mechanism, Step};
use super::conn::Conn;
use super::transcript::{Transcript, EXCERPT_LINES};
use super::Mailroom;
use crate::config::{SmtpConfig, Tier};
use crate::engine::{AuthVerdict, FaultStage, RcptDecision, Recipient};
use crate::metrics::Rejection;
use crate::model::{Envelope, TlsInfo};

/// Longest command line, CRLF included (RFC 5321 allows 512; extensions make room for more).
pub const MAX_LINE: usize = 4096;

mod faults;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Buffer capacity an idle session keeps; more is given back while it waits, so ten thousand
/// idle connections cost little memory.
const IDLE_BUFFER: usize = 4096;

enum Mode {
    Command,
    /// After an overlong line: drop bytes up to the next LF.
    SkipLine,
    /// Receiving the message; `discard` takes over once the size cap is passed, and counts
    /// the bytes it drops in `discarded`.
    Data {
        receiver: DataReceiver,
        body: Vec<u8>,
        discard: Option<DummyDataReceiver>,
        discarded: u64,
    },
    /// BDAT is not offered: its chunk is skipped so it is never read as commands.
    SkipBytes(usize),
    /// Between the challenges of an AUTH exchange.
    Auth(Exchange),
}

/// What the connection should do after the session has handled its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Send the replies and read on.
    Continue,
    /// Send the replies and close.
    Close,
    /// Send the replies, stop reading the message and close: the client is streaming past the
    /// SIZE that EHLO advertised. Its input is drained (bounded) so it can still read the reply.
    Cut,
    /// Send the replies (`220` to STARTTLS), then do the TLS handshake and go on over it. Any
    /// input after the STARTTLS line has already been dropped (CVE-2011-0411).
    StartTls,
}

/// Where the session stands with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    /// No certificate for this connection: STARTTLS is not offered.
    Unavailable,
    /// Offered in EHLO, not started yet.
    Offered,
    /// Running over TLS (after STARTTLS or from the start).
    Active,
}

/// The SMTP state machine of one connection, fed with bytes by [`Session::receive`].
pub struct Session<M: Mailroom> {
    mailroom: M,
    cfg: SmtpConfig,
    /// What EHLO advertises as SIZE: the largest message any recipient could take.
    largest_message: u64,
    peer: SocketAddr,
    mode: Mode,
    input: Vec<u8>,
    output: Vec<u8>,
    helo: bool,
    tls: Tls,
    mail_from: Option<String>,
    declared_size: u64,
    recipients: Vec<Recipient>,
    /// RCPT commands accepted in this transaction (repeats of one address included).
    rcpt_accepted: usize,
    /// The smallest per-message cap among the accepted recipients, and the tier it is of.
    max_message: u64,
    max_message_tier: Tier,
    errors: u32,
    /// After a cut, how many more bytes are drained before the connection closes.
    cut_drain: u64,
    /// Faults on demand still to apply (a delay, a cut in DATA), see `session/faults.rs`.
    faults: faults::SessionFaults,
    /// What each message gets as its envelope: the session's (HELO, client, AUTH user, TLS)
    /// and the transaction's (sender, recipients). Boxed, like the transcript: an idle
    /// session's task carries a pointer, not their size.
    envelope: Box<Envelope>,
    transcript: Box<Transcript>,
}

/// Serves one connection until the client leaves, a limit is hit, the server shuts down, or
/// `slot` is asked to make room (only while no transaction is open). `tls` does the handshake
/// when the client asks for STARTTLS.
pub(super) async fn run<M: Mailroom>(
    mut stream: Conn,
    mut s: Session<M>,
    mut shutdown: watch::Receiver<bool>,
    slot: Arc<super::Slot>,
    tls: Option<TlsAcceptor>,
) {
    let deadline = Instant::now() + s.cfg.session_timeout;
    let mut flow = s.greeting_flow();
    loop {
        // Before the reply goes out: a client that got `250` to RCPT may at once make the
        // server full, and this session must already count as in a transaction by then.
        let busy = s.in_transaction();
        slot.set_busy(busy);
        if let Some(delay) = s.take_fault_delay() {
            tokio::time::sleep(delay).await; // a slow reply, asked for by a fault
        }
        if !s.output.is_empty() {
            let write = tokio::time::timeout(s.cfg.idle_timeout, stream.send(&s.output));
            if !matches!(write.await, Ok(Ok(()))) {
                return;
            }
            s.output.clear();
            s.output.shrink_to(IDLE_BUFFER);
        }
        match flow {
            Flow::Continue => {}
            Flow::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            Flow::Cut => {
                drain_after_cut(&mut stream, s.cfg.idle_timeout, s.cut_drain).await;
                return;
            }
            Flow::StartTls => {
                let (Conn::Plain(tcp), Some(acceptor)) = (stream, tls.as_ref()) else {
                    return; // the session offers STARTTLS only on a plain connection with TLS
                };
                // Boxed, like `process` below: not part of every idle session's task.
                let handshake = Box::pin(Conn::handshake(tcp, acceptor, s.cfg.idle_timeout));
                match handshake.await {
                    Some(secure) => stream = secure,
                    None => return,
                }
                s.set_tls(stream.tls_info());
                flow = Flow::Continue;
                continue;
            }
        }
        let in_data = matches!(s.mode, Mode::Data { .. });
        if s.input.is_empty() {
            s.input.shrink_to(IDLE_BUFFER);
        }
        let idle = Instant::now() + s.cfg.idle_timeout;
        let ready = tokio::select! {
            r = tokio::time::timeout_at(idle.min(deadline), stream.readable()) => r,
            // Mid-DATA a shutdown waits (bounded by the server's grace period) so the
            // transaction can complete; between commands the session ends at once.
            _ = shutdown.changed(), if !in_data => {
                let _ = stream.send(b"421 4.3.2 Service shutting down\r\n").await;
                return;
            }
            // The server is full and this session sits idle outside any transaction.
            _ = slot.evicted(), if !busy => {
                let bye = b"421 4.7.0 Too many connections; closing an idle session\r\n";
                Box::pin(stream.send_now(bye)).await;
                return;
            }
        };
        match ready {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                let why = if Instant::now() >= deadline {
                    "421 4.4.2 Session time limit reached, closing\r\n"
                } else {
                    "421 4.4.2 Idle too long, closing\r\n"
                };
                let _ = stream.send(why.as_bytes()).await;
                return;
            }
        }
        // Room for a chunk only once bytes are there: a waiting session holds no read buffer.
        s.input.reserve(READ_CHUNK);
        flow = match stream.try_read_buf(&mut s.input).await {
            Ok(0) => return, // client closed; an unfinished DATA is dropped, never stored
            Ok(_) => {
                slot.touch();
                // Boxed: the deepest state (ingest, store) is allocated only while it runs,
                // not carried by every idle connection's task.
                Box::pin(s.process()).await
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Flow::Continue,
            Err(_) => return,
        };
    }
}

/// After a cut: no more writes, and the client's bytes are read and dropped until it closes,
/// goes quiet for the idle timeout, or sends `limit` more bytes, so it can read the final
/// reply instead of losing it to a connection reset.
async fn drain_after_cut(stream: &mut Conn, idle: std::time::Duration, limit: u64) {
    let _ = stream.shutdown().await;
    let mut sink = vec![0u8; READ_CHUNK];
    let mut left = limit;
    while left > 0 {
        match tokio::time::timeout(idle, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n as u64),
            _ => return,
        }
    }
}

impl<M: Mailroom> Session<M> {
    /// A session for a client at `peer`, with the greeting already queued as output.
    /// `largest_message` is the SIZE that EHLO advertises (and MAIL's `SIZE=` is held to).
    pub fn new(mailroom: M, cfg: SmtpConfig, largest_message: u64, peer: SocketAddr) -> Self {
        mailroom.count_session();
        let mut s = Session {
            mailroom,
            largest_message,
            peer,
            mode: Mode::Command,
            input: Vec::new(),
            output: Vec::with_capacity(128),
            helo: false,
            tls: Tls::Unavailable,
            mail_from: None,
            declared_size: 0,
            recipients: Vec::new(),
            rcpt_accepted: 0,
            max_message: 0,
            max_message_tier: Tier::Anon,
            errors: 0,
            cut_drain: 0,
            faults: Default::default(),
            envelope: Box::new(Envelope {
                client: Some(peer.to_string()),
                ..Envelope::default()
            }),
            transcript: Box::new(Transcript::new(
                cfg.transcript_max_lines,
                cfg.transcript_max_bytes,
            )),
            cfg,
        };
        s.reply(&format!("220 {} ESMTP Mailiy ready", s.cfg.hostname));
        s.fault_at(FaultStage::Connect, None);
        s
    }

    /// Takes bytes the client sent and handles every complete command or message in them;
    /// an incomplete rest waits for the next call. Replies collect in [`Session::take_output`].
    pub async fn receive(&mut self, bytes: &[u8]) -> Flow {
        self.input.extend_from_slice(bytes);
        self.process().await
    }

    /// Offers STARTTLS in EHLO (the connection can do the handshake).
    pub fn offer_starttls(&mut self) {
        if self.tls == Tls::Unavailable {
            self.tls = Tls::Offered;
        }
    }

    /// Marks the session as running over TLS from its first byte (`--smtps`).
    pub fn start_secure(&mut self) {
        self.tls = Tls::Active;
    }

    /// What the TLS handshake negotiated, for the envelope.
    pub fn set_tls(&mut self, tls: Option<TlsInfo>) {
        self.envelope.tls = tls;
    }

    /// True once the session runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.tls == Tls::Active
    }

    /// The replies produced so far (removed from the session).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True while the session holds an accepted recipient or receives a message: such a
    /// session is never closed to make room. A sender alone, a half line or a skipped BDAT
    /// chunk do not count, so an idle client cannot pin its slot with them.
    pub fn in_transaction(&self) -> bool {
        !self.recipients.is_empty() || matches!(self.mode, Mode::Data { .. })
    }

    fn reply(&mut self, line: &str) {
        self.transcript.reply(line);
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.declared_size = 0;
        self.recipients.clear();
        self.rcpt_accepted = 0;
        self.max_message = 0;
        self.faults.end_transaction();
    }

    /// Counts a refusal whose reply was just queued, and keeps it (with the recipient refused,
    /// else the transaction's, and this session's latest lines) for `GET /v1/refusals`.
    fn rejected(&mut self, why: Rejection, recipient: Option<&str>, reply: &str) {
        self.mailroom.count_rejection(why);
        let refusal = self
            .transcript
            .refusal(&self.envelope, recipient, reply, EXCERPT_LINES);
        self.mailroom.record_refusal(refusal);
    }

    /// Counts a client error; true when the session has made too many and must end.
    fn error(&mut self, reply: &str) -> bool {
        self.reply(reply);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.reply("421 4.7.0 Too many errors, closing");
            return true;
        }
        false
    }

    /// Handles every complete unit of input; the rest waits for more bytes.
    async fn process(&mut self) -> Flow {
        let mut pos = 0;
        let flow = loop {
            let rest = &self.input[pos..];
            if rest.is_empty() {
                break Flow::Continue;
            }
            match &mut self.mode {
                Mode::SkipLine => match memchr(b'\n', rest) {
                    Some(i) => {
                        pos += i + 1;
                        self.mode = Mode::Command;
                    }
                    None => {
                        pos = self.input.len();
                        break Flow::Continue;
                    }
                },
                Mode::SkipBytes(left) => {
                    let n = (*left).min(rest.len());
                    *left -= n;
                    pos += n;
                    if *left == 0 {
                        self.mode = Mode::Command;
                    }
                }
                Mode::Data {
                    receiver,
                    body,
                    discard,
                    discarded,
                } => {
                    let mut iter = rest.iter();
                    let done = match discard {
                        Some(d) => d.ingest(&mut iter),
                        None => {
                            let done = receiver.ingest(&mut iter, body);
                            if !done && body.len() as u64 > self.max_message {
                                // Over the cap: keep reading to the end, but store nothing.
                                *discard = Some(DummyDataReceiver::new_data(receiver));
                                *body = Vec::new();
                            }
                            done
                        }
                    };
                    let used = rest.len() - iter.as_slice().len();
                    pos += used;
                    if self.faults.cut_due(used, done) {
                        // A fault: close mid-message without a reply; nothing is stored.
                        self.mode = Mode::Command;
                        let what = "(a fault cut the connection in the middle of DATA)";
                        self.rejected(Rejection::Fault, None, what);
                        self.reset_transaction();
                        break Flow::Close;
                    }
                    if !done {
                        if discard.is_some() {
                            *discarded += used as u64;
                            let advertised = self.largest_message;
                            if self.max_message + *discarded > advertised {
                                // Past the SIZE that EHLO advertised, no client has a reason to
                                // go on: stop reading, answer, and close. (Up to there the rest
                                // is drained, so a sender over its mailbox's cap still hears
                                // 552 at its final dot and keeps the session.)
                                let max = self.max_message;
                                self.cut_drain = advertised;
                                self.mode = Mode::Command;
                                self.reset_transaction();
                                let tier = self.max_message_tier;
                                let reply = format!(
                                    "{}, closing",
                                    too_big("for its recipients", max, tier)
                                );
                                self.reply(&reply);
                                self.rejected(Rejection::TooBig, None, &reply);
                                break Flow::Cut;
                            }
                        }
                        break Flow::Continue;
                    }
                    let Mode::Data { body, discard, .. } =
                        std::mem::replace(&mut self.mode, Mode::Command)
                    else {
                        unreachable!("mode was Data")
                    };
                    let over_cap = discard.is_some() || body.len() as u64 > self.max_message;
                    match self.fault_at(FaultStage::DataEnd, None) {
                        Some(flow) => {
                            self.reset_transaction();
                            if flow == Flow::Close {
                                break Flow::Close;
                            }
                        }
                        None => self.finish_data(body, over_cap).await,
                    }
                }
                Mode::Command | Mode::Auth { .. } => {
                    let Some(i) = memchr(b'\n', rest) else {
                        if rest.len() >= MAX_LINE {
                            pos = self.input.len();
                            self.mode = Mode::SkipLine;
                            if self.error("500 5.5.2 Line too long") {
                                break Flow::Close;
                            }
                        }
                        break Flow::Continue;
                    };
                    let line = rest[..=i].to_vec();
                    pos += i + 1;
                    if line.len() > MAX_LINE {
                        if self.error("500 5.5.2 Line too long") {
                            break Flow::Close;
                        }
                        continue;
                    }
                    let in_auth = matches!(self.mode, Mode::Auth(_));
                    self.transcript.command(&line, in_auth);
                    let flow = if let Mode::Auth(_) = self.mode {
                        self.auth_line(&line).await
                    } else {
                        self.command(&line).await
                    };
                    match flow {
                        Flow::Close => break Flow::Close,
                        Flow::StartTls => {
                            // Whatever came after STARTTLS was sent in the clear before the
                            // handshake: it is dropped, never run as commands over TLS.
                            pos = self.input.len();
                            break Flow::StartTls;
                        }
                        Flow::Continue | Flow::Cut => {}
                    }
                }
            }
        };
        self.input.drain(..pos);
        flow
    }

    async fn command(&mut self, line: &[u8]) -> Flow {
        // CR is only ever half of a line end (RFC 5321 2.3.8). A bare CR inside a command is how
        // smuggled commands and header injections are hidden (`MAIL FROM:<a>\rX-Injected: 1`),
        // and the parser would drop it silently, so the whole line is refused.
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if body.strip_suffix(b"\r").unwrap_or(body).contains(&b'\r') {
            return self.refuse("501 5.5.2 Bare CR in a command line");
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r.into_owned(),
            Err(e) => {
                let reply = parse_error_reply(&e);
                return if self.error(&reply) {
                    Flow::Close
                } else {
                    Flow::Continue
                };
            }
        };
        match request {
            Request::Ehlo { host } => {
                self.envelope.helo = Some(host);
                if let Some(flow) = self.fault_at(FaultStage::Helo, None) {
                    return flow;
                }
                self.reset_transaction();
                self.helo = true;
                let mut lines = vec![
                    format!("{} greets you", self.cfg.hostname),
                    format!("SIZE {}", self.largest_message),
                    "8BITMIME".into(),
                    "PIPELINING".into(),
                    "SMTPUTF8".into(),
                    "ENHANCEDSTATUSCODES".into(),
                ];
                if self.tls == Tls::Offered {
                    lines.push("STARTTLS".into());
                }
                let auth = self.mailroom.auth_policy();
                if auth.offered && (!auth.tls_only || self.tls == Tls::Active) {
                    lines.push(Mechanism::ehlo_line(auth).into());
                }
                let last = lines.len() - 1;
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    self.reply(&format!("250{sep}{l}"));
                }
            }
            Request::Helo { host } => {
                self.envelope.helo = Some(host);
                if let Some(flow) = self.fault_at(FaultStage::Helo, None) {
                    return flow;
                }
                self.reset_transaction();
                self.helo = true;
                let hostname = self.cfg.hostname.clone();
                self.reply(&format!("250 {hostname}"));
            }
            Request::Mail { from } => {
                if !self.helo {
                    return self.refuse("503 5.5.1 Send EHLO or HELO first");
                }
                if self.tls_required() {
                    return self.refuse("530 5.7.0 Must issue a STARTTLS command first");
                }
                if self.envelope.auth_user.is_none() && self.mailroom.auth_policy().required {
                    return self.refuse("530 5.7.0 Authentication required");
                }
                if self.mail_from.is_some() {
                    return self.refuse("503 5.5.1 Sender already given (RSET to start over)");
                }
                if from.flags & MAIL_BODY_BINARYMIME != 0 {
                    return self.refuse("555 5.5.4 BODY=BINARYMIME is not supported");
                }
                let largest = self.largest_message;
                // The envelope's sender and recipients stay past the transaction's end, for the
                // refusals that follow it; a new MAIL starts them over.
                self.envelope.mail_from = from.address.clone();
                self.envelope.rcpt_to.clear();
                self.envelope.delivered_to.clear();
                if from.size as u64 > largest {
                    let reply = format!(
                        "552 5.3.4 Message size exceeds the largest accepted size ({largest} bytes, \
                         the largest of --anon-max-message, --free-max-message, --pro-max-message)"
                    );
                    self.reply(&reply);
                    self.rejected(Rejection::TooBig, None, &reply);
                    return Flow::Continue;
                }
                self.mail_from = Some(from.address);
                self.declared_size = from.size as u64;
                if let Some(flow) = self.fault_at(FaultStage::Mail, None) {
                    self.reset_transaction();
                    return flow;
                }
                self.reply("250 2.1.0 Sender OK");
            }
            Request::Rcpt { to } => {
                // smtp-proto reads `<postmaster>` as an empty path, like `<>`; it is a name
                // (RFC 5321 4.5.1), which this server answers like any unknown mailbox.
                let address = if to.address.is_empty() && is_postmaster(line) {
                    "postmaster".to_string()
                } else {
                    to.address
                };
                return self.rcpt(address).await;
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    return self.refuse("503 5.5.1 Send MAIL FROM first");
                }
                if self.recipients.is_empty() {
                    return self.refuse("503 5.5.1 No valid recipients");
                }
                if let Some(flow) = self.fault_at(FaultStage::Data, None) {
                    return flow;
                }
                self.mode = Mode::Data {
                    receiver: data_receiver(),
                    body: Vec::new(),
                    discard: None,
                    discarded: 0,
                };
                self.reply("354 3.0.0 Send the message, end with <CRLF>.<CRLF>");
            }
            Request::Rset => {
                self.reset_transaction();
                self.reply("250 2.0.0 Reset");
            }
            Request::Noop { .. } => self.reply("250 2.0.0 OK"),
            Request::Quit => {
                self.reply("221 2.0.0 Bye");
                return Flow::Close;
            }
            Request::Vrfy { .. } => self.reply("252 2.5.0 Cannot verify; send mail to find out"),
            Request::Help { .. } => {
                self.reply("214 2.0.0 Mailiy: a local inbox. Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT")
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => return self.auth(mechanism, &initial_response).await,
            Request::Bdat { chunk_size, .. } => {
                self.mode = Mode::SkipBytes(chunk_size);
                return self.refuse("502 5.5.1 BDAT is not supported");
            }
            Request::StartTls => return self.starttls(line),
            Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::Lhlo { .. } => return self.refuse("502 5.5.1 Command not implemented"),
        }
        Flow::Continue
    }

    /// STARTTLS (RFC 3207): `220`, then the connection does the handshake and the session
    /// starts over (HELO, sender, recipients and AUTH forgotten; the client must EHLO again).
    fn starttls(&mut self, line: &[u8]) -> Flow {
        match self.tls {
            Tls::Unavailable => self.refuse("502 5.5.1 STARTTLS is not offered here"),
            Tls::Active => self.refuse("554 5.5.1 TLS is already active"),
            Tls::Offered if line.trim_ascii().len() > "STARTTLS".len() => {
                self.refuse("501 5.5.4 STARTTLS takes no parameters")
            }
            Tls::Offered => {
                self.reset_transaction();
                self.helo = false;
                self.envelope.auth_user = None;
                self.tls = Tls::Active;
                self.reply("220 2.0.0 Ready to start TLS");
                Flow::StartTls
            }
        }
    }

    /// With `--smtp-require-tls`, MAIL and AUTH wait for STARTTLS.
    fn tls_required(&self) -> bool {
        self.cfg.require_tls && self.tls != Tls::Active
    }

    /// Replies with an error that counts toward the session's error limit.
    fn refuse(&mut self, reply: &str) -> Flow {
        if self.error(reply) {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    async fn rcpt(&mut self, address: String) -> Flow {
        if self.mail_from.is_none() {
            return self.refuse("503 5.5.1 Send MAIL FROM first");
        }
        // Every accepted RCPT counts, repeats included, so a flood of one address is bounded too.
        if self.rcpt_accepted >= self.cfg.max_recipients {
            let reply = "452 4.5.3 Too many recipients";
            self.reply(reply);
            self.rejected(Rejection::TooManyRecipients, Some(&address), reply);
            return Flow::Continue;
        }
        if address.is_empty() {
            return self.refuse("501 5.1.3 Empty recipient address");
        }
        let address = address.to_lowercase();
        if let Some(flow) = self.fault_at(FaultStage::Rcpt, Some(&address)) {
            return flow;
        }
        if self.recipients.iter().any(|r| r.address() == address) {
            self.rcpt_accepted += 1;
            self.reply("250 2.1.5 Recipient OK");
            return Flow::Continue;
        }
        let user = self.envelope.auth_user.as_deref();
        let decision = match self.mailroom.check_recipient(&address, user).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "smtp: recipient check failed");
                self.reply("451 4.3.0 Temporary failure, try again");
                return Flow::Continue;
            }
        };
        match decision {
            RcptDecision::Unknown => {
                let reply = "550 5.1.1 No such mailbox here (unknown or expired); \
                     --catch-all TIER or the catchAll setting accepts every address";
                let flow = self.refuse(reply);
                self.rejected(Rejection::UnknownRecipient, Some(&address), reply);
                return flow;
            }
            RcptDecision::Accept {
                recipient,
                tier,
                max_message_bytes,
                storage_left,
            } => {
                if self.declared_size > max_message_bytes {
                    let reply = too_big("for this mailbox", max_message_bytes, tier);
                    self.reply(&reply);
                    self.rejected(Rejection::TooBig, Some(&address), &reply);
                } else if storage_left == 0 || self.declared_size > storage_left {
                    let reply = "452 4.2.2 Mailbox full";
                    self.reply(reply);
                    self.rejected(Rejection::MailboxFull, Some(&address), reply);
                } else if self
                    .recipients
                    .iter()
                    .any(|r| r.address() == recipient.address())
                {
                    // Another address routed to the same inbox (an SMTP user's): one copy.
                    self.envelope
                        .delivered_to
                        .push(recipient.address().to_string());
                    self.envelope.rcpt_to.push(address);
                    self.rcpt_accepted += 1;
                    self.reply("250 2.1.5 Recipient OK");
                } else {
                    if self.recipients.is_empty() || max_message_bytes < self.max_message {
                        self.max_message = max_message_bytes;
                        self.max_message_tier = tier;
                    }
                    self.envelope
                        .delivered_to
                        .push(recipient.address().to_string());
                    self.recipients.push(recipient);
                    self.envelope.rcpt_to.push(address);
                    self.rcpt_accepted += 1;
                    self.reply("250 2.1.5 Recipient OK");
                }
            }
        }
        Flow::Continue
    }

    /// AUTH (RFC 4954): the checks, then the first step of the exchange ([`super::auth`]).
    async fn auth(&mut self, mechanism: u64, initial: &str) -> Flow {
        let policy = self.mailroom.auth_policy();
        if !policy.offered {
            return self.refuse("502 5.5.1 AUTH is off (--smtp-auth off)");
        }
        if !self.helo {
            return self.refuse("503 5.5.1 Send EHLO first");
        }
        if self.tls_required() {
            return self.refuse("530 5.7.0 Must issue a STARTTLS command first");
        }
        if policy.tls_only && self.tls != Tls::Active {
            return self
                .refuse("538 5.7.11 Encryption required for requested authentication mechanism");
        }
        if self.envelope.auth_user.is_some() {
            return self.refuse("503 5.5.1 Already authenticated");
        }
        if self.mail_from.is_some() {
            return self.refuse("503 5.5.1 AUTH is not allowed during a mail transaction");
        }
        let Some(mechanism) = Mechanism::offered(mechanism, policy) else {
            return self.refuse(if policy.cram_md5 {
                "504 5.5.4 Use AUTH PLAIN, LOGIN or CRAM-MD5"
            } else {
                "504 5.5.4 Use AUTH PLAIN or LOGIN"
            });
        };
        let (exchange, step) = Exchange::start(mechanism, initial, &self.cfg.hostname);
        self.auth_step(exchange, step).await
    }

    /// A client line inside an AUTH exchange.
    async fn auth_line(&mut self, line: &[u8]) -> Flow {
        let Mode::Auth(mut exchange) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return Flow::Continue;
        };
        let step = exchange.next(line);
        self.auth_step(exchange, step).await
    }

    async fn auth_step(&mut self, exchange: Exchange, step: Step) -> Flow {
        match step {
            Step::Challenge(text) => {
                self.mode = Mode::Auth(exchange);
                self.reply(&format!("334 {text}"));
                Flow::Continue
            }
            Step::Fail(reply) => self.refuse(reply),
            Step::Done { user, password } => {
                match self.mailroom.authenticate(&user, password.as_deref()).await {
                    AuthVerdict::Accepted => {
                        self.envelope.auth_user = Some(user);
                        self.reply("235 2.7.0 Authentication succeeded");
                        Flow::Continue
                    }
                    AuthVerdict::Refused => {
                        self.refuse("535 5.7.8 Authentication credentials invalid")
                    }
                    AuthVerdict::BadUserName => self.refuse(
                        "535 5.7.8 The user name cannot name an inbox: use a-z, 0-9, '.', '_', \
                         '-', '+', or an address",
                    ),
                }
            }
        }
    }

    async fn finish_data(&mut self, body: Vec<u8>, over_cap: bool) {
        let recipients = std::mem::take(&mut self.recipients);
        let envelope = Envelope::clone(&self.envelope);
        let (max, tier) = (self.max_message, self.max_message_tier);
        self.reset_transaction();
        if over_cap {
            let reply = too_big("for its recipients", max, tier);
            self.reply(&reply);
            self.rejected(Rejection::TooBig, None, &reply);
            return;
        }
        let raw = normalize_bare_lf(body);
        let raw_len = raw.len();
        let transcript = self.transcript.for_message();
        match self
            .mailroom
            .deliver(envelope, transcript, recipients, raw)
            .await
        {
            Ok(o) if !o.stored.is_empty() => {
                let id = o.stored.first().cloned().unwrap_or_default();
                self.reply(&format!("250 2.0.0 OK queued as {id}"));
            }
            Ok(o) if o.storage_full > 0 => {
                let reply = "452 4.2.2 Mailbox full";
                self.reply(reply);
                self.rejected(Rejection::MailboxFull, None, reply);
            }
            Ok(_) => self.reply("550 5.1.1 Mailbox expired before the message was complete"),
            Err(e) if crate::store::is_disk_full(&e) => {
                tracing::error!(peer = %self.peer, size = raw_len, "smtp: the disk is full, message refused for now");
                let reply = "452 4.3.1 Insufficient system storage, try again later";
                self.reply(reply);
                self.rejected(Rejection::StoreFailure, None, reply);
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, error = %e, "smtp: message not stored");
                let reply = "451 4.3.0 Could not store the message, try again";
                self.reply(reply);
                self.rejected(Rejection::StoreFailure, None, reply);
            }
        }
    }
}

/// The 552 for a message over a tier's cap: the cap, the tier, and the flag that raises it.
fn too_big(what: &str, limit: u64, tier: Tier) -> String {
    format!(
        "552 5.3.4 Message too big {what} (limit {limit} bytes for the {tier} tier; \
         --{tier}-max-message raises it)"
    )
}

fn parse_error_reply(e: &smtp_proto::Error) -> String {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => "500 5.5.1 Unknown command".into(),
        E::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax".into(),
        E::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax".into(),
        E::SyntaxError { syntax } => format!("501 5.5.4 Syntax: {syntax}"),
        E::InvalidParameter { param } => format!("501 5.5.4 Invalid parameter {param}"),
        E::UnsupportedParameter { .. } => "555 5.5.4 Unsupported parameter".into(),
        E::ResponseTooLong => "500 5.5.2 Line too long".into(),
        E::NeedsMoreData { .. } | E::InvalidResponse { .. } => "500 5.5.2 Syntax error".into(),
    }
}

/// A DATA receiver that counts the CRLF ending the DATA command as the start of the first line,
/// so an empty message (`.` at once) ends, and a first line of `..x` is un-stuffed.
fn data_receiver() -> DataReceiver {
    let mut receiver = DataReceiver::new();
    let mut primed = Vec::with_capacity(2);
    receiver.ingest(&mut b"\r\n".iter(), &mut primed);
    receiver
}

/// Whether a RCPT line's path is `<postmaster>` (any case).
fn is_postmaster(line: &[u8]) -> bool {
    line.to_ascii_lowercase()
        .windows(12)
        .any(|w| w == b"<postmaster>")
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Turns every bare LF into CRLF (what Postfix calls `normalize`): sloppy senders such as
/// PHP's `mail()` get through, and the stored message has one line-ending convention.
/// A bare CR is kept as it is. Only `<CRLF>.<CRLF>` ever ended DATA, before this runs.
pub fn normalize_bare_lf(body: Vec<u8>) -> Vec<u8> {
    let bare = body
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || body[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + bare);
    for (i, &b) in body.iter().enumerate() {
        if b == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(bytes: &[u8]) -> (bool, Vec<u8>) {
        let mut body = Vec::new();
        let done = data_receiver().ingest(&mut bytes.iter(), &mut body);
        (done, body)
    }

    #[test]
    fn data_ends_only_at_crlf_dot_crlf_counting_the_data_line() {
        assert_eq!(receive(b".\r\n"), (true, b"".to_vec()));
        assert_eq!(receive(b"..x\r\n.\r\n"), (true, b".x\r\n".to_vec()));
        assert_eq!(receive(b"a\r\n.\r\n"), (true, b"a\r\n".to_vec()));
        for lookalike in [
            &b"a\n.\nb"[..],
            b"a\r\n.\nb",
            b"a\n.\r\nb",
            b"a\r.\rb",
            b"a\r\n.\rb",
        ] {
            assert!(!receive(lookalike).0, "{lookalike:?} must not end DATA");
        }
    }

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(
            normalize_bare_lf(b"a\nb\r\nc\n".to_vec()),
            b"a\r\nb\r\nc\r\n"
        );
        assert_eq!(normalize_bare_lf(b"\nx".to_vec()), b"\r\nx");
        assert_eq!(normalize_bare_lf(b"a\rb".to_vec()), b"a\rb");
        assert_eq!(normalize_bare_lf(b"a\r\n".to_vec()), b"a\r\n");
    }
}

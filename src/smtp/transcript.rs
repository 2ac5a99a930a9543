//! A session's transcript: the commands the client sent and the replies it got, with the time
//! since it connected. Never message content (DATA's bytes are not commands), and never AUTH
//! secrets: an AUTH command keeps its mechanism only, and every line of the exchange after it is
//! `<redacted>`.
//!
//! Bounded in lines and bytes: past either, the oldest lines go, and a first line says how many
//! were dropped. A message keeps the session's opening (greeting, EHLO, STARTTLS, AUTH: up to
//! its first `MAIL`) and its own transaction, not the transactions before it: a session that
//! sends thousands of messages stores a few dozen lines with each, not its whole bounded log.

use std::collections::VecDeque;
use std::time::Instant;

use crate::clock::{now_ms, to_rfc3339};
use crate::model::{Direction, Envelope, Refusal, TranscriptLine};

/// Shown in place of anything secret.
pub const REDACTED: &str = "<redacted>";
/// Longest command or reply kept, in bytes; the rest of a line is cut.
const MAX_LINE_TEXT: usize = 512;
/// Lines of a session's transcript that go with a refusal.
pub const EXCERPT_LINES: usize = 20;
/// Lines of the session's opening kept for its messages, at most.
const OPENING_LINES: usize = 40;

pub struct Transcript {
    started: Instant,
    /// The session's first lines, up to its first `MAIL` (bounded by [`OPENING_LINES`]).
    opening: Vec<TranscriptLine>,
    /// Set at the first `MAIL`: the opening is complete.
    opened: bool,
    /// Lines recorded so far, dropped ones included: line `pushed - lines.len() + i` is
    /// `lines[i]`.
    pushed: u64,
    /// The number of the line where the current transaction's `MAIL` is.
    transaction_start: u64,
    lines: VecDeque<TranscriptLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl Transcript {
    pub fn new(max_lines: usize, max_bytes: usize) -> Transcript {
        Transcript {
            started: Instant::now(),
            opening: Vec::new(),
            opened: false,
            pushed: 0,
            transaction_start: 0,
            lines: VecDeque::new(),
            bytes: 0,
            max_lines,
            max_bytes,
            dropped_lines: 0,
            dropped_bytes: 0,
        }
    }

    /// A command line as the client sent it; `in_auth` when it is part of an AUTH exchange.
    pub fn command(&mut self, line: &[u8], in_auth: bool) {
        let text = if in_auth {
            REDACTED.to_string()
        } else {
            redact_auth(&String::from_utf8_lossy(line.trim_ascii_end()))
        };
        if text
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case("MAIL "))
        {
            self.opened = true;
            self.transaction_start = self.pushed;
        }
        self.push(Direction::Client, text);
    }

    /// One reply line (without its CRLF).
    pub fn reply(&mut self, line: &str) {
        self.push(Direction::Server, line.to_string());
    }

    fn push(&mut self, direction: Direction, mut text: String) {
        if text.len() > MAX_LINE_TEXT {
            let mut cut = MAX_LINE_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let t = self.started.elapsed().as_millis() as u64;
        self.bytes += text.len();
        let line = TranscriptLine { t, direction, text };
        if !self.opened && self.opening.len() < OPENING_LINES {
            self.opening.push(line.clone());
        }
        self.pushed += 1;
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.text.len();
            self.dropped_lines += 1;
            self.dropped_bytes += old.text.len() as u64;
        }
    }

    /// The whole transcript so far, with a first line for what was dropped.
    pub fn lines(&self) -> Vec<TranscriptLine> {
        self.last(self.lines.len())
    }

    /// What a message delivered now keeps: the session's opening, a line for the earlier
    /// transactions left out, and this transaction from its `MAIL` on.
    pub fn for_message(&self) -> Vec<TranscriptLine> {
        let first_kept = self.pushed - self.lines.len() as u64;
        let start = self.transaction_start.max(first_kept);
        let opening = self.opening.len() as u64;
        if start <= opening {
            return self.lines(); // the transaction follows the opening: nothing is left out
        }
        let at = (start - first_kept) as usize;
        // Within the session's bound as a whole: the transaction first, then what fits of the
        // opening, and the note.
        let room = self.max_lines.saturating_sub(self.lines.len() - at + 1);
        let mut out: Vec<TranscriptLine> = self.opening.iter().take(room).cloned().collect();
        let skipped = start - out.len() as u64;
        out.push(TranscriptLine {
            t: self.lines.get(at).map_or(0, |l| l.t),
            direction: Direction::Server,
            text: format!("[{skipped} earlier lines not kept]"),
        });
        out.extend(self.lines.iter().skip(at).cloned());
        out
    }

    /// The latest `n` lines (for a refusal), with a first line for what came before.
    pub fn last(&self, n: usize) -> Vec<TranscriptLine> {
        let skip = self.lines.len().saturating_sub(n);
        let skipped_bytes: usize = self.lines.iter().take(skip).map(|l| l.text.len()).sum();
        let (lines, bytes) = (
            self.dropped_lines + skip as u64,
            self.dropped_bytes + skipped_bytes as u64,
        );
        let mut out = Vec::with_capacity(n.min(self.lines.len()) + 1);
        if lines > 0 {
            out.push(TranscriptLine {
                t: self.lines.front().map_or(0, |l| l.t),
                direction: Direction::Server,
                text: format!("[{lines} earlier lines ({bytes} bytes) not kept]"),
            });
        }
        out.extend(self.lines.iter().skip(skip).cloned());
        out
    }
}

impl Transcript {
    /// A refusal just replied with `reply`, of `recipient` (or, without one, of the
    /// envelope's recipients), with the latest `excerpt` lines of this session.
    pub fn refusal(
        &self,
        envelope: &Envelope,
        recipient: Option<&str>,
        reply: &str,
        excerpt: usize,
    ) -> Refusal {
        let at = now_ms();
        Refusal {
            at,
            time: to_rfc3339(at),
            client: envelope.client.clone().unwrap_or_default(),
            mail_from: Some(envelope.mail_from.clone()).filter(|f| !f.is_empty()),
            recipients: recipient.map_or_else(|| envelope.rcpt_to.clone(), |r| vec![r.into()]),
            code: reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0),
            reply: reply.to_string(),
            transcript: self.last(excerpt),
        }
    }
}

/// `AUTH PLAIN dXNlcg==` → `AUTH PLAIN <redacted>`: the mechanism stays, the initial response
/// (credentials) goes. Other commands are kept as they are.
fn redact_auth(line: &str) -> String {
    let mut words = line.split_ascii_whitespace();
    let is_auth = words.next().is_some_and(|w| w.eq_ignore_ascii_case("AUTH"));
    if !is_auth {
        return line.to_string();
    }
    match (words.next(), words.next()) {
        (Some(mechanism), Some(_)) => format!("AUTH {mechanism} {REDACTED}"),
        (Some(mechanism), None) => format!("AUTH {mechanism}"),
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_secrets_are_redacted() {
        let mut t = Transcript::new(10, 1000);
        t.command(b"AUTH PLAIN AGEAc2VjcmV0\r\n", false);
        t.command(b"auth login\r\n", false);
        t.command(b"c2VjcmV0\r\n", true);
        t.command(b"MAIL FROM:<a@b.test>\r\n", false);
        let texts: Vec<_> = t.lines().into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "AUTH PLAIN <redacted>",
                "AUTH login",
                "<redacted>",
                "MAIL FROM:<a@b.test>"
            ]
        );
    }

    #[test]
    fn a_message_keeps_the_opening_and_its_own_transaction() {
        let mut t = Transcript::new(200, 16 * 1024);
        t.reply("220 ready");
        t.command(b"EHLO app.test\r\n", false);
        t.reply("250 hi");
        for i in 0..3 {
            t.command(format!("MAIL FROM:<m{i}@app.test>\r\n").as_bytes(), false);
            t.reply("250 OK");
            t.command(b"DATA\r\n", false);
            t.reply("354 go");
        }
        let texts: Vec<_> = t.for_message().into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "220 ready",
                "EHLO app.test",
                "250 hi",
                "[8 earlier lines not kept]",
                "MAIL FROM:<m2@app.test>",
                "250 OK",
                "DATA",
                "354 go"
            ]
        );
        // The first transaction follows the opening: nothing left out, nothing twice.
        let mut t = Transcript::new(200, 16 * 1024);
        t.reply("220 ready");
        t.command(b"MAIL FROM:<a@b.test>\r\n", false);
        assert_eq!(t.for_message().len(), 2);
    }

    #[test]
    fn bounded_by_lines_and_bytes_keeping_the_latest() {
        let mut t = Transcript::new(3, 1000);
        for i in 0..5 {
            t.reply(&format!("250 line {i}"));
        }
        let texts: Vec<_> = t.lines().into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "[2 earlier lines (20 bytes) not kept]",
                "250 line 2",
                "250 line 3",
                "250 line 4"
            ]
        );
        let mut t = Transcript::new(100, 25);
        for i in 0..5 {
            t.reply(&format!("250 line {i}"));
        }
        assert_eq!(t.lines().len(), 3, "two lines of 10 bytes fit in 25");
        assert_eq!(t.last(1).len(), 2);
        assert!(t.last(1)[0].text.starts_with("[4 earlier lines"));
    }
}

//! A blocking SMTP client session for the benchmarks: one command at a time, every reply
//! awaited (no pipelining), like `smtp-source` and most application senders.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Socket timeouts: nothing may hang a run.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One persistent SMTP session.
pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect to SMTP");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("set SMTP read timeout");
        // Small writes must leave at once; Nagle would add delay to what we measure.
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        let writer = stream.try_clone().expect("clone the SMTP socket");
        let mut s = Smtp {
            reader: BufReader::new(stream),
            writer,
        };
        s.expect_reply(220, "greeting");
        s.command("EHLO bench.localhost", 250);
        s
    }

    /// Reads one (possibly multi-line) reply, checks its code and returns it.
    pub fn expect_reply(&mut self, code: u16, after: &str) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("SMTP: no reply to {after}: {e}"));
            assert!(n > 0, "SMTP: connection closed after {after}");
            reply.push_str(&line);
            // `250-…` continues a reply, `250 …` ends it.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        assert!(
            reply.starts_with(&code.to_string()),
            "SMTP: expected {code} after {after}, got {reply:?}"
        );
        reply
    }

    pub fn command(&mut self, line: &str, code: u16) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("SMTP: cannot send {line:?}: {e}"));
        self.expect_reply(code, line);
    }

    /// Delivers `message` (already dot-stuffed, ending in CRLF, without the final dot) from
    /// `from` to `to`; returns the instant the `250` to its DATA was read, and that reply.
    pub fn send_raw(&mut self, from: &str, to: &str, message: &[u8]) -> (Instant, String) {
        self.command(&format!("MAIL FROM:<{from}>"), 250);
        self.command(&format!("RCPT TO:<{to}>"), 250);
        self.command("DATA", 354);
        self.writer
            .write_all(message)
            .and_then(|()| self.writer.write_all(b".\r\n"))
            .expect("SMTP: cannot send the message body");
        let reply = self.expect_reply(250, "end of DATA");
        (Instant::now(), reply)
    }

    /// Delivers one small message with `subject`.
    pub fn send(&mut self, to: &str, subject: &str) -> Instant {
        let body = format!(
            "From: Bench <bench@bench.localhost>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
             \r\nlatency probe {subject}\r\n"
        );
        self.send_raw("bench@bench.localhost", to, body.as_bytes())
            .0
    }

    pub fn quit(mut self) {
        // Best effort: the measurement is done; a failed QUIT changes nothing.
        let _ = self.writer.write_all(b"QUIT\r\n");
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
    }
}

//! SMTP delivery of one .eml over raw TCP: byte-based, and it never panics.

use crate::common::*;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `replay_smtp.py --eml FILE` (no `--raw`): CRLF, CR and LF all become CRLF, then dot-stuffing.
pub(super) fn stuff_normalized(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20 + 64);
    let mut line_start = true;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\r' || b == b'\n' {
            if b == b'\r' && raw.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            out.extend_from_slice(b"\r\n");
            line_start = true;
        } else {
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = false;
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
    log: String,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Client, String> {
        let w = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        let t = Some(Duration::from_secs(120));
        w.set_read_timeout(t).map_err(|e| e.to_string())?;
        w.set_write_timeout(t).map_err(|e| e.to_string())?;
        let r = BufReader::new(w.try_clone().map_err(|e| e.to_string())?);
        let mut c = Client {
            w,
            r,
            log: String::new(),
        };
        let g = c.reply()?;
        if code(&g) != 220 {
            return Err(format!("greeting: {g:?}"));
        }
        Ok(c)
    }

    fn reply(&mut self) -> Result<String, String> {
        let mut all = Vec::new();
        loop {
            let mut line = Vec::new();
            match self.r.read_until(b'\n', &mut line) {
                Ok(0) => {
                    all.extend_from_slice(b"<closed>");
                    break;
                }
                Ok(_) => {}
                Err(e) => return Err(format!("reading a reply: {e} (after {:?})", self.log)),
            }
            all.extend_from_slice(&line);
            if line.len() < 4 || line[3] != b'-' {
                break;
            }
        }
        let s = String::from_utf8_lossy(&all).into_owned();
        let _ = writeln!(self.log, "S: {}", s.trim_end());
        Ok(s)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.w
            .write_all(bytes)
            .map_err(|e| format!("write: {e} (after {:?})", self.log))
    }

    fn cmd(&mut self, line: &str) -> Result<String, String> {
        let _ = writeln!(self.log, "C: {line}");
        self.send(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }
}

/// How one delivery ended: the stage that gave the last reply, and its code.
pub(super) struct Outcome {
    pub(super) stage: &'static str,
    pub(super) code: u16,
    pub(super) transcript: String,
    pub(super) secs: f64,
}

pub(super) const END_OF_DATA: &str = "end of DATA";

pub(super) fn deliver(addr: SocketAddr, rcpt: &str, payload: &[u8]) -> Outcome {
    let t = Instant::now();
    let mut c = match Client::connect(addr) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                stage: "connect",
                code: 0,
                transcript: e,
                secs: t.elapsed().as_secs_f64(),
            }
        }
    };
    let r = session(&mut c, rcpt, payload);
    let (stage, code, err) = match r {
        Ok((stage, code)) => (stage, code, String::new()),
        Err((stage, e)) => (stage, 0, e),
    };
    let mut transcript = std::mem::take(&mut c.log);
    if !err.is_empty() {
        let _ = writeln!(transcript, "error: {err}");
    }
    Outcome {
        stage,
        code,
        transcript,
        secs: t.elapsed().as_secs_f64(),
    }
}

type Stage = &'static str;

fn session(c: &mut Client, rcpt: &str, payload: &[u8]) -> Result<(Stage, u16), (Stage, String)> {
    let steps: [(Stage, String, u16); 4] = [
        ("EHLO", "EHLO corpus.test".into(), 250),
        ("MAIL", "MAIL FROM:<corpus-sender@sender.test>".into(), 250),
        ("RCPT", format!("RCPT TO:<{rcpt}>"), 250),
        ("DATA", "DATA".into(), 354),
    ];
    for (stage, line, want) in steps {
        let r = c.cmd(&line).map_err(|e| (stage, e))?;
        if code(&r) != want {
            return Ok((stage, code(&r)));
        }
    }
    let _ = writeln!(c.log, "C: <{} bytes of message + .CRLF>", payload.len());
    c.send(payload).map_err(|e| (END_OF_DATA, e))?;
    let r = c.reply().map_err(|e| (END_OF_DATA, e))?;
    let _ = c.cmd("QUIT");
    Ok((END_OF_DATA, code(&r)))
}

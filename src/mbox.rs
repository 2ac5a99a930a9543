//! mbox (the mboxrd flavour): what `GET /v1/mailbox/{id}/mbox` writes and `mailiy import`
//! reads. Each message starts with a `From SENDER DATE` line; inside it, a line that is `From `
//! after any number of `>` gets one more `>` (and loses one on reading), so every message comes
//! back exactly. Lines end in LF, as mbox tools expect; the CRLF of a stored message (SMTP
//! makes every line end CRLF) comes back when it is sent over SMTP again.

use std::io::BufRead;

/// One message as an mbox entry: the From line, the quoted message with LF line ends, and the
/// empty line that ends the entry.
pub fn entry(envelope_from: &str, received_at_ms: i64, raw: &[u8]) -> Vec<u8> {
    let sender = match envelope_from.trim() {
        "" => "MAILER-DAEMON",
        s if s.contains(char::is_whitespace) => "MAILER-DAEMON",
        s => s,
    };
    let mut out = format!("From {sender} {}\n", asctime(received_at_ms)).into_bytes();
    out.reserve(raw.len() + 2);
    let body = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_from_line(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// `From ` after zero or more `>`: the lines mboxrd quotes.
fn is_from_line(line: &[u8]) -> bool {
    let unquoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
    line[unquoted..].starts_with(b"From ")
}

/// `Thu Dec  3 17:40:00 2026`, the date of a From line (UTC).
fn asctime(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "Thu Jan  1 00:00:00 1970".into())
}

/// A message read back from an mbox: its From line's sender and its bytes (LF line ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMessage {
    /// The sender on its From line (`MAILER-DAEMON` for the null sender), if any.
    pub sender: Option<String>,
    pub raw: Vec<u8>,
}

/// Reads the messages of an mbox one at a time (never the whole file at once).
pub struct Reader<R> {
    input: R,
    /// The From line of the next message, once read.
    next_from: Option<Vec<u8>>,
    line: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            next_from: None,
            line: Vec::new(),
        }
    }

    fn read_line(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        Ok(self.input.read_until(b'\n', &mut self.line)? > 0)
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = std::io::Result<MboxMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        // The first message's From line (text before it is not mail and is skipped).
        while self.next_from.is_none() {
            match self.read_line() {
                Ok(false) => return None,
                Ok(true) if self.line.starts_with(b"From ") => {
                    self.next_from = Some(std::mem::take(&mut self.line))
                }
                Ok(true) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        let from_line = self.next_from.take()?;
        let mut raw = Vec::new();
        loop {
            match self.read_line() {
                Ok(false) => break,
                Ok(true) if self.line.starts_with(b"From ") && raw.ends_with(b"\n\n") => {
                    self.next_from = Some(std::mem::take(&mut self.line));
                    break;
                }
                Ok(true) if self.line.starts_with(b"From ") && raw.is_empty() => {
                    // An empty entry right before the next one.
                    self.next_from = Some(std::mem::take(&mut self.line));
                    break;
                }
                Ok(true) => {
                    let line = &self.line;
                    let body = line.strip_suffix(b"\n").unwrap_or(line);
                    let body = body.strip_suffix(b"\r").unwrap_or(body);
                    if body.first() == Some(&b'>') && is_from_line(body) {
                        raw.extend_from_slice(&line[1..]);
                    } else {
                        raw.extend_from_slice(line);
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
        // The empty line that ends the entry is the mbox's, not the message's.
        if raw.ends_with(b"\n\n") {
            raw.pop();
        } else if raw.ends_with(b"\r\n\r\n") {
            raw.truncate(raw.len() - 2);
        }
        let text = String::from_utf8_lossy(&from_line);
        let sender = text
            .trim_end()
            .strip_prefix("From ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string);
        Some(Ok(MboxMessage { sender, raw }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_are_quoted_and_every_message_comes_back() {
        let one = b"Subject: a\r\n\r\nFrom here on\r\n>From quoted already\r\nend\r\n".to_vec();
        let two = b"Subject: b\r\n\r\n\r\nFrom the top\r\n\r\n".to_vec();
        let mut mbox = entry("a@x.test", 0, &one);
        mbox.extend(entry("", 1_700_000_000_000, &two));
        let text = String::from_utf8_lossy(&mbox).into_owned();
        assert!(
            text.starts_with("From a@x.test Thu Jan  1 00:00:00 1970\n"),
            "{text}"
        );
        assert!(
            text.contains("\n>From here on\n>>From quoted already\n"),
            "{text}"
        );
        assert!(
            text.contains("\nFrom MAILER-DAEMON Tue Nov 14 22:13:20 2023\n"),
            "{text}"
        );
        let back: Vec<MboxMessage> = Reader::new(&mbox[..]).map(|m| m.unwrap()).collect();
        assert_eq!(back.len(), 2);
        let crlf = |m: &MboxMessage| String::from_utf8_lossy(&m.raw).replace('\n', "\r\n");
        assert_eq!(crlf(&back[0]).as_bytes(), one);
        assert_eq!(crlf(&back[1]).as_bytes(), two);
        assert_eq!(back[0].sender.as_deref(), Some("a@x.test"));
        assert_eq!(back[1].sender.as_deref(), Some("MAILER-DAEMON"));
    }
}

//! Reading a remote's `text/event-stream`, bounded: each line at most `max_line` bytes, and each
//! line complete within `idle` of the previous one (a slow drip cannot keep a stream alive).

use std::io::{self, BufRead};
use std::time::{Duration, Instant};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Why a stream stopped giving events.
#[derive(Debug)]
pub enum StreamEnd {
    /// The remote closed the stream.
    Closed,
    /// A line longer than allowed.
    LineTooLong(usize),
    /// No complete line within the idle limit (silence or a drip).
    Stalled(Duration),
    Io(io::Error),
}

/// Turns lines into events as the event-stream format says (`data` lines joined by `\n`,
/// an empty line dispatches, `:` starts a comment).
#[derive(Debug, Default)]
pub struct Parser {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    /// Bytes held in the pending event, bounded by the caller's `max_event`.
    held: usize,
}

impl Parser {
    /// Feeds one line (without its end); returns an event when the line dispatches one.
    /// `Err` with the size when the pending event grows past `max_event`.
    pub fn line(&mut self, line: &str, max_event: usize) -> Result<Option<Frame>, usize> {
        if line.is_empty() {
            self.held = 0;
            let Some(data) = self.data.take() else {
                self.event = None;
                return Ok(None);
            };
            return Ok(Some(Frame {
                id: self.id.clone(),
                event: self.event.take().unwrap_or_else(|| "message".into()),
                data,
            }));
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        self.held += line.len();
        if self.held > max_event {
            return Err(self.held);
        }
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            // An id with NUL is ignored, as the format says.
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
        Ok(None)
    }
}

/// Reads the next line (without `\r\n` or `\n`) into `buf`, within the bounds.
pub fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max_line: usize,
    idle: Duration,
) -> Result<(), StreamEnd> {
    buf.clear();
    let started = Instant::now();
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                return Err(StreamEnd::Stalled(idle))
            }
            Err(e) => return Err(StreamEnd::Io(e)),
        };
        if available.is_empty() {
            return Err(StreamEnd::Closed);
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = (max_line + 2).saturating_sub(buf.len());
        buf.extend_from_slice(&available[..taken.min(room)]);
        reader.consume(taken);
        if done {
            while buf.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                buf.pop();
            }
            if buf.len() > max_line {
                return Err(StreamEnd::LineTooLong(max_line));
            }
            return Ok(());
        }
        if buf.len() > max_line {
            return Err(StreamEnd::LineTooLong(max_line));
        }
        if started.elapsed() > idle {
            return Err(StreamEnd::Stalled(idle));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(text: &str) -> Vec<Frame> {
        let mut p = Parser::default();
        text.split('\n')
            .filter_map(|l| p.line(l.trim_end_matches('\r'), 1 << 20).unwrap())
            .collect()
    }

    #[test]
    fn events_are_parsed_as_the_format_says() {
        let got = frames(
            ": heartbeat\n\nid: 7\nevent: message.received\ndata: {\"a\":1}\n\n\
             data: one\ndata:two\n\nevent: resync\ndata: {}\r\n\r\n",
        );
        assert_eq!(
            got,
            vec![
                Frame {
                    id: Some("7".into()),
                    event: "message.received".into(),
                    data: "{\"a\":1}".into()
                },
                Frame {
                    id: Some("7".into()),
                    event: "message".into(),
                    data: "one\ntwo".into()
                },
                Frame {
                    id: Some("7".into()),
                    event: "resync".into(),
                    data: "{}".into()
                },
            ]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        assert!(frames("event: x\n\n").is_empty());
    }

    #[test]
    fn an_event_that_grows_past_the_cap_is_refused() {
        let mut p = Parser::default();
        assert_eq!(p.line("data: 12345", 20), Ok(None));
        assert!(p.line("data: 1234567890", 20).is_err());
    }

    #[test]
    fn lines_are_bounded() {
        let mut buf = Vec::new();
        let mut r = io::BufReader::with_capacity(4, &b"short\r\nmuch too long a line\n"[..]);
        read_line(&mut r, &mut buf, 10, Duration::from_secs(5)).unwrap();
        assert_eq!(buf, b"short");
        assert!(matches!(
            read_line(&mut r, &mut buf, 10, Duration::from_secs(5)),
            Err(StreamEnd::LineTooLong(10))
        ));
        let mut empty = io::BufReader::new(&b""[..]);
        assert!(matches!(
            read_line(&mut empty, &mut buf, 10, Duration::from_secs(5)),
            Err(StreamEnd::Closed)
        ));
    }

    /// A reader that gives one byte per call, slowly: a drip.
    struct Drip(u32);
    impl io::Read for Drip {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_millis(5));
            self.0 += 1;
            out[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn a_drip_that_never_ends_a_line_stalls() {
        let mut r = io::BufReader::with_capacity(1, Drip(0));
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut buf, 1 << 20, Duration::from_millis(50)),
            Err(StreamEnd::Stalled(_))
        ));
    }
}

//! Blocking HTTP calls to a remote Mailiy endpoint, each bounded: connect and whole-request
//! timeouts, answer sizes capped, no redirects followed. Run on plain threads, never on the
//! async workers.

use std::io::{BufReader, Read};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::sse::{self, Frame, Parser, StreamEnd};
use super::RemoteError;
use crate::config::SyncConfig;

/// Path segments keep these as they are; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Longest error body read to report a refusal.
const MAX_ERROR_BODY: u64 = 16 * 1024;
/// Longest part of a remote's error message kept in a state's detail.
const MAX_DETAIL: usize = 200;

/// One remote endpoint with its key.
#[derive(Clone)]
pub struct Endpoint {
    base: String,
    key: String,
    requests: ureq::Agent,
    stream: ureq::Agent,
    max_json: u64,
    max_line: usize,
    idle: Duration,
}

/// A path segment, percent-encoded.
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The error body of the API (`{"error":{"code","message"}}`), when the remote sends one.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
    message: String,
}

fn shorten(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    match s.char_indices().nth(MAX_DETAIL) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn transport(e: &ureq::Transport) -> RemoteError {
    let mut detail = e.kind().to_string();
    if let Some(m) = e.message() {
        detail = format!("{detail}: {m}");
    }
    if let Some(source) = std::error::Error::source(e) {
        detail = format!("{detail}: {source}");
    }
    RemoteError::Unreachable(shorten(&detail))
}

/// A body read past a deadline or a cap, or cut short.
fn body_error(e: std::io::Error) -> RemoteError {
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        RemoteError::TimedOut
    } else {
        RemoteError::Unreachable(shorten(&format!("reading the answer: {e}")))
    }
}

/// Reads at most `max` bytes of a body; more is an error, never a bigger buffer.
fn read_capped(r: ureq::Response, max: u64) -> Result<Vec<u8>, RemoteError> {
    let mut body = Vec::new();
    r.into_reader()
        .take(max + 1)
        .read_to_end(&mut body)
        .map_err(body_error)?;
    if body.len() as u64 > max {
        return Err(RemoteError::BadAnswer(format!(
            "an answer is larger than {max} bytes"
        )));
    }
    Ok(body)
}

impl Endpoint {
    pub fn new(base: &str, key: &str, cfg: &SyncConfig) -> Endpoint {
        let agent = |b: ureq::AgentBuilder| {
            b.timeout_connect(cfg.connect_timeout)
                // A remote is called at its URL only: a redirect is reported, never followed
                // (it could send the key's requests, or our reads, to another host).
                .redirects(0)
                .user_agent(concat!("mailiy-sync/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Endpoint {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            requests: agent(ureq::AgentBuilder::new().timeout(cfg.request_timeout)),
            // The stream is long-lived: each read is bounded instead of the whole.
            stream: agent(ureq::AgentBuilder::new().timeout_read(cfg.idle_timeout)),
            max_json: cfg.max_json_bytes,
            max_line: cfg.max_event_bytes,
            idle: cfg.idle_timeout,
        }
    }

    fn request(&self, agent: &ureq::Agent, method: &str, path: &str) -> ureq::Request {
        agent
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.key))
    }

    /// Sorts an answer: 2xx goes on; 3xx, 4xx and 5xx become the error that says what they are.
    fn check(
        &self,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<ureq::Response, RemoteError> {
        let r = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(transport(&t)),
        };
        let status = r.status();
        match status {
            200..=299 => Ok(r),
            300..=399 => {
                let to = r.header("location").unwrap_or("(no location)");
                Err(RemoteError::Redirect(status, shorten(to)))
            }
            401 | 403 => Err(RemoteError::AuthFailed(status)),
            _ => {
                let body = read_capped(r, MAX_ERROR_BODY).unwrap_or_default();
                let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                    Ok(b) => (shorten(&b.error.code), shorten(&b.error.message)),
                    Err(_) => (String::new(), String::new()),
                };
                Err(RemoteError::Refused {
                    status,
                    code,
                    message,
                })
            }
        }
    }

    fn parse<T: DeserializeOwned>(&self, r: ureq::Response) -> Result<T, RemoteError> {
        let body = read_capped(r, self.max_json)?;
        serde_json::from_slice(&body).map_err(|e| {
            RemoteError::BadAnswer(shorten(&format!("an answer is not the JSON expected: {e}")))
        })
    }

    /// `GET path` → JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        let r = self.check(self.request(&self.requests, "GET", path).call())?;
        self.parse(r)
    }

    /// `GET path` with a longer deadline than usual, for a long-poll held `wait` on the remote.
    pub fn get_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<T, RemoteError> {
        let deadline = self.idle + wait;
        let r = self.check(
            self.request(&self.stream, "GET", path)
                .timeout(deadline)
                .call(),
        )?;
        self.parse(r)
    }

    /// `POST`/`PATCH` a JSON body → JSON.
    pub fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, RemoteError> {
        let r = self.check(
            self.request(&self.requests, method, path)
                .send_json(body.clone()),
        )?;
        self.parse(r)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<(), RemoteError> {
        let r = self.check(self.request(&self.requests, "DELETE", path).call())?;
        let _ = read_capped(r, MAX_ERROR_BODY);
        Ok(())
    }

    /// `GET path` → bytes, at most `max`.
    pub fn get_bytes(&self, path: &str, max: u64) -> Result<Vec<u8>, RemoteError> {
        let r = self.check(self.request(&self.requests, "GET", path).call())?;
        read_capped(r, max)
    }

    /// Opens `GET /v1/events`, resuming after `last_event_id`. `Ok(None)` when the remote has
    /// no event stream there (the caller falls back to long-polling).
    pub fn events(&self, last_event_id: Option<&str>) -> Result<Option<EventStream>, RemoteError> {
        let mut req = self
            .request(&self.stream, "GET", "/v1/events")
            .set("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.set("Last-Event-ID", id);
        }
        let r = match self.check(req.call()) {
            Ok(r) => r,
            Err(RemoteError::Refused {
                status: 404 | 405 | 501,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !r.content_type().eq_ignore_ascii_case("text/event-stream") {
            return Ok(None);
        }
        Ok(Some(EventStream {
            reader: BufReader::new(r.into_reader()),
            parser: Parser::default(),
            line: Vec::new(),
            max_line: self.max_line,
            idle: self.idle,
        }))
    }
}

/// An open event stream.
pub struct EventStream {
    reader: BufReader<Box<dyn Read + Send + Sync + 'static>>,
    parser: Parser,
    line: Vec<u8>,
    max_line: usize,
    idle: Duration,
}

impl EventStream {
    /// The next event; an error when the stream ends, stalls or breaks a bound.
    pub fn next_frame(&mut self) -> Result<Frame, RemoteError> {
        loop {
            sse::read_line(&mut self.reader, &mut self.line, self.max_line, self.idle).map_err(
                |end| match end {
                    StreamEnd::Closed => {
                        RemoteError::Unreachable("the remote closed its event stream".into())
                    }
                    StreamEnd::LineTooLong(n) => RemoteError::BadAnswer(format!(
                        "the event stream sent a line longer than {n} bytes"
                    )),
                    StreamEnd::Stalled(d) => RemoteError::Stalled(d.as_secs()),
                    StreamEnd::Io(e) => body_error(e),
                },
            )?;
            let text = std::str::from_utf8(&self.line).map_err(|_| {
                RemoteError::BadAnswer("the event stream sent a line that is not UTF-8".into())
            })?;
            match self.parser.line(text, self.max_line) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => continue,
                Err(n) => {
                    return Err(RemoteError::BadAnswer(format!(
                        "the event stream sent an event of more than {n} bytes"
                    )))
                }
            }
        }
    }
}

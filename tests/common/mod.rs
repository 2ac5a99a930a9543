//! Test fixture: the real `mailiy serve` binary on loopback port 0 with a temporary data dir.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use serde_json::{json, Value};

pub mod html_audit;

/// A running `mailiy serve` process. Killed when dropped.
pub struct Server {
    pub child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    /// The implicit-TLS listener, when started with `--smtps`.
    pub smtps: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// Keeps the temporary directory alive (and deletes it at the end) when the fixture made it.
    _tmp: Option<tempfile::TempDir>,
    /// What the server printed on stderr, collected by a thread (its logs).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mailiy"))
}

impl Server {
    /// Starts a server with a fresh data dir and extra flags.
    pub fn start(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Server::start_in(&dir, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with its HTTP API bound to `http` (e.g. a LAN-mode bind).
    pub fn start_custom_http(http: &str, extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Server::spawn(tmp.path(), http, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with its SMTP listener bound to `smtp` (e.g. a LAN-mode bind).
    pub fn start_custom_smtp(smtp: &str, extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["--smtp", smtp, "--http", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut s = Server::spawn_args(tmp.path(), &args);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing data dir (for restart tests).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Server::spawn(dir, "127.0.0.1:0", extra)
    }

    /// Starts a server on `dir` with no listener flags: it binds what the store's settings say.
    pub fn start_with_stored_addresses(dir: &Path) -> Server {
        Server::spawn_args(dir, &[])
    }

    /// Starts a server on an existing data dir with its HTTP API on a fixed address (a
    /// restart that clients must find again at the same URL).
    pub fn start_in_at(dir: &Path, http: &str, extra: &[&str]) -> Server {
        Server::spawn(dir, http, extra)
    }

    fn spawn(dir: &Path, http: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--smtp", "127.0.0.1:0", "--http", http];
        args.extend_from_slice(extra);
        Server::spawn_args(dir, &args)
    }

    fn spawn_args(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mailiy");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("mailiy ready ") => break line,
                Some(Ok(_)) => continue,
                _ => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("mailiy did not start: {err}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let field = |key: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {ready:?}"))
        };
        Server {
            smtp: field("smtp="),
            http: field("http="),
            smtps: ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("smtps="))
                .and_then(|v| v.parse().ok()),
            data_dir: dir.to_path_buf(),
            child,
            _tmp: None,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        into_json(ureq::get(&self.url(path)).call())
    }

    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>, String) {
        match ureq::get(&self.url(path)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                let ct = r.content_type().to_string();
                let mut body = Vec::new();
                r.into_reader().read_to_end(&mut body).expect("body");
                (status, body, ct)
            }
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        into_json(ureq::post(&self.url(path)).send_json(body))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        into_json(ureq::put(&self.url(path)).send_json(body))
    }

    pub fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        into_json(ureq::request("PATCH", &self.url(path)).send_json(body))
    }

    pub fn delete(&self, path: &str) -> u16 {
        match ureq::delete(&self.url(path)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
            Err(e) => panic!("DELETE {path}: {e}"),
        }
    }

    /// Creates a mailbox and returns its JSON object.
    pub fn mailbox(&self, body: Value) -> Value {
        let (status, v) = self.post("/v1/mailbox", body);
        assert_eq!(status, 201, "create mailbox: {v}");
        v
    }

    pub fn messages(&self, mailbox: &str) -> Vec<Value> {
        let (status, v) = self.get(&format!("/v1/mailbox/{}/messages", enc(mailbox)));
        assert_eq!(status, 200, "{v}");
        v.as_array().cloned().unwrap_or_default()
    }

    /// Stops the server with SIGTERM and waits for it; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        unsafe_sigterm(self.child.id());
        let status = self.child.wait().expect("wait");
        status.success()
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn smtp(&self) -> Smtp {
        Smtp::connect(self.smtp)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// Subjects of a mailbox's messages, sorted.
pub fn subjects(s: &Server, mailbox: &str) -> Vec<String> {
    let mut all: Vec<String> = s
        .messages(mailbox)
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    all.sort();
    all
}

pub fn enc(s: &str) -> String {
    s.replace('@', "%40").replace('+', "%2B")
}

fn into_json(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            let text = r.into_string().unwrap_or_default();
            let v = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            (status, v)
        }
        Err(e) => panic!("http: {e}"),
    }
}

/// A raw SMTP client: writes bytes, reads replies (multi-line aware).
pub struct Smtp {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        Smtp::try_connect(addr).expect("connect smtp")
    }

    /// Connects and reads the greeting; an error (not a panic) when either fails, for clients
    /// of a server that may be killed under them.
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Smtp> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut s = Smtp { stream, reader };
        let greeting = s.try_reply()?;
        if !greeting.starts_with("220") {
            return Err(std::io::Error::other(format!("greeting: {greeting}")));
        }
        Ok(s)
    }

    /// Reads one whole reply (all its lines); returns it joined with newlines.
    pub fn reply(&mut self) -> String {
        self.try_reply().expect("read reply")
    }

    pub fn try_reply(&mut self) -> std::io::Result<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line)?;
            if n == 0 {
                return Ok(all + "<closed>");
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return Ok(all);
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends one command line and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.try_cmd(line).expect("smtp command")
    }

    pub fn try_cmd(&mut self, line: &str) -> std::io::Result<String> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())?;
        self.try_reply()
    }

    /// A whole transaction; returns the final reply to the end of DATA (or the first failure).
    pub fn deliver(&mut self, from: &str, to: &[&str], body: &str) -> String {
        let r = self.try_deliver(from, to, body).expect("smtp transaction");
        assert!(!r.starts_with("DATA "), "{r}");
        r
    }

    /// [`Smtp::deliver`] that reports a broken connection as an error instead of panicking;
    /// a refused DATA comes back as `DATA <reply>`.
    pub fn try_deliver(&mut self, from: &str, to: &[&str], body: &str) -> std::io::Result<String> {
        let r = self.try_cmd(&format!("MAIL FROM:<{from}>"))?;
        if !r.starts_with("250") {
            return Ok(r);
        }
        let (mut any, mut last) = (false, String::new());
        for t in to {
            last = self.try_cmd(&format!("RCPT TO:<{t}>"))?;
            any |= last.starts_with("250");
        }
        if !any {
            self.try_cmd("RSET")?;
            return Ok(format!("no recipient accepted: {}", last.trim_end()));
        }
        let r = self.try_cmd("DATA")?;
        if !r.starts_with("354") {
            return Ok(format!("DATA {r}"));
        }
        let mut data = body.replace("\r\n", "\n").replace('\n', "\r\n");
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        let stuffed = data.replace("\r\n.", "\r\n..");
        self.stream.write_all(stuffed.as_bytes())?;
        self.stream.write_all(b".\r\n")?;
        self.try_reply()
    }
}

/// Runs a tool (a real client, a test runner) with no stdin, killing its whole process group
/// after `limit`; panics with its output (and the server's log) unless it exits 0, naming
/// scripts/setup.sh when the program is missing. Returns its stdout.
pub fn run_tool(what: &str, s: Option<&Server>, cmd: &mut Command, limit: Duration) -> String {
    run_tool_fed(what, s, cmd, None, limit)
}

/// [`run_tool`] with the file `input` on its stdin (a message for msmtp, say).
pub fn run_tool_fed(
    what: &str,
    s: Option<&Server>,
    cmd: &mut Command,
    input: Option<&Path>,
    limit: Duration,
) -> String {
    let stdin = match input {
        Some(path) => Stdio::from(std::fs::File::open(path).expect("open the tool's input")),
        None => Stdio::null(),
    };
    let start = Instant::now();
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{what}: cannot run {:?}: {e} (scripts/setup.sh installs it)",
                cmd.get_program()
            )
        });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            // The group: npx and the test runner's workers, which would keep the pipes open.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        let how = match status {
            Some(st) => format!("exited with {st}"),
            None => format!("was killed after {limit:?}"),
        };
        let log = s.map(|s| s.log.lock().unwrap().clone()).unwrap_or_default();
        panic!(
            "{what} {how} after {took:.1?}\n--- stdout\n{out}\n--- stderr\n{err}\n--- server log\n{log}"
        );
    }
    eprintln!("{what}: passed in {took:.1?}\n{out}");
    out
}

/// The code of a reply ("250 2.0.0 ok" -> 250).
pub fn code(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Waits (bounded) until `f` returns Some; for state that an event makes true shortly.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A simple message with the given subject.
pub fn simple_message(from: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\nDate: Fri, 27 Nov 2026 19:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// A raw event-stream client over HTTP/1.1 (headers chosen by the test).
pub struct SseClient {
    reader: BufReader<TcpStream>,
    pub status: u16,
}

impl SseClient {
    pub fn connect(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> SseClient {
        let mut stream = TcpStream::connect(addr).expect("connect http");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        SseClient { reader, status }
    }

    /// The next event (comments and heartbeats skipped); None on timeout or end.
    pub fn next(&mut self) -> Option<SseEvent> {
        let mut ev = SseEvent {
            id: None,
            event: "message".into(),
            data: String::new(),
        };
        let mut any = false;
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            // Chunked transfer encoding: size lines are hex only; skip them.
            if !line.is_empty() && line.chars().all(|c| c.is_ascii_hexdigit()) && !any {
                continue;
            }
            if line.is_empty() {
                if any {
                    return Some(ev);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line
                .split_once(':')
                .map(|(f, v)| (f, v.trim_start()))
                .unwrap_or((line, ""));
            any = true;
            match field {
                "id" => ev.id = Some(value.to_string()),
                "event" => ev.event = value.to_string(),
                "data" => ev.data.push_str(value),
                _ => {}
            }
        }
    }

    /// The next event named `name`, skipping others.
    pub fn next_named(&mut self, name: &str) -> Option<SseEvent> {
        loop {
            let e = self.next()?;
            if e.event == name {
                return Some(e);
            }
        }
    }
}

/// An RFC 3339 UTC time `ms` milliseconds from now, as the API takes it.
pub fn rfc3339_in(ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let at = now + Duration::from_millis(ms);
    // Build the string by asking the server's own format: seconds + millis, UTC.
    let secs = at.as_secs() as i64;
    let millis = at.subsec_millis();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// DATA bytes for a raw .eml sent as it is (bare CR/LF kept, as `replay_smtp.py --raw`): lines
/// that follow a CRLF dot-stuffed, a CRLF added when missing, then the end-of-data line.
pub fn stuff_raw(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    if raw.first() == Some(&b'.') {
        out.push(b'.');
    }
    for (i, &b) in raw.iter().enumerate() {
        out.push(b);
        if b == b'\n' && i > 0 && raw[i - 1] == b'\r' && raw.get(i + 1) == Some(&b'.') {
            out.push(b'.');
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Runs a client program (Python, Node, ...) that prints `key=value` lines; asserts it
/// succeeded and returns those lines.
pub fn run_client(cmd: &mut Command, what: &str) -> Vec<(String, String)> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value a client printed for `key` (see [`run_client`]).
pub fn value<'a>(lines: &'a [(String, String)], key: &str) -> &'a str {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

// ---- forensic checks: what a deleted message leaves on disk --------------------------------

/// Every file under `dir`, read whole.
pub fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
        }
    }
    out
}

pub fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

//! Latency benchmark against the real release binary, over loopback.
//!
//! Run with `cargo bench --bench latency`. It starts `target/release/mailiy serve` on free ports
//! with a temporary data dir and measures:
//! 1. `POST /v1/mailbox {}` latency, 1,000 sequential requests on one keep-alive connection;
//! 2. SMTP `250` (end of DATA) to the message being returned by a waiting long-poll, under a
//!    background SMTP load of 100 messages/s to another mailbox;
//! 3. the same `250`-to-visible latency through the `/v1/events` server-sent event stream.
//!
//! It prints a table (also written to `target/bench-latency.md`) with a PASS/FAIL mark per bar.
//! A failed bar does not fail the process (this is a measurement); a broken setup panics.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::smtp::Smtp;
use support::Server;

/// Sequential mailbox creations measured in part 1.
const CREATES: usize = 1_000;
/// Unmeasured creations first, so the TCP connect and cold caches are not in the numbers.
const CREATE_WARMUP: usize = 10;
/// Probe messages per visibility measurement (parts 2 and 3).
const PROBES: usize = 300;
/// Background SMTP load during parts 2 and 3, in messages per second.
const LOAD_PER_SEC: u32 = 100;
/// Time given to a long-poll (or SSE client) to be subscribed before the probe is sent.
const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(20);
/// Socket and request timeouts: nothing may hang the run.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a probe's event may take to show on the SSE stream before it counts as missed.
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time budgets per part; a part that runs out stops early and is reported (and fails).
const CREATE_BUDGET: Duration = Duration::from_secs(25);
const PROBE_BUDGET: Duration = Duration::from_secs(35);

/// Bars (p99, milliseconds).
const CREATE_BAR_MS: f64 = 10.0;
const VISIBLE_BAR_MS: f64 = 20.0;

fn main() {
    let bin = support::release_binary();
    let run_start = Instant::now();
    let server = Server::start(&bin, &[]);
    println!(
        "mailiy latency bench: {} (smtp {}, http {}), {} CPU(s)",
        bin.display(),
        server.smtp,
        server.http,
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    let agent = ureq::AgentBuilder::new()
        .timeout_connect(IO_TIMEOUT)
        // Longer than the 10 s long-poll wait, so a wait that times out is seen as `[]`.
        .timeout(Duration::from_secs(15))
        .build();
    let base = format!("http://{}", server.http);

    let mut rows = vec![bench_create(&agent, &base)];

    // Parts 2 and 3 share one load mailbox; each part has its own load thread and probe mailbox.
    let load_to = create_mailbox(&agent, &base)
        .get("address")
        .and_then(Value::as_str)
        .expect("mailbox response has an address")
        .to_string();

    let load = Load::start(server.smtp, &load_to);
    let mut row = bench_long_poll(&agent, &base, server.smtp);
    row.load = Some(load.stop());
    rows.push(row);

    let load = Load::start(server.smtp, &load_to);
    let mut row = bench_sse(&agent, &base, server.smtp, server.http);
    row.load = Some(load.stop());
    rows.push(row);

    drop(server);
    let table = render(&rows, run_start.elapsed());
    println!("\n{table}");
    let out = support::release_dir()
        .parent()
        .expect("the release dir has a parent (the target dir)")
        .join("bench-latency.md");
    std::fs::write(&out, &table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    println!("written to {}", out.display());
}

fn create_mailbox(agent: &ureq::Agent, base: &str) -> Value {
    agent
        .post(&format!("{base}/v1/mailbox"))
        .set("Content-Type", "application/json")
        .send_string("{}")
        .expect("POST /v1/mailbox failed")
        .into_json()
        .expect("POST /v1/mailbox returned no JSON")
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Part 1: create-mailbox latency
// ---------------------------------------------------------------------------------------------

fn bench_create(agent: &ureq::Agent, base: &str) -> Row {
    for _ in 0..CREATE_WARMUP {
        create_mailbox(agent, base);
    }
    let end = Instant::now() + CREATE_BUDGET;
    let mut samples = Vec::with_capacity(CREATES);
    for _ in 0..CREATES {
        if Instant::now() > end {
            break;
        }
        let t = Instant::now();
        // Timed through reading the JSON body: that is when a client has its mailbox.
        create_mailbox(agent, base);
        samples.push(ms(t.elapsed()));
    }
    Row::new(
        "create mailbox (POST /v1/mailbox)",
        samples,
        CREATES,
        0,
        CREATE_BAR_MS,
    )
}

// ---------------------------------------------------------------------------------------------
// Part 2: 250 -> visible through a long-poll wait
// ---------------------------------------------------------------------------------------------

fn bench_long_poll(agent: &ureq::Agent, base: &str, smtp_addr: SocketAddr) -> Row {
    let probe = create_mailbox(agent, base);
    let (probe_id, probe_addr) = (str_field(&probe, "id"), str_field(&probe, "address"));
    let mut smtp = Smtp::connect(smtp_addr);
    let end = Instant::now() + PROBE_BUDGET;
    let mut samples = Vec::with_capacity(PROBES);
    let mut missed = 0;
    let mut last: Option<String> = None;
    for i in 0..PROBES {
        if Instant::now() > end {
            break;
        }
        let after = last
            .as_deref()
            .map(|m| format!("&after={m}"))
            .unwrap_or_default();
        let url = format!("{base}/v1/mailbox/{probe_id}/messages?wait=10{after}");
        let waiter_agent = agent.clone();
        let waiter: JoinHandle<(Instant, Vec<Value>)> = thread::spawn(move || {
            let list: Vec<Value> = waiter_agent
                .get(&url)
                .call()
                .expect("long-poll GET …/messages?wait=10 failed")
                .into_json()
                .expect("long-poll returned no JSON list");
            // Stamped after the body is read: that is when the client sees the message.
            (Instant::now(), list)
        });
        // The wait must already be held by the server when the message lands.
        thread::sleep(SUBSCRIBE_SETTLE);
        let subject = format!("poll-probe-{i}");
        let acked = smtp.send(&probe_addr, &subject);
        let (returned, list) = waiter.join().expect("the long-poll thread panicked");
        let newest = list.first();
        if let Some(m) = newest {
            last = Some(str_field(m, "id"));
        }
        match newest {
            Some(m) if m.get("subject").and_then(Value::as_str) == Some(subject.as_str()) => {
                samples.push(signed_ms(returned, acked));
            }
            // Timed out (`[]`) or returned something else: the probe was not seen in time.
            _ => missed += 1,
        }
    }
    smtp.quit();
    Row::new(
        "250 -> visible, long-poll wait",
        samples,
        PROBES,
        missed,
        VISIBLE_BAR_MS,
    )
}

// ---------------------------------------------------------------------------------------------
// Part 3: 250 -> visible through server-sent events
// ---------------------------------------------------------------------------------------------

fn bench_sse(agent: &ureq::Agent, base: &str, smtp_addr: SocketAddr, http_addr: SocketAddr) -> Row {
    let probe = create_mailbox(agent, base);
    let (probe_id, probe_addr) = (str_field(&probe, "id"), str_field(&probe, "address"));
    let (sse, conn) = Sse::connect(http_addr, &format!("/v1/events?mailbox={probe_id}"));
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || sse.run(&tx));
    // The server subscribes before it answers the headers; this is margin, as for the wait.
    thread::sleep(SUBSCRIBE_SETTLE);

    let mut smtp = Smtp::connect(smtp_addr);
    let end = Instant::now() + PROBE_BUDGET;
    let mut samples = Vec::with_capacity(PROBES);
    let mut missed = 0;
    for i in 0..PROBES {
        if Instant::now() > end {
            break;
        }
        // Same pacing as the long-poll part, so both see a similar mix of probes and load.
        thread::sleep(SUBSCRIBE_SETTLE);
        let subject = format!("sse-probe-{i}");
        let acked = smtp.send(&probe_addr, &subject);
        let deadline = acked + EVENT_TIMEOUT;
        // Events for earlier, missed probes may still arrive: skip them.
        let seen = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((at, s)) if s == subject => break Some(at),
                Ok(_) => continue,
                Err(_) => break None,
            }
        };
        match seen {
            Some(at) => samples.push(signed_ms(at, acked)),
            None => missed += 1,
        }
    }
    smtp.quit();
    // Closing our end makes the reader see EOF and return.
    let _ = conn.shutdown(std::net::Shutdown::Both);
    reader.join().expect("the SSE reader thread panicked");
    Row::new(
        "250 -> visible, SSE message.received",
        samples,
        PROBES,
        missed,
        VISIBLE_BAR_MS,
    )
}

/// A raw HTTP/1.1 event-stream client: one GET, then `event:`/`data:` frames, de-chunked.
struct Sse {
    reader: BufReader<TcpStream>,
    chunked: bool,
}

impl Sse {
    /// Connects and reads the response head; also returns a handle to close the socket.
    fn connect(addr: SocketAddr, path: &str) -> (Sse, TcpStream) {
        let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect to HTTP");
        // Longer than the server's 15 s heartbeat: a silent stream for this long is broken.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set SSE read timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        stream
            .write_all(req.as_bytes())
            .expect("write the SSE request");
        let conn = stream.try_clone().expect("clone the SSE socket");
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader
            .read_line(&mut status)
            .expect("read the SSE status line");
        assert!(
            status.split_whitespace().nth(1) == Some("200"),
            "GET {path}: expected 200, got {status:?}"
        );
        let mut chunked = false;
        loop {
            let mut h = String::new();
            let n = reader.read_line(&mut h).expect("read SSE response headers");
            if n == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            let h = h.to_ascii_lowercase();
            if h.starts_with("transfer-encoding:") && h.contains("chunked") {
                chunked = true;
            }
        }
        (Sse { reader, chunked }, conn)
    }

    /// The next piece of the body, or `None` at its end (or on error / timeout).
    fn next_bytes(&mut self) -> Option<Vec<u8>> {
        if !self.chunked {
            let buf = self.reader.fill_buf().ok()?;
            if buf.is_empty() {
                return None;
            }
            let out = buf.to_vec();
            self.reader.consume(out.len());
            return Some(out);
        }
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line).ok()? == 0 {
            return None;
        }
        let hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(hex, 16).ok()?;
        if size == 0 {
            return None;
        }
        let mut chunk = vec![0; size];
        self.reader.read_exact(&mut chunk).ok()?;
        let mut crlf = [0; 2];
        self.reader.read_exact(&mut crlf).ok()?;
        Some(chunk)
    }

    /// Sends `(arrival instant, message subject)` for every `message.received` event until the
    /// stream ends.
    fn run(mut self, tx: &mpsc::Sender<(Instant, String)>) {
        let mut pending = Vec::new();
        let (mut event, mut data) = (String::new(), String::new());
        while let Some(bytes) = self.next_bytes() {
            // An event is complete on the read that delivered its blank line: stamp that read.
            let at = Instant::now();
            pending.extend_from_slice(&bytes);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = pending.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&raw);
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    if event == "message.received" {
                        let subject = serde_json::from_str::<Value>(&data)
                            .ok()
                            .and_then(|v| v.pointer("/message/subject")?.as_str().map(String::from))
                            .unwrap_or_default();
                        if tx.send((at, subject)).is_err() {
                            return;
                        }
                    }
                    event.clear();
                    data.clear();
                    continue;
                }
                if line.starts_with(':') {
                    continue; // comment / heartbeat
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event = value.to_string(),
                    "data" => {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(value);
                    }
                    _ => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP: a minimal raw client and the background load
// ---------------------------------------------------------------------------------------------

/// Background SMTP load at `LOAD_PER_SEC`, on its own thread and session, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(u64, Duration)>,
}

impl Load {
    fn start(addr: SocketAddr, to: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let to = to.to_string();
        // Hard cap, so the load ends even if nobody stops it.
        let until = Instant::now() + PROBE_BUDGET + Duration::from_secs(10);
        let handle = thread::spawn(move || {
            let mut smtp = Smtp::connect(addr);
            let interval = Duration::from_secs(1) / LOAD_PER_SEC;
            let start = Instant::now();
            let mut sent: u32 = 0;
            while !flag.load(Ordering::Relaxed) && Instant::now() < until {
                // Paced against a fixed schedule, so a slow reply is caught up, not lost.
                let due = start + interval * sent;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                smtp.send(&to, &format!("load-{sent}"));
                sent += 1;
            }
            let elapsed = start.elapsed();
            smtp.quit();
            (u64::from(sent), elapsed)
        });
        // Let the load reach its pace before anything is measured.
        thread::sleep(Duration::from_millis(200));
        Load { stop, handle }
    }

    /// Stops the load; returns the rate achieved, in messages per second.
    fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        let (sent, elapsed) = self.handle.join().expect("the SMTP load thread panicked");
        sent as f64 / elapsed.as_secs_f64()
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report
// ---------------------------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `later - earlier` in ms; negative when the "later" event actually happened first (a message
/// can become visible a hair before its `250` is read by the sender).
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => ms(d),
        None => -ms(earlier.duration_since(later)),
    }
}

struct Row {
    name: &'static str,
    /// Sorted samples, in ms.
    samples: Vec<f64>,
    planned: usize,
    missed: usize,
    bar_ms: f64,
    /// Background load achieved during this row, in messages per second.
    load: Option<f64>,
}

impl Row {
    fn new(
        name: &'static str,
        mut samples: Vec<f64>,
        planned: usize,
        missed: usize,
        bar_ms: f64,
    ) -> Row {
        samples.sort_by(f64::total_cmp);
        Row {
            name,
            samples,
            planned,
            missed,
            bar_ms,
            load: None,
        }
    }

    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> f64 {
        let n = self.samples.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.samples[rank.clamp(1, n) - 1]
    }

    /// Passes only with every planned sample taken, none missed, and p99 under the bar.
    fn pass(&self) -> bool {
        self.missed == 0 && self.samples.len() == self.planned && self.pct(99.0) < self.bar_ms
    }
}

fn render(rows: &[Row], elapsed: Duration) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "## Mailiy latency (ms)\n");
    let _ = writeln!(
        t,
        "| measurement | n | p50 | p95 | p99 | max | bar (p99) | result | notes |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let mut notes = Vec::new();
        if let Some(rate) = r.load {
            notes.push(format!("background load {rate:.1} msg/s"));
        }
        if r.missed > 0 {
            notes.push(format!("{} missed", r.missed));
        }
        if r.samples.len() + r.missed < r.planned {
            notes.push(format!(
                "stopped by time budget after {}",
                r.samples.len() + r.missed
            ));
        }
        let _ = writeln!(
            t,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | < {} | {} | {} |",
            r.name,
            r.samples.len(),
            r.pct(50.0),
            r.pct(95.0),
            r.pct(99.0),
            r.samples.last().copied().unwrap_or(f64::NAN),
            r.bar_ms,
            if r.pass() { "PASS" } else { "FAIL" },
            notes.join("; ")
        );
    }
    let _ = writeln!(
        t,
        "\nRelease binary over loopback, {} CPU(s); background SMTP load target {} msg/s; \
         whole run {:.1} s.",
        thread::available_parallelism().map_or(0, |n| n.get()),
        LOAD_PER_SEC,
        elapsed.as_secs_f64()
    );
    t
}

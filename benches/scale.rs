//! Scale: a store filled to a million messages, measured as it fills.
//!
//! Run with `cargo bench --bench scale` (after `cargo build --release -p mailiy`). It starts
//! `target/release/mailiy serve` (catch-all, pro tier) on free ports and fills it over SMTP with
//! a realistic mix, in steps. After each step, with the senders stopped, it measures:
//!
//! - the ingest rate of the step (stored messages per second: the step's count over the time
//!   until the API counted all of them) and the server's CPU per message;
//! - the newest page of the biggest mailbox (`limit=50`) and a page deep in it (`before=` the
//!   message at 90 % of its depth), p50/p99;
//! - search across all mail (`GET /v1/messages?q=…&limit=50`): a common word, a rare word, a
//!   sender, a subject word; at the last step every operator, one row each;
//! - RSS and bytes on disk per byte received.
//!
//! At the end: `wait` with a `q=` filter (the answer's arrival minus the probe's `250`),
//! start-up time on the full store, and the delete of the biggest mailbox while another
//! mailbox keeps receiving (time until invisible, the longest ingest call meanwhile, the file's
//! size over the next seconds, and a unique token of that mailbox searched for in every file).
//!
//! The mix: 95 % plain 2 KB, 4.8 % 20 KB HTML, 0.2 % 200 KB with an attachment (mean ≈ 3.3 KB);
//! ~1,000 mailboxes, one holding 10 % of all mail, the rest a long tail; senders, subjects and
//! words from skewed distributions; every message carries a unique token, every 50th a
//! one-time code and a link. Deterministic: the same settings send the same bytes.
//!
//! Settings (environment): `SCALE_MESSAGES` (1,000,000), `SCALE_MAILBOXES` (1,000),
//! `SCALE_STEPS` (10), `SCALE_SESSIONS` (8). Progress goes to stderr; the report to stdout and
//! `target/bench-scale.md`, the plot to `target/bench-scale.svg`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::procfs::{process_cpu, rss_kib};
use support::smtp::Smtp;
use support::Server;

const IO_TIMEOUT: Duration = Duration::from_secs(60);
const BIG: &str = "big@scale.test";
const OTHER: &str = "other@scale.test";
const PROBE: &str = "probe@scale.test";
/// Requests per list measurement, and per search query.
const LIST_SAMPLES: usize = 200;
const SEARCH_SAMPLES: usize = 20;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn main() {
    let total = env_usize("SCALE_MESSAGES", 1_000_000);
    let mailboxes = env_usize("SCALE_MAILBOXES", 1_000).max(2);
    let steps = env_usize("SCALE_STEPS", 10).max(1);
    let sessions = env_usize("SCALE_SESSIONS", 8).max(1);
    let mix = Arc::new(Mix { mailboxes });
    let bin = support::release_binary();
    let mut server = Server::start(
        &bin,
        &[
            "--catch-all",
            "pro",
            "--default-ttl",
            "1440",
            "--pro-max-storage",
            "1024GiB",
        ],
    );
    let http = Http::new(&server);
    eprintln!(
        "scale: {total} messages in {steps} steps over {sessions} sessions, {mailboxes} mailboxes"
    );

    let big_ids = Arc::new(Mutex::new(Vec::new()));
    let mut received_bytes = 0u64;
    let mut rows = Vec::new();
    let mut sent = 0usize;
    for step in 1..=steps {
        let until = total * step / steps;
        let cpu_before = process_cpu(server.child.id());
        let started = Instant::now();
        received_bytes += fill(&server, &mix, sent..until, sessions, &big_ids);
        http.wait_count(until as u64);
        let elapsed = started.elapsed();
        let cpu = process_cpu(server.child.id()) - cpu_before;
        let n = (until - sent) as f64;
        sent = until;
        let ids = big_ids.lock().expect("ids lock").clone();
        let row = Row {
            messages: until,
            rate: n / elapsed.as_secs_f64(),
            cpu_ms: cpu.as_secs_f64() * 1e3 / n,
            newest: http.sample(
                LIST_SAMPLES,
                &format!("/v1/mailbox/{BIG}/messages?limit=50"),
            ),
            deep: deep_page(&http, &ids),
            searches: search_queries(until, step == steps)
                .into_iter()
                .map(|(name, path)| (name, http.sample(SEARCH_SAMPLES, &path)))
                .collect(),
            rss_mib: rss_kib(server.child.id()) / 1024.0,
            disk_ratio: disk_bytes(&server) as f64 / received_bytes as f64,
        };
        eprintln!("{}", row.line());
        rows.push(row);
    }
    let wait = wait_with_query(&server, &http);
    let startup = startup(&mut server, &http);
    let rss_after_start = rss_kib(server.child.id()) / 1024.0;
    let delete = delete_big(&server, &http, total);
    let report = report(&rows, &wait, &startup, rss_after_start, &delete, sessions);
    println!("{report}");
    let target = support::release_dir()
        .parent()
        .map(|t| t.to_path_buf())
        .expect("target dir");
    for (name, body) in [("bench-scale.md", report), ("bench-scale.svg", plot(&rows))] {
        if let Err(e) = std::fs::write(target.join(name), body) {
            eprintln!("cannot write {name}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The mail
// ---------------------------------------------------------------------------------------------

/// Deterministic pseudo-random numbers (SplitMix64), one stream per message index.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Skewed towards 0: `floor(n * u^k)`.
    fn skewed(&mut self, n: usize, k: i32) -> usize {
        ((n as f64) * self.unit().powi(k)) as usize
    }
}

const VOCABULARY: usize = 30_000;
const SENDERS: usize = 500;
const SYLLABLES: [&str; 32] = [
    "ka", "mo", "ri", "te", "nu", "sa", "lo", "vi", "de", "ba", "zu", "po", "mi", "ga", "he", "ro",
    "ta", "ne", "fi", "lu", "ko", "se", "ma", "di", "jo", "pe", "wa", "ki", "no", "re", "su", "ya",
];

/// The word with index `n`: at least three syllables, distinct per index.
fn word(n: usize) -> String {
    let mut v = n + 32 * 32;
    let mut w = String::new();
    while v > 0 {
        w.push_str(SYLLABLES[v % 32]);
        v /= 32;
    }
    w
}

struct Mix {
    mailboxes: usize,
}

struct Mail {
    from: String,
    to: String,
    bytes: Vec<u8>,
}

impl Mix {
    fn recipient(&self, i: usize, rng: &mut Rng) -> String {
        if i.is_multiple_of(10) {
            BIG.to_string()
        } else {
            format!("box{}@scale.test", 1 + rng.skewed(self.mailboxes - 1, 3))
        }
    }

    fn sender(k: usize) -> String {
        format!("sender{k}@shop{}.test", k % 25)
    }

    /// The unique token of message `i`: found in that message only.
    fn token(i: usize) -> String {
        format!("uq{i:08}x")
    }

    fn mail(&self, i: usize) -> Mail {
        let mut rng = Rng::new(i as u64);
        let to = self.recipient(i, &mut rng);
        let sender = rng.skewed(SENDERS, 2);
        let from = Mix::sender(sender);
        let words = |n: usize, rng: &mut Rng| -> String {
            (0..n)
                .map(|_| word(rng.skewed(VOCABULARY, 4)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let subject = format!("Order {i} {}", words(2, &mut rng));
        let mut head = format!(
            "From: Sender {sender} <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
             Message-ID: <m{i}@scale.test>\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\
             MIME-Version: 1.0\r\n"
        );
        let mut text = format!("Hello, this is message {}.\r\n", Mix::token(i));
        if i.is_multiple_of(50) {
            let _ = write!(
                text,
                "Your code is {:06}\r\nVerify: https://shop.test/verify?t={i}\r\n",
                rng.next() % 1_000_000
            );
        }
        let body = match i % 500 {
            7 => {
                // 200 KB on the wire: a short text and a 150 KB attachment in base64.
                let mut data = Vec::with_capacity(150_000);
                while data.len() < 150_000 {
                    data.extend_from_slice(&rng.next().to_le_bytes());
                }
                head.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
                let _ = write!(text, "{}\r\n", words(40, &mut rng));
                format!(
                    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\n\
                     Content-Type: application/octet-stream; name=\"data{i}.bin\"\r\n\
                     Content-Disposition: attachment; filename=\"data{i}.bin\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
                    base64_lines(&data)
                )
            }
            n if n % 20 == 3 => {
                // 20 KB of HTML: rows of a table of words.
                head.push_str("Content-Type: text/html; charset=utf-8\r\n\r\n");
                let mut html = format!("<html><body><p>{text}</p><table>\r\n");
                while html.len() < 20_000 {
                    let _ = write!(
                        html,
                        "<tr><td style=\"padding:4px\">{}</td><td><a href=\"https://shop.test/p/{}\">\
                         view</a></td></tr>\r\n",
                        words(8, &mut rng),
                        rng.next() % 10_000
                    );
                }
                html.push_str("</table></body></html>\r\n");
                html
            }
            _ => {
                head.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
                while text.len() + head.len() < 2_000 {
                    let _ = write!(text, "{}\r\n", words(9, &mut rng));
                }
                text
            }
        };
        head.push_str(&body);
        Mail {
            from,
            to,
            bytes: head.into_bytes(),
        }
    }
}

fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38);
    for (n, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
        if n % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

/// Sends messages `range` over `sessions` concurrent sessions; returns the bytes sent. The ids
/// of the big mailbox's messages are kept (index, id) for the deep page.
fn fill(
    server: &Server,
    mix: &Arc<Mix>,
    range: std::ops::Range<usize>,
    sessions: usize,
    big_ids: &Arc<Mutex<Vec<(usize, String)>>>,
) -> u64 {
    let next = Arc::new(AtomicUsize::new(range.start));
    let done = Arc::new(AtomicUsize::new(0));
    let end = range.end;
    let handles: Vec<_> = (0..sessions)
        .map(|_| {
            let (next, done, mix, ids, addr) = (
                next.clone(),
                done.clone(),
                mix.clone(),
                big_ids.clone(),
                server.smtp,
            );
            thread::spawn(move || {
                let mut smtp = Smtp::connect(addr);
                let mut bytes = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    let mail = mix.mail(i);
                    bytes += mail.bytes.len() as u64;
                    let (_, reply) = smtp.send_raw(&mail.from, &mail.to, &mail.bytes);
                    if mail.to == BIG {
                        let id = reply.split_whitespace().last().unwrap_or("").to_string();
                        ids.lock().expect("ids lock").push((i, id));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                smtp.quit();
                bytes
            })
        })
        .collect();
    let progress = thread::spawn({
        let done = done.clone();
        let (start, n) = (range.start, range.len());
        move || {
            // One line redrawn on a terminal; a line every 10 s into a log.
            let tty = std::io::stderr().is_terminal();
            let t = Instant::now();
            let mut ticks = 0u32;
            loop {
                let d = done.load(Ordering::Relaxed);
                if tty || d >= n || ticks.is_multiple_of(20) {
                    eprint!(
                        "{}  {:>9} / {:<9} {:>6.0} msg/s{}",
                        if tty { "\r" } else { "" },
                        start + d,
                        start + n,
                        d as f64 / t.elapsed().as_secs_f64().max(1e-3),
                        if tty { " " } else { "\n" }
                    );
                }
                if d >= n {
                    if tty {
                        eprintln!();
                    }
                    return;
                }
                ticks += 1;
                thread::sleep(Duration::from_millis(500));
            }
        }
    });
    let bytes = handles
        .into_iter()
        .map(|h| h.join().expect("a sending session panicked"))
        .sum();
    progress.join().expect("progress thread");
    bytes
}

// ---------------------------------------------------------------------------------------------
// The API, timed
// ---------------------------------------------------------------------------------------------

struct Http {
    agent: ureq::Agent,
    base: String,
}

/// Sorted latencies of one measurement, in ms.
struct Samples(Vec<f64>);

impl Samples {
    fn pct(&self, p: f64) -> f64 {
        let n = self.0.len();
        if n == 0 {
            return f64::NAN;
        }
        self.0[(((p / 100.0) * n as f64).ceil() as usize).clamp(1, n) - 1]
    }
}

impl Http {
    fn new(server: &Server) -> Http {
        Http {
            agent: ureq::AgentBuilder::new().timeout(IO_TIMEOUT).build(),
            base: format!("http://{}", server.http),
        }
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        self.agent
            .get(&format!("{}{path}", self.base))
            .call()
            .map_err(|e| e.to_string())?
            .into_json()
            .map_err(|e| e.to_string())
    }

    fn count(&self) -> u64 {
        let v = self
            .get("/v1/messages?limit=1")
            .expect("GET the message count");
        v["count"].as_u64().expect("a count field")
    }

    fn wait_count(&self, want: u64) {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let n = self.count();
            if n >= want {
                assert_eq!(n, want, "more messages stored than sent");
                return;
            }
            assert!(Instant::now() < deadline, "stored {n} of {want} messages");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `n` GETs of `path` after one unmeasured warm-up; each must answer 200. A query whose
    /// warm-up took over a second is sampled 3 times only: the run must end.
    fn sample(&self, n: usize, path: &str) -> Samples {
        let t = Instant::now();
        self.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let n = if t.elapsed() > Duration::from_secs(1) {
            n.min(3)
        } else {
            n
        };
        let mut v: Vec<f64> = (0..n)
            .map(|_| {
                let t = Instant::now();
                self.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        v.sort_by(f64::total_cmp);
        Samples(v)
    }
}

fn search_url(q: &str) -> String {
    format!("/v1/messages?limit=50&q={}", urlencode(q))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A page of 50 at 90 % of the big mailbox's depth (newest first), by `before=` that message.
fn deep_page(http: &Http, ids: &[(usize, String)]) -> Samples {
    let mut ids = ids.to_vec();
    ids.sort();
    // Newest first: 90 % deep is the message at 10 % of the arrival order.
    match ids.get(ids.len() / 10) {
        Some((_, id)) => http.sample(
            LIST_SAMPLES / 2,
            &format!("/v1/mailbox/{BIG}/messages?limit=50&before={id}"),
        ),
        None => Samples(vec![]),
    }
}

/// The searches measured at a store of `n` messages, (name, path): four queries at every step;
/// at the last every operator, and the newest page and two searches through Mailpit's API
/// beside the same through /v1.
fn search_queries(n: usize, all: bool) -> Vec<(String, String)> {
    let mut q = vec![
        ("common word".to_string(), word(3)),
        ("rare word".to_string(), word(VOCABULARY / 2)),
        (
            "sender (from:)".to_string(),
            format!("from:{}", Mix::sender(42)),
        ),
        (
            "subject word (subject:)".to_string(),
            format!("subject:{}", word(5)),
        ),
    ];
    if all {
        let mid = n / 2;
        let extra = [
            ("unique token", Mix::token(mid)),
            ("phrase", format!("\"message {}\"", Mix::token(mid))),
            ("to:", "to:box7@scale.test".to_string()),
            ("mailbox:", "mailbox:box7@scale.test".to_string()),
            ("message-id:", format!("message-id:<m{mid}@scale.test>")),
            ("has:attachment", "has:attachment".to_string()),
            ("larger:100k", "larger:100k".to_string()),
            ("is:unread", "is:unread".to_string()),
            ("before: (a date)", "before:2026-01-01".to_string()),
            (
                "negation (word -from:)",
                format!("{} -from:{}", word(3), Mix::sender(0)),
            ),
            ("has:code", "has:code".to_string()),
            ("has:link", "has:link".to_string()),
            (
                "has:code from:",
                format!("has:code from:{}", Mix::sender(3)),
            ),
        ];
        q.extend(extra.into_iter().map(|(a, b)| (a.to_string(), b)));
    }
    let mut paths: Vec<(String, String)> = q
        .into_iter()
        .map(|(name, query)| (name, search_url(&query)))
        .collect();
    if all {
        let mailpit = [
            (
                "/v1: newest 50 of all mail",
                "/v1/messages?limit=50".to_string(),
            ),
            (
                "Mailpit: newest 50 of all mail",
                "/api/v1/messages?limit=50".to_string(),
            ),
            ("/v1: common word", search_url(&word(3))),
            (
                "Mailpit: common word",
                format!("/api/v1/search?limit=50&query={}", urlencode(&word(3))),
            ),
            (
                "/v1: from:",
                search_url(&format!("from:{}", Mix::sender(42))),
            ),
            (
                "Mailpit: from:",
                format!(
                    "/api/v1/search?limit=50&query={}",
                    urlencode(&format!("from:{}", Mix::sender(42)))
                ),
            ),
        ];
        paths.extend(mailpit.into_iter().map(|(a, b)| (a.to_string(), b)));
    }
    paths
}

// ---------------------------------------------------------------------------------------------
// The end: wait, start-up, the big delete
// ---------------------------------------------------------------------------------------------

/// `wait=10&q=subject:probeK` held open, then a matching message sent: the answer's arrival
/// minus the instant the sender read its `250` (which comes after the commit), in ms.
fn wait_with_query(server: &Server, http: &Http) -> Samples {
    let mut smtp = Smtp::connect(server.smtp);
    smtp.send(PROBE, "probe warm-up");
    let mut v = Vec::new();
    for k in 0..50 {
        let path = format!("/v1/mailbox/{PROBE}/messages?wait=10&q=subject:probe{k}");
        let (agent, base) = (http.agent.clone(), http.base.clone());
        let waiter = thread::spawn(move || {
            let r = agent.get(&format!("{base}{path}")).call();
            let at = Instant::now();
            let body: Value = r.expect("the wait answers").into_json().expect("JSON");
            (at, body)
        });
        // Time for the long-poll to be registered before the probe is sent.
        thread::sleep(Duration::from_millis(30));
        let acked = smtp.send(PROBE, &format!("probe{k}"));
        let (at, body) = waiter.join().expect("waiter");
        // A mailbox's list is a JSON array of summaries.
        let got = body
            .as_array()
            .map(|a| a.iter().any(|m| m["subject"] == format!("probe{k}")))
            .unwrap_or(false);
        assert!(got, "the wait answered without probe{k}: {body}");
        v.push(match at.checked_duration_since(acked) {
            Some(d) => d.as_secs_f64() * 1e3,
            None => -(acked.duration_since(at).as_secs_f64() * 1e3),
        });
    }
    smtp.quit();
    v.sort_by(f64::total_cmp);
    Samples(v)
}

struct Startup {
    ready: Duration,
    first_page_ms: f64,
}

fn startup(server: &mut Server, http: &Http) -> Startup {
    let ready = server.restart();
    let t = Instant::now();
    http.get(&format!("/v1/mailbox/{BIG}/messages?limit=50"))
        .expect("the first page after the restart");
    Startup {
        ready,
        first_page_ms: t.elapsed().as_secs_f64() * 1e3,
    }
}

struct Delete {
    delete_call_ms: f64,
    invisible_ms: f64,
    /// Longest single SMTP delivery to another mailbox, from the DELETE until 10 s after.
    worst_ingest_ms: f64,
    other_delivered: usize,
    /// File bytes: before, right after, and 10 s after the DELETE.
    disk: [u64; 3],
    token_hits: usize,
}

fn delete_big(server: &Server, http: &Http, total: usize) -> Delete {
    let disk_before = disk_bytes(server);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = thread::spawn({
        let (stop, addr) = (stop.clone(), server.smtp);
        move || {
            let mut smtp = Smtp::connect(addr);
            let (mut worst, mut n) = (0f64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                smtp.send(OTHER, &format!("during delete {n}"));
                worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
                n += 1;
                thread::sleep(Duration::from_millis(5));
            }
            smtp.quit();
            (worst, n)
        }
    });
    thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    http.agent
        .delete(&format!("{}/v1/mailbox/{BIG}", http.base))
        .call()
        .expect("DELETE the big mailbox");
    let delete_call_ms = t.elapsed().as_secs_f64() * 1e3;
    while http.get(&format!("/v1/mailbox/{BIG}")).is_ok() {
        thread::sleep(Duration::from_millis(1));
    }
    let invisible_ms = t.elapsed().as_secs_f64() * 1e3;
    let disk_right_after = disk_bytes(server);
    thread::sleep(Duration::from_secs(10).saturating_sub(t.elapsed()));
    stop.store(true, Ordering::Relaxed);
    let (worst_ingest_ms, other_delivered) = sender.join().expect("sender");
    let disk_after = disk_bytes(server);
    // A token of a message that was in the big mailbox (every tenth message went there).
    let token = Mix::token(((total / 2) / 10) * 10);
    Delete {
        delete_call_ms,
        invisible_ms,
        worst_ingest_ms,
        other_delivered,
        disk: [disk_before, disk_right_after, disk_after],
        token_hits: token_hits(server, token.as_bytes()),
    }
}

fn data_files(server: &Server) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![server.data.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Bytes the data dir's files hold.
fn disk_bytes(server: &Server) -> u64 {
    data_files(server)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn token_hits(server: &Server, token: &[u8]) -> usize {
    data_files(server)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| b.windows(token.len()).filter(|w| *w == token).count())
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The report and the plot
// ---------------------------------------------------------------------------------------------

struct Row {
    messages: usize,
    rate: f64,
    cpu_ms: f64,
    newest: Samples,
    deep: Samples,
    searches: Vec<(String, Samples)>,
    rss_mib: f64,
    disk_ratio: f64,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "{:>9} msgs: {:>6.0} msg/s ({:.3} ms CPU), newest p99 {:.2} ms, deep p99 {:.2} ms, \
             search p99 {}, RSS {:.0} MiB, disk/received {:.2}",
            self.messages,
            self.rate,
            self.cpu_ms,
            self.newest.pct(99.0),
            self.deep.pct(99.0),
            self.searches
                .iter()
                .take(4)
                .map(|(n, s)| format!("{n} {:.1}", s.pct(99.0)))
                .collect::<Vec<_>>()
                .join(", "),
            self.rss_mib,
            self.disk_ratio
        )
    }
}

fn report(
    rows: &[Row],
    wait: &Samples,
    startup: &Startup,
    rss_after_start: f64,
    delete: &Delete,
    sessions: usize,
) -> String {
    let mut s = String::new();
    let last = rows.last().expect("at least one step");
    let first = &rows[0];
    let _ = writeln!(
        s,
        "# Scale: {} messages, {} reused SMTP sessions\n",
        last.messages, sessions
    );
    let _ = writeln!(
        s,
        "| store | ingest msg/s | CPU ms/msg | newest page p50 / p99 ms | 90 % deep p50 / p99 ms | \
         word / rare / from: / subject: p99 ms | RSS MiB | disk / received |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.3} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {:.0} | {:.2} |",
            r.messages,
            r.rate,
            r.cpu_ms,
            r.newest.pct(50.0),
            r.newest.pct(99.0),
            r.deep.pct(50.0),
            r.deep.pct(99.0),
            r.searches
                .iter()
                .take(4)
                .map(|(_, x)| format!("{:.1}", x.pct(99.0)))
                .collect::<Vec<_>>()
                .join(" / "),
            r.rss_mib,
            r.disk_ratio
        );
    }
    let _ = writeln!(
        s,
        "\nIngest at the full store: {:.0} % of the first step's rate.\n",
        100.0 * last.rate / first.rate
    );
    let _ = writeln!(
        s,
        "Search across all mail at {} messages (`GET /v1/messages?q=…&limit=50` unless named, \
         {SEARCH_SAMPLES} requests each):\n",
        last.messages
    );
    let _ = writeln!(s, "| query | p50 ms | p99 ms |");
    let _ = writeln!(s, "|---|---|---|");
    for (name, x) in &last.searches {
        let _ = writeln!(s, "| {name} | {:.1} | {:.1} |", x.pct(50.0), x.pct(99.0));
    }
    let _ = writeln!(
        s,
        "\n- `wait` with `q=`: answer after the probe's `250`, p50 {:.2} ms, p99 {:.2} ms ({} probes)",
        wait.pct(50.0),
        wait.pct(99.0),
        wait.0.len()
    );
    let _ = writeln!(
        s,
        "- start-up on the full store: {:.0} ms to the ready line, first page {:.1} ms after; RSS \
         after start {:.0} MiB",
        startup.ready.as_secs_f64() * 1e3,
        startup.first_page_ms,
        rss_after_start
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let _ = writeln!(
        s,
        "- delete of the biggest mailbox: the call {:.0} ms, invisible after {:.0} ms; the longest \
         delivery to another mailbox meanwhile {:.1} ms ({} delivered in 10 s); files {:.0} MiB \
         before, {:.0} right after, {:.0} 10 s later; its unique token found {} times in the files",
        delete.delete_call_ms,
        delete.invisible_ms,
        delete.worst_ingest_ms,
        delete.other_delivered,
        mib(delete.disk[0]),
        mib(delete.disk[1]),
        mib(delete.disk[2]),
        delete.token_hits
    );
    s
}

/// Two panels side by side: ingest rate, and p99 latencies, against the store's size.
fn plot(rows: &[Row]) -> String {
    let (w, h, pad) = (460.0, 300.0, 50.0);
    let xmax = rows.last().map_or(1, |r| r.messages) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n",
        2.0 * w + 40.0,
        h + 40.0
    );
    let series_rate = vec![(
        "stored msg/s",
        "#1f77b4",
        rows.iter()
            .map(|r| (r.messages as f64, r.rate))
            .collect::<Vec<_>>(),
    )];
    let p99 = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| (r.messages as f64, f(r))).collect();
    let series_lat = vec![
        ("newest page", "#2ca02c", p99(&|r| r.newest.pct(99.0))),
        ("90 % deep page", "#98df8a", p99(&|r| r.deep.pct(99.0))),
        (
            "search: word",
            "#d62728",
            p99(&|r| r.searches[0].1.pct(99.0)),
        ),
        (
            "search: from:",
            "#ff7f0e",
            p99(&|r| r.searches[2].1.pct(99.0)),
        ),
        (
            "search: subject:",
            "#9467bd",
            p99(&|r| r.searches[3].1.pct(99.0)),
        ),
    ];
    panel(
        &mut svg,
        10.0,
        "Ingest rate (msg/s)",
        &series_rate,
        xmax,
        (w, h, pad),
    );
    panel(
        &mut svg,
        w + 30.0,
        "p99 latency (ms)",
        &series_lat,
        xmax,
        (w, h, pad),
    );
    svg.push_str("</svg>\n");
    svg
}

type Series = (&'static str, &'static str, Vec<(f64, f64)>);

fn panel(
    svg: &mut String,
    x0: f64,
    title: &str,
    series: &[Series],
    xmax: f64,
    dims: (f64, f64, f64),
) {
    let (w, h, pad) = dims;
    let ymax = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        * 1.1;
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    let (left, top, pw, ph) = (x0 + pad, 30.0, w - pad - 10.0, h - 60.0);
    let px = |x: f64| left + pw * x / xmax;
    let py = |y: f64| top + ph - ph * y / ymax;
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"18\" font-weight=\"bold\">{title}</text>\n\
         <rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>",
        left
    );
    for k in 0..=4 {
        let (xv, yv) = (xmax * k as f64 / 4.0, ymax * k as f64 / 4.0);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            px(xv),
            top + ph + 16.0,
            human(xv),
            left - 4.0,
            py(yv) + 4.0,
            human(yv)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">messages in the store</text>",
        left + pw / 2.0,
        top + ph + 32.0
    );
    for (n, (name, color, points)) in series.iter().enumerate() {
        let pts: Vec<String> = points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{name}</text>",
            pts.join(" "),
            left + 8.0,
            top + 16.0 + 14.0 * n as f64
        );
    }
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

//! SMTP load over TLS and in the clear, against the real release binary, over loopback.
//!
//! `smtp-source` (what `../shared/bench/run.sh` drives) cannot do TLS, so this is the load
//! generator for the TLS shapes. Run with `cargo bench --bench smtp_load` (after
//! `cargo build --release -p mailiy`). It starts `target/release/mailiy serve` with `--smtps` on
//! free ports and, for each repetition, runs the same shape three ways in rotation:
//!
//! - `plain`: N messages of 2,048 bytes over S sessions, each session reused for its share;
//! - `starttls`: the same after `STARTTLS` and a second `EHLO`, verifying the server's
//!   certificate against the PEM the server made (as a client that trusts it would);
//! - `smtps`: the same over implicit TLS (`--smtps`).
//!
//! Like `smtp-source`, each session waits for every reply before its next command (no
//! pipelining). Per run it reports accepted/s (N over the generator's wall time), stored/s (N
//! over the time until the API's count grew by N) and the server's CPU per message (from
//! `/proc/PID/stat`), then the median of each and the TLS/plain ratios. Last it measures the
//! server's RSS per idle connection, plain and after the TLS handshake.
//!
//! Settings (environment): `LOAD_MESSAGES` (5000), `LOAD_SESSIONS` (16), `LOAD_SIZE` (2048),
//! `LOAD_REPS` (3), `LOAD_IDLE` (idle connections for the memory part, 1000; 0 skips it).
//! The table is printed and written to `target/bench-smtp-load.md`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

mod support;
use support::procfs::{process_cpu, rss_kib};
use support::Server;

/// No step of the run may hang it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const RECIPIENT: &str = "box@mailiy.test";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Plain,
    StartTls,
    Smtps,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::StartTls => "starttls",
            Mode::Smtps => "smtps",
        }
    }
}

struct Shape {
    messages: usize,
    sessions: usize,
    size: usize,
}

struct RunResult {
    accepted_per_s: f64,
    stored_per_s: f64,
    cpu_ms_per_msg: f64,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn main() {
    let shape = Shape {
        messages: env_usize("LOAD_MESSAGES", 5000),
        sessions: env_usize("LOAD_SESSIONS", 16).max(1),
        size: env_usize("LOAD_SIZE", 2048).max(256),
    };
    let reps = env_usize("LOAD_REPS", 3).max(1);
    let idle = env_usize("LOAD_IDLE", 1000);
    let bin = support::release_binary();
    raise_fd_limit(idle as u64 + 256);
    let server = Server::start(
        &bin,
        &[
            "--smtps",
            "127.0.0.1:0",
            "--catch-all",
            "pro",
            "--default-ttl",
            "1440",
            "--pro-max-storage",
            "8GiB",
            "--smtp-max-connections",
            "20000",
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build the generator's runtime");
    let tls = Arc::new(client_config(&server.data.join("tls-cert.pem")));
    let message = Arc::new(message(shape.size));
    let agent = ureq::AgentBuilder::new().timeout(IO_TIMEOUT).build();
    let count_url = format!("http://{}/v1/messages?limit=1", server.http);

    let modes = [Mode::Plain, Mode::StartTls, Mode::Smtps];
    let mut results: Vec<(Mode, Vec<RunResult>)> = modes.iter().map(|&m| (m, vec![])).collect();
    // Warm-up: the first sessions pay for page faults and SQLite's cache.
    rt.block_on(load(
        &server,
        Mode::StartTls,
        &shape_small(&shape),
        &tls,
        &message,
    ));
    wait_count(&agent, &count_url, count(&agent, &count_url));
    for rep in 0..reps {
        // Rotate the order each repetition so drift over the run hits every mode alike.
        for i in 0..modes.len() {
            let mode = modes[(i + rep) % modes.len()];
            let before = count(&agent, &count_url);
            let cpu_before = process_cpu(server.child.id());
            let started = Instant::now();
            rt.block_on(load(&server, mode, &shape, &tls, &message));
            let accepted = started.elapsed();
            wait_count(&agent, &count_url, before + shape.messages as u64);
            let stored = started.elapsed();
            let cpu = process_cpu(server.child.id()) - cpu_before;
            let r = RunResult {
                accepted_per_s: shape.messages as f64 / accepted.as_secs_f64(),
                stored_per_s: shape.messages as f64 / stored.as_secs_f64(),
                cpu_ms_per_msg: cpu.as_secs_f64() * 1000.0 / shape.messages as f64,
            };
            println!(
                "rep {} {:<8} accepted {:>7.0}/s stored {:>7.0}/s cpu {:.3} ms/msg",
                rep + 1,
                mode.name(),
                r.accepted_per_s,
                r.stored_per_s,
                r.cpu_ms_per_msg
            );
            results
                .iter_mut()
                .find(|(m, _)| *m == mode)
                .expect("every mode has a row")
                .1
                .push(r);
        }
    }
    let idle_rows = if idle > 0 {
        modes
            .iter()
            .map(|&mode| (mode, rt.block_on(idle_rss(&server, mode, idle, &tls))))
            .collect()
    } else {
        Vec::new()
    };
    let report = report(&shape, reps, &results, idle, &idle_rows);
    println!("\n{report}");
    let out = support::release_dir()
        .parent()
        .map(|t| t.join("bench-smtp-load.md"))
        .expect("target dir");
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("cannot write {}: {e}", out.display());
    }
}

/// A shape a tenth the size, for the warm-up.
fn shape_small(shape: &Shape) -> Shape {
    Shape {
        messages: (shape.messages / 10).max(shape.sessions),
        sessions: shape.sessions,
        size: shape.size,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(
    shape: &Shape,
    reps: usize,
    results: &[(Mode, Vec<RunResult>)],
    idle: usize,
    idle_rows: &[(Mode, f64)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# SMTP load: {} messages of {} B over {} reused sessions, {} rep(s), medians",
        shape.messages, shape.size, shape.sessions, reps
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| mode | accepted/s | stored/s | server CPU ms/msg | stored/s vs plain |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    let stored = |m: &[RunResult]| median(m.iter().map(|r| r.stored_per_s).collect());
    let plain = stored(&results[0].1);
    for (mode, runs) in results {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {:.3} | {:.0} % |",
            mode.name(),
            median(runs.iter().map(|r| r.accepted_per_s).collect()),
            stored(runs),
            median(runs.iter().map(|r| r.cpu_ms_per_msg).collect()),
            100.0 * stored(runs) / plain
        );
    }
    if !idle_rows.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "RSS per idle connection ({idle} connections, after EHLO):"
        );
        for (mode, kib) in idle_rows {
            let _ = writeln!(s, "- {}: {kib:.1} KiB", mode.name());
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// Sends `shape.messages` messages over `shape.sessions` concurrent sessions.
async fn load(
    server: &Server,
    mode: Mode,
    shape: &Shape,
    tls: &Arc<ClientConfig>,
    message: &Arc<Vec<u8>>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..shape.sessions {
        let share =
            shape.messages / shape.sessions + usize::from(i < shape.messages % shape.sessions);
        let (addr, tls, message) = (addr(server, mode), tls.clone(), message.clone());
        tasks.spawn(async move {
            let mut c = Client::connect(addr, mode, &tls).await;
            for _ in 0..share {
                c.send_message(&message).await;
            }
            c.command("QUIT", "221").await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            panic!("a load session failed: {e}");
        }
    }
}

/// The server's RSS growth per connection held idle after EHLO (and the handshake).
async fn idle_rss(server: &Server, mode: Mode, n: usize, tls: &Arc<ClientConfig>) -> f64 {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server.child.id());
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(Client::connect(addr(server, mode), mode, tls).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib(server.child.id());
    drop(held);
    (after - before) / n as f64
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Client {
    io: BufStream<Box<dyn Io>>,
    line: String,
}

impl Client {
    async fn connect(addr: SocketAddr, mode: Mode, tls: &Arc<ClientConfig>) -> Client {
        let tcp = timeout(TcpStream::connect(addr)).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let connector = TlsConnector::from(tls.clone());
        let name = ServerName::try_from("localhost").expect("a valid name");
        let io: Box<dyn Io> = match mode {
            Mode::Smtps => Box::new(
                timeout(connector.connect(name.clone(), tcp))
                    .await
                    .expect("TLS handshake (smtps)"),
            ),
            Mode::Plain | Mode::StartTls => Box::new(tcp),
        };
        let mut c = Client {
            io: BufStream::new(io),
            line: String::new(),
        };
        c.expect("220").await;
        c.command("EHLO bench.client", "250").await;
        if mode == Mode::StartTls {
            c.command("STARTTLS", "220").await;
            // Nothing is buffered past the 220: the client speaks next.
            let plain = c.io.into_inner();
            let tls = timeout(connector.connect(name, plain))
                .await
                .expect("TLS handshake (STARTTLS)");
            c = Client {
                io: BufStream::new(Box::new(tls)),
                line: String::new(),
            };
            c.command("EHLO bench.client", "250").await;
        }
        c
    }

    async fn send_message(&mut self, message: &[u8]) {
        self.command("MAIL FROM:<bench@sender.test>", "250").await;
        self.command(&format!("RCPT TO:<{RECIPIENT}>"), "250").await;
        self.command("DATA", "354").await;
        timeout(self.io.write_all(message)).await.expect("write");
        timeout(self.io.write_all(b".\r\n")).await.expect("write");
        timeout(self.io.flush()).await.expect("flush");
        self.expect("250").await;
    }

    async fn command(&mut self, cmd: &str, code: &str) {
        timeout(self.io.write_all(cmd.as_bytes()))
            .await
            .expect("write");
        timeout(self.io.write_all(b"\r\n")).await.expect("write");
        timeout(self.io.flush()).await.expect("flush");
        self.expect(code).await;
    }

    /// Reads one reply (every line of a multi-line one) and checks its code.
    async fn expect(&mut self, code: &str) {
        loop {
            self.line.clear();
            let n = timeout(self.io.read_line(&mut self.line))
                .await
                .expect("read");
            assert!(n > 0, "the server closed the connection, expecting {code}");
            assert!(
                self.line.starts_with(code),
                "expected {code}, got {:?}",
                self.line.trim_end()
            );
            if self.line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }
}

async fn timeout<F: std::future::Future<Output = std::io::Result<T>>, T>(
    f: F,
) -> std::io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
}

/// A message of exactly `size` bytes on the wire before the final dot (like the shared
/// harness's msg-2k.eml: headers with a display name, then text lines).
fn message(size: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: Bench <bench@sender.test>\r\nTo: <box@mailiy.test>\r\nSubject: smtp load\r\n\
         Message-ID: <load@bench.client>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    let line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() + line.len() <= size {
        m.push_str(line);
    }
    while m.len() + 2 < size {
        m.push('x');
    }
    m.push_str("\r\n");
    m.into_bytes()
}

fn client_config(pem: &Path) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", pem.display()))
    {
        roots
            .add(cert.expect("a certificate in the PEM"))
            .expect("the server's certificate is usable as a trust anchor");
    }
    ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the ring provider supports the default versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

// ---------------------------------------------------------------------------------------------
// What the server's API and /proc say about it
// ---------------------------------------------------------------------------------------------

fn count(agent: &ureq::Agent, url: &str) -> u64 {
    let v: serde_json::Value = agent
        .get(url)
        .call()
        .expect("GET the message count")
        .into_json()
        .expect("the count is JSON");
    v["count"].as_u64().expect("a count field")
}

fn wait_count(agent: &ureq::Agent, url: &str, want: u64) {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let n = count(agent, url);
        if n >= want {
            assert_eq!(n, want, "more messages stored than sent");
            return;
        }
        assert!(Instant::now() < deadline, "stored {n} of {want} messages");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The idle part holds `LOAD_IDLE` sockets open in this process.
fn raise_fd_limit(wanted: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < wanted {
            lim.rlim_cur = wanted.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn addr(server: &Server, mode: Mode) -> SocketAddr {
    match mode {
        Mode::Smtps => server.smtps.expect("the server was started with --smtps"),
        Mode::Plain | Mode::StartTls => server.smtp,
    }
}

//! What the benchmarks share: the release binary they measure, started on free ports.

#![allow(dead_code)] // each bench compiles this module and uses a part of it

pub mod procfs;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// `target/release`, found from the bench's own path (`target/release/deps/NAME-HASH`):
/// `CARGO_BIN_EXE_*` is meant for integration tests, and this also follows `CARGO_TARGET_DIR`.
pub fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the bench executable's own path");
    exe.parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected bench location {}", exe.display()))
        .to_path_buf()
}

/// The release `mailiy`, or a panic saying how to build it.
pub fn release_binary() -> PathBuf {
    let bin = release_dir().join("mailiy");
    assert!(
        bin.is_file(),
        "no server binary at {}: build it first with `cargo build --release -p mailiy`",
        bin.display()
    );
    bin
}

/// A running `mailiy serve`; killed (and its data dir removed) when dropped, even on panic.
pub struct Server {
    pub child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    /// Set when `--smtps` was among the arguments.
    pub smtps: Option<SocketAddr>,
    pub data: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
    log_path: PathBuf,
    /// Dropped after `drop` has killed the child (fields drop after `Drop::drop`).
    _tmp: tempfile::TempDir,
}

impl Server {
    /// `serve --smtp 127.0.0.1:0 --http 127.0.0.1:0` with a temporary data dir and `args`.
    pub fn start(bin: &Path, args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("cannot create a temporary directory");
        let data = tmp.path().join("data");
        let log_path = tmp.path().join("server.log");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let ports = ["127.0.0.1:0".to_string(), "127.0.0.1:0".to_string()];
        let (child, ready) = spawn(bin, &ports, &args, &data, &log_path);
        let field = |key: &str| -> Option<SocketAddr> {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        let needed = |key: &str| {
            field(key).unwrap_or_else(|| panic!("no {key}ADDR in the ready line {ready:?}"))
        };
        Server {
            smtp: needed("smtp="),
            http: needed("http="),
            smtps: field("smtps="),
            child,
            data,
            bin: bin.to_path_buf(),
            args,
            log_path,
            _tmp: tmp,
        }
    }

    /// Stops the server cleanly (SIGTERM, then waits) and starts it again on the same data
    /// dir and the same ports; returns the time from the new process's spawn to its ready line.
    pub fn restart(&mut self) -> Duration {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
        let ports = [self.smtp.to_string(), self.http.to_string()];
        let started = std::time::Instant::now();
        let (child, _) = spawn(&self.bin, &ports, &self.args, &self.data, &self.log_path);
        let took = started.elapsed();
        self.child = child;
        took
    }
}

/// Starts `serve` on `[smtp, http]` and waits for its ready line.
fn spawn(
    bin: &Path,
    [smtp, http]: &[String; 2],
    args: &[String],
    data: &Path,
    log_path: &Path,
) -> (Child, String) {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("cannot open the server log file");
    let mut child = Command::new(bin)
        .arg("serve")
        .args(["--smtp", smtp, "--http", http])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Logs go to a file: a full stderr pipe would stall the server mid-benchmark.
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("child stdout is piped");
    // Read stdout on a thread, so waiting for the ready line has a timeout, and keep
    // draining it afterwards so the server never blocks on a full pipe.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("mailiy ready ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => (child, line),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            panic!("mailiy printed no ready line within 60 s; its log:\n{log}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! What the benchmarks share: the release binary they measure, started on free ports.

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
    #[allow(dead_code)] // not every bench uses implicit TLS
    pub smtps: Option<SocketAddr>,
    #[allow(dead_code)]
    pub data: PathBuf,
    /// Dropped after `drop` has killed the child (fields drop after `Drop::drop`).
    _tmp: tempfile::TempDir,
}

impl Server {
    /// `serve --smtp 127.0.0.1:0 --http 127.0.0.1:0` with a temporary data dir and `args`.
    pub fn start(bin: &Path, args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("cannot create a temporary directory");
        let data = tmp.path().join("data");
        let log_path = tmp.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("cannot create the server log file");
        let mut child = Command::new(bin)
            .arg("serve")
            .args(["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(args)
            .arg("--data-dir")
            .arg(&data)
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
        let ready = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("mailiy printed no ready line within 20 s; its log:\n{log}");
            }
        };
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
            _tmp: tmp,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

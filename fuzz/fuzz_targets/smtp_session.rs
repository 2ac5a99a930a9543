//! SMTP session: any bytes from a client, fed in chunks to the same `Session` the server runs
//! (here without a socket), against a real engine and store (catch-all on, small caps, so
//! messages are stored, refused for size and refused for a full mailbox). Asserts that every
//! reply is one well-formed SMTP line and that the session never panics.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailiy::smtp::{Flow, Session};
use mailiy::{Config, Engine, Tier};

struct World {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // On tmpfs when there is one: the store fsyncs every commit.
        let dir = tempfile::Builder::new()
            .prefix("mailiy-fuzz-")
            .tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
                "/dev/shm"
            } else {
                "/tmp"
            })
            .expect("temp dir");
        let mut config = Config::with_data_dir(dir.path().to_path_buf());
        config.catch_all = Some(Tier::Anon);
        config.tiers.anon.max_message_bytes = 16 * 1024;
        config.tiers.anon.max_storage_bytes = 48 * 1024;
        config.smtp.max_recipients = 4;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = Engine::open(config).expect("engine");
        World {
            runtime,
            engine,
            _dir: dir,
        }
    })
}

/// Every reply line: a 2xx-5xx code, a space or a dash, printable text, CRLF.
fn check_replies(out: &[u8]) {
    assert!(
        out.is_empty() || out.ends_with(b"\r\n"),
        "unterminated reply: {out:?}"
    );
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line
            .strip_suffix(b"\r")
            .unwrap_or_else(|| panic!("bare LF in {line:?}"));
        assert!(
            line.len() >= 4 && line.len() <= 1000,
            "reply length: {line:?}"
        );
        assert!(
            (b'2'..=b'5').contains(&line[0])
                && line[1].is_ascii_digit()
                && line[2].is_ascii_digit()
                && (line[3] == b' ' || line[3] == b'-'),
            "not a reply line: {line:?}"
        );
        assert!(
            line.iter().all(|&b| b >= 0x20 && b != 0x7f),
            "control byte in a reply: {line:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let w = world();
    // The last byte picks how the input is cut into reads, so commands and the end of DATA
    // also arrive split across reads (it stays part of the input: seeds are plain sessions).
    let stride = data.last().map_or(1, |&b| usize::from(b % 64) * 7 + 1);
    w.runtime.block_on(async {
        let mut s = Session::new(w.engine.clone(), "127.0.0.1:2525".parse().unwrap());
        let mut out = s.take_output();
        for chunk in data.chunks(stride) {
            let flow = s.receive(chunk).await;
            out.extend_from_slice(&s.take_output());
            if flow != Flow::Continue {
                break;
            }
        }
        check_replies(&out);
        assert!(out.starts_with(b"220 "), "greeting first");
        // Keep the store small: drop every mailbox now and then.
        if RUNS.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
            w.engine.sweep_expired(i64::MAX).await.expect("sweep");
        }
    });
});

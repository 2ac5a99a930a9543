//! SMTP session: any bytes from a client, fed in chunks to the same `Session` the server runs
//! (here without a socket), against an in-memory sink set up like a small server (catch-all on,
//! small caps, 4 recipients at most), so messages are stored, refused for size and refused for a
//! full mailbox. Asserts that every reply is one well-formed SMTP line and that the session
//! never panics.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailiy::config::SmtpConfig;
use mailiy::engine::AuthPolicy;
use mailiy::smtp::{Flow, MemorySink, Session};
use mailiy::Config;

/// Per-message and per-mailbox caps of the catch-all: small, so both are reached.
const MAX_MESSAGE: u64 = 16 * 1024;
const MAX_STORAGE: u64 = 48 * 1024;

struct World {
    runtime: tokio::runtime::Runtime,
    smtp: SmtpConfig,
    /// The SIZE EHLO advertises: the largest cap of any tier.
    largest: u64,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut config = Config::with_data_dir(PathBuf::new());
        config.tiers.anon.max_message_bytes = MAX_MESSAGE;
        config.tiers.anon.max_storage_bytes = MAX_STORAGE;
        config.smtp.max_recipients = 4;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        World {
            runtime,
            largest: config.tiers.largest_message_bytes(),
            smtp: config.smtp,
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
    let w = world();
    // The last byte picks how the input is cut into reads, so commands and the end of DATA
    // also arrive split across reads (it stays part of the input: seeds are plain sessions).
    let stride = data.last().map_or(1, |&b| usize::from(b % 64) * 7 + 1);
    // A fresh sink per input: each run starts from empty mailboxes, so a crash replays alone.
    // AUTH offered (any login, CRAM-MD5 too), so the exchanges are explored as well.
    let sink = MemorySink::new()
        .with_catch_all(MAX_MESSAGE, MAX_STORAGE)
        .with_auth(AuthPolicy {
            offered: true,
            cram_md5: true,
            ..AuthPolicy::default()
        });
    let peer = "127.0.0.1:2525".parse().expect("peer");
    let mut s = Session::new(sink, w.smtp.clone(), w.largest, peer);
    w.runtime.block_on(async {
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
    });
});

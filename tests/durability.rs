//! "250 means stored": a SIGKILL in the middle of a burst loses nothing that was acknowledged.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::*;

#[test]
fn kill_9_during_a_1000_message_burst_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--catch-all", "pro"]);
    let addr = "burst@mailiy.localhost";
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    const SESSIONS: usize = 8;
    const PER_SESSION: usize = 125;
    let clients: Vec<_> = (0..SESSIONS)
        .map(|t| {
            let (acked, sent, smtp) = (acked.clone(), sent.clone(), s.smtp);
            std::thread::spawn(move || {
                let mut c = Smtp::connect(smtp);
                c.cmd("EHLO burst");
                for i in 0..PER_SESSION {
                    sent.fetch_add(1, Ordering::SeqCst);
                    let body = simple_message("a@b.test", addr, &format!("t{t}m{i}"), "burst");
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        c.deliver("a@b.test", &[addr], &body)
                    }));
                    match r {
                        Ok(reply) if reply.starts_with("250") => {
                            let id = reply.trim().rsplit(' ').next().unwrap().to_string();
                            acked.lock().unwrap().push(id);
                        }
                        _ => return, // the server died under us
                    }
                }
            })
        })
        .collect();
    // Kill while the burst is in full flow.
    eventually("the burst to get going", || {
        (acked.lock().unwrap().len() >= 300).then_some(())
    });
    s.kill9();
    for c in clients {
        let _ = c.join();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300 && acked.len() < SESSIONS * PER_SESSION,
        "killed mid-burst: {} acked",
        acked.len()
    );

    let s = Server::start_in(dir.path(), &["--catch-all", "pro"]);
    let (st, stored) = s.get(&format!("/v1/mailbox/{}/messages?limit=1000", enc(addr)));
    assert_eq!(st, 200);
    let stored: HashSet<String> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    // Each acknowledged message is whole: its raw bytes are readable and complete.
    for id in acked.iter().take(50) {
        let (st, raw, _) = s.get_bytes(&format!("/v1/mailbox/{}/messages/{id}/raw", enc(addr)));
        assert_eq!(st, 200);
        assert!(String::from_utf8_lossy(&raw).ends_with("burst\r\n"));
    }
    eprintln!(
        "kill -9 burst: {} sent, {} acknowledged, {} stored, 0 lost",
        sent.load(Ordering::SeqCst),
        acked.len(),
        stored.len()
    );
}

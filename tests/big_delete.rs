//! Big deletes through the real binary: a mailbox of more messages than one purge chunk is
//! invisible the instant it is deleted or expires (API, RCPT, search, wait), its address is
//! free again at once, other mail flows meanwhile, and once the writer has freed it no file
//! holds a byte of it and the database file has shrunk.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::common::{files_under, occurrences};
use crate::expiry::{assert_indexed, assert_token_gone, tokened_message};

/// Small chunks, so a test-sized mailbox is freed in many steps.
const FLAGS: &[&str] = &["--purge-chunk", "40", "--vacuum-step-pages", "16"];

/// Sends `n` messages carrying `token` to `to` over four sessions.
fn fill(s: &Server, to: &str, token: &str, n: usize) {
    std::thread::scope(|scope| {
        for k in 0..4 {
            scope.spawn(move || {
                let mut c = s.smtp();
                c.cmd("EHLO fill.test");
                for _ in (k..n).step_by(4) {
                    let r = c.deliver("a@b.test", &[to], &tokened_message(to, token));
                    assert_eq!(code(&r), 250, "{r}");
                }
            });
        }
    });
}

fn db_size(s: &Server) -> u64 {
    std::fs::metadata(s.data_dir.join("mailiy.db"))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn token_hits(s: &Server, token: &str) -> usize {
    files_under(&s.data_dir)
        .iter()
        .map(|(_, b)| occurrences(b, token.as_bytes()))
        .sum()
}

/// What a client sees of a gone mailbox, at once: 404, 550 at RCPT, no search hit, a wait that
/// fails, and the address free for a new mailbox.
fn assert_invisible(s: &Server, id: &str, address: &str, token: &str) {
    assert_eq!(s.get(&format!("/v1/mailbox/{id}")).0, 404);
    assert_eq!(
        s.get(&format!("/v1/mailbox/{}/messages?wait=1", enc(address)))
            .0,
        404
    );
    let (_, found) = s.get(&format!("/v1/messages?q={}", token.to_lowercase()));
    assert_eq!(found["messages"].as_array().unwrap().len(), 0, "{found}");
    assert_eq!(found["total"], 0, "{found}");
    let mut c = s.smtp();
    c.cmd("EHLO t");
    c.cmd("MAIL FROM:<a@b.test>");
    let r = c.cmd(&format!("RCPT TO:<{address}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
}

#[test]
fn deleting_a_big_mailbox_hides_it_at_once_and_frees_every_byte_in_chunks() {
    let s = Server::start(FLAGS);
    let big = s.mailbox(json!({"localPart": "big"}));
    s.mailbox(json!({"localPart": "bystander"}));
    let token = format!("TOKEN{}B", std::process::id() as u64 * 7727 + 11);
    fill(&s, "big@mailiy.localhost", &token, 600);
    assert_indexed(&s, &token);
    let full = db_size(&s);

    let started = Instant::now();
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}", big["id"].as_str().unwrap())),
        204
    );
    let answered = started.elapsed();
    assert_invisible(
        &s,
        big["id"].as_str().unwrap(),
        "big@mailiy.localhost",
        &token,
    );
    // The address is free at once; the new mailbox starts empty.
    let again = s.mailbox(json!({"localPart": "big"}));
    assert_eq!(again["messageCount"], 0);
    assert_eq!(s.messages("big@mailiy.localhost").len(), 0);
    // Other mail flows while the old one is freed.
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let to = "bystander@mailiy.localhost";
    let r = c.deliver(
        "a@b.test",
        &[to],
        &simple_message("a@b.test", to, "still here", "hi"),
    );
    assert_eq!(code(&r), 250, "{r}");

    eventually("every byte of the deleted mailbox freed", || {
        (token_hits(&s, &token) == 0 && token_hits(&s, &token.to_lowercase()) == 0).then_some(())
    });
    assert_token_gone(&s, &token, "after deleting a big mailbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    while db_size(&s) * 2 > full && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        db_size(&s) * 2 <= full,
        "the file shrinks: {} of {full} bytes",
        db_size(&s)
    );
    assert_eq!(s.messages(to).len(), 1);
    assert!(
        answered < Duration::from_secs(2),
        "DELETE took {answered:?}"
    );
}

#[test]
fn a_big_mailbox_that_expires_is_invisible_at_its_instant_and_freed_after() {
    let s = Server::start(FLAGS);
    let m = s.mailbox(json!({"localPart": "bigexp", "expiresAt": rfc3339_in(9000)}));
    let expires = Instant::now() + Duration::from_millis(9000);
    let token = format!("TOKEN{}X", std::process::id() as u64 * 6247 + 5);
    fill(&s, "bigexp@mailiy.localhost", &token, 200);
    assert_indexed(&s, &token);
    std::thread::sleep(
        expires.saturating_duration_since(Instant::now()) + Duration::from_millis(50),
    );
    assert_invisible(
        &s,
        m["id"].as_str().unwrap(),
        "bigexp@mailiy.localhost",
        &token,
    );
    eventually("every byte of the expired mailbox freed", || {
        (token_hits(&s, &token) == 0 && token_hits(&s, &token.to_lowercase()) == 0).then_some(())
    });
    assert_token_gone(&s, &token, "after a big mailbox expired");
}

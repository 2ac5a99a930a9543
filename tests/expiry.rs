//! Expiry on time, and nothing left behind after expiry or delete.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_mailbox_expires_on_time_at_rcpt_and_in_the_api() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "short", "expiresAt": rfc3339_in(2000)}));
    let id = m["id"].as_str().unwrap().to_string();
    let expires = Instant::now() + Duration::from_millis(2000);
    let mut c = s.smtp();
    c.cmd("EHLO t");
    assert_eq!(code(&c.cmd("MAIL FROM:<a@b.test>")), 250);
    assert_eq!(
        code(&c.cmd("RCPT TO:<short@mailiy.localhost>")),
        250,
        "alive before expiry"
    );
    c.cmd("RSET");
    std::thread::sleep(
        expires.saturating_duration_since(Instant::now()) + Duration::from_millis(50),
    );
    // Refused from the instant of expiry, swept or not.
    c.cmd("MAIL FROM:<a@b.test>");
    let r = c.cmd("RCPT TO:<short@mailiy.localhost>");
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // Gone from the API within a second of its expiry.
    let (st, _) = s.get(&format!("/v1/mailbox/{id}"));
    assert_eq!(st, 404);
    let (_, list) = s.get("/v1/mailbox");
    assert!(list.as_array().unwrap().is_empty());
    assert!(Instant::now() < expires + Duration::from_secs(1));
}

/// A message carrying `token` in the subject, body, attachment name and attachment content,
/// and as `Ü{token}` in the subject and body: the search index holds that word folded
/// (`u` + the token lower-cased), a form no other file has, so [`index_form`] finds the index.
pub fn tokened_message(to: &str, token: &str) -> String {
    format!(
        "From: A <a@b.test>\r\nTo: {to}\r\nSubject: code {token} Ü{token}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nyour token is {token} Ü{token}\r\n--b1\r\n\
         Content-Type: text/plain; name=\"{token}.txt\"\r\n\
         Content-Disposition: attachment; filename=\"{token}.txt\"\r\n\r\nsecret {token} inside\r\n--b1--\r\n"
    )
}

/// The token as the search index keeps it (accent folded, lower-cased).
pub fn index_form(token: &str) -> String {
    format!("u{}", token.to_lowercase())
}

/// Asserts the search index holds the token now (so its absence later means something).
pub fn assert_indexed(s: &Server, token: &str) {
    let (status, found) = s.get(&format!("/v1/messages?q={}", index_form(token)));
    assert_eq!(status, 200, "{found}");
    assert!(
        !found["messages"].as_array().unwrap().is_empty(),
        "search finds it"
    );
    let on_disk: usize = files_under(&s.data_dir)
        .iter()
        .map(|(_, b)| occurrences(b, index_form(token).as_bytes()))
        .sum();
    assert!(on_disk > 0, "the index's form of the token is on disk");
}

pub fn assert_token_gone(s: &Server, token: &str, when: &str) {
    let mut found = Vec::new();
    for (path, bytes) in files_under(&s.data_dir) {
        let n = occurrences(&bytes, token.as_bytes())
            + occurrences(&bytes, index_form(token).as_bytes());
        if n > 0 {
            found.push(format!("{} x{n}", path.display()));
        }
    }
    assert!(found.is_empty(), "token still on disk {when}: {found:?}");
    let log = s.log.lock().unwrap().clone();
    assert_eq!(
        occurrences(log.as_bytes(), token.as_bytes()),
        0,
        "token in the log"
    );
}

#[test]
fn after_expiry_no_file_in_the_data_dir_holds_a_byte_of_the_mail() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "forensic", "expiresAt": rfc3339_in(1500)}));
    let token = format!("TOKEN{}Z", std::process::id() as u64 * 7919 + 12345);
    let mut c = s.smtp();
    // In the HELO name too: the envelope and the transcript kept with each copy name it.
    c.cmd(&format!("EHLO helo.{token}.test"));
    for _ in 0..3 {
        let r = c.deliver(
            "a@b.test",
            &["forensic@mailiy.localhost"],
            &tokened_message("forensic@mailiy.localhost", &token),
        );
        assert_eq!(code(&r), 250, "{r}");
    }
    // The token is on disk while the mailbox lives (so the search below can find it).
    let before: usize = files_under(&s.data_dir)
        .iter()
        .map(|(_, b)| occurrences(b, token.as_bytes()))
        .sum();
    assert!(before > 0, "the search must be able to find the token");
    assert_indexed(&s, &token);
    eventually("the expiry sweep", || {
        let (_, list) = s.get("/v1/mailbox");
        list.as_array().unwrap().is_empty().then_some(())
    });
    eventually("the WAL truncation after the sweep", || {
        let n: usize = files_under(&s.data_dir)
            .iter()
            .map(|(_, b)| {
                occurrences(b, token.as_bytes()) + occurrences(b, index_form(&token).as_bytes())
            })
            .sum();
        (n == 0).then_some(())
    });
    assert_token_gone(&s, &token, "after expiry");
}

#[test]
fn after_delete_no_file_in_the_data_dir_holds_a_byte_of_the_mail() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "deleted"}));
    let token = format!("TOKEN{}D", std::process::id() as u64 * 104_729 + 7);
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let r = c.deliver(
        "a@b.test",
        &["deleted@mailiy.localhost"],
        &tokened_message("deleted@mailiy.localhost", &token),
    );
    assert_eq!(code(&r), 250);
    let before: usize = files_under(&s.data_dir)
        .iter()
        .map(|(_, b)| occurrences(b, token.as_bytes()))
        .sum();
    assert!(before > 0);
    assert_indexed(&s, &token);
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}", m["id"].as_str().unwrap())),
        204
    );
    // DELETE answers after the delete is committed and the WAL truncated.
    assert_token_gone(&s, &token, "after delete");
}

#[test]
fn after_deleting_one_message_no_file_holds_a_byte_of_it_index_included() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "onegone"}));
    let token = format!("TOKEN{}M", std::process::id() as u64 * 15_485_863 + 3);
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let to = "onegone@mailiy.localhost";
    assert_eq!(
        code(&c.deliver("a@b.test", &[to], &tokened_message(to, &token))),
        250
    );
    // A neighbour that stays: its words share the index's pages with the deleted one's.
    let kept = simple_message("a@b.test", to, "kept", "an ordinary neighbour");
    assert_eq!(code(&c.deliver("a@b.test", &[to], &kept)), 250);
    assert_indexed(&s, &token);
    let (_, found) = s.get(&format!("/v1/messages?q={}", index_form(&token)));
    let id = found["messages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}/messages/{id}", enc(to))),
        204
    );
    assert_token_gone(&s, &token, "after deleting the message");
    let (_, left) = s.get("/v1/messages?q=neighbour");
    assert_eq!(left["messages"].as_array().unwrap().len(), 1, "{left}");
}

#[test]
fn mail_survives_a_restart_and_expiry_still_happens_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    s.mailbox(json!({"localPart": "persist"}));
    let short = s.mailbox(json!({"localPart": "brief", "expiresAt": rfc3339_in(2500)}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    assert_eq!(
        code(&c.deliver(
            "a@b.test",
            &["persist@mailiy.localhost"],
            &simple_message("a@b.test", "persist@mailiy.localhost", "kept", "b")
        )),
        250
    );
    drop(c);
    assert!(s.stop());
    let s = Server::start_in(dir.path(), &[]);
    assert_eq!(s.messages("persist@mailiy.localhost").len(), 1);
    let (st, _) = s.get(&format!("/v1/mailbox/{}", short["id"].as_str().unwrap()));
    assert_eq!(st, 200);
    eventually("expiry after restart", || {
        let (st, _) = s.get(&format!("/v1/mailbox/{}", short["id"].as_str().unwrap()));
        (st == 404).then_some(())
    });
}

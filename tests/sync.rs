//! Sync with a remote Mailiy endpoint: two real `mailiy serve` processes, the "remote" one in
//! token mode on loopback, and hostile "remotes" made of raw TCP in this test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

/// Fast retries, so a restarted remote is found again within the test's deadlines.
const FAST_RETRY: &[&str] = &["--sync-retry-min-ms", "100", "--sync-retry-max-ms", "1000"];

fn remote_server() -> Server {
    Server::start(&["--require-token"])
}

fn token_of(s: &Server) -> String {
    std::fs::read_to_string(s.data_dir.join("token"))
        .expect("token file")
        .trim()
        .to_string()
}

/// A request to the token-mode remote, with its token.
fn authed(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, &s.url(path))
        .set("Authorization", &format!("Bearer {}", token_of(s)));
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            let text = r.into_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn authed_raw(s: &Server, path: &str) -> Vec<u8> {
    let r = ureq::get(&s.url(path))
        .set("Authorization", &format!("Bearer {}", token_of(s)))
        .call()
        .expect("raw from remote");
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    body
}

/// Adds `url` with `key` as a remote account on `local`; returns its id.
fn add_remote(local: &Server, url: &str, key: &str) -> String {
    let (st, v) = local.post(
        "/v1/remotes",
        json!({"name": "service", "url": url, "apiKey": key}),
    );
    assert_eq!(st, 201, "{v}");
    assert!(
        !v.to_string().contains(key),
        "the key must never be returned"
    );
    v["id"].as_str().unwrap().to_string()
}

fn remote_state(local: &Server, id: &str) -> Value {
    let (st, v) = local.get("/v1/remotes");
    assert_eq!(st, 200);
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no remote {id} in {v}"))
}

fn wait_state(local: &Server, id: &str, state: &str) -> Value {
    eventually(&format!("remote {id} to be {state}"), || {
        let r = remote_state(local, id);
        (r["state"] == state).then_some(r)
    })
}

fn send(remote: &Server, to: &str, subject: &str) {
    let mut smtp = remote.smtp();
    smtp.cmd("EHLO test.example");
    let reply = smtp.deliver(
        "sender@example.com",
        &[to],
        &simple_message("sender@example.com", to, subject, "hello from the remote"),
    );
    assert_eq!(code(&reply), 250, "{reply}");
}

/// Sends `n` messages with subjects `prefix-0`… to the remote; remembers them in `sent`.
fn send_batch(remote: &Server, to: &str, prefix: &str, n: usize, sent: &mut Vec<String>) {
    for i in 0..n {
        let subject = format!("{prefix}-{i}");
        send(remote, to, &subject);
        sent.push(subject);
    }
}

/// Waits until the mirror holds as many messages as were sent, lets it settle, and checks
/// that each arrived exactly once.
fn assert_exactly_once(local: &Server, mailbox: &str, sent: &[String]) {
    let mut expected = sent.to_vec();
    expected.sort();
    eventually("every message mirrored", || {
        (subjects(local, mailbox).len() >= expected.len()).then_some(())
    });
    // Settled: nothing more arrives, nothing twice.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subjects(local, mailbox), expected);
}

/// Adds `remote` to `local`, waits for it to connect and creates a mailbox on it; returns the
/// account id and the local mirror.
fn mirror(local: &Server, remote: &Server) -> (String, Value) {
    let rid = add_remote(local, &remote.url(""), &token_of(remote));
    wait_state(local, &rid, "connected");
    let m = local.mailbox(json!({"remote": rid, "ttlMinutes": 30}));
    (rid, m)
}

/// A remote + a local syncing it, with one remote mailbox created through the local API.
struct Pair {
    remote: Server,
    local: Server,
    remote_id: String,
    /// The local mirror.
    mailbox: Value,
}

fn pair(local_flags: &[&str]) -> Pair {
    let remote = remote_server();
    let mut flags = FAST_RETRY.to_vec();
    flags.extend_from_slice(local_flags);
    let local = Server::start(&flags);
    let (remote_id, mailbox) = mirror(&local, &remote);
    Pair {
        remote,
        local,
        remote_id,
        mailbox,
    }
}

fn addr_of(m: &Value) -> String {
    m["address"].as_str().unwrap().to_string()
}

#[test]
fn remote_mail_arrives_through_local_sse_within_a_second_with_identical_raw_bytes() {
    let p = pair(&[]);
    let m = &p.mailbox;
    assert_eq!(m["origin"], "remote");
    assert_eq!(m["remote"], p.remote_id.as_str());
    let address = addr_of(m);
    // The mailbox really is on the remote, with the same address and expiry.
    let (st, on_remote) = authed(
        &p.remote,
        "GET",
        &format!("/v1/mailbox/{}", enc(&address)),
        None,
    );
    assert_eq!(st, 200, "{on_remote}");
    assert_eq!(on_remote["expiresAt"], m["expiresAt"]);
    assert_eq!(on_remote["origin"], "local");

    let mut sse = SseClient::connect(p.local.http, "/v1/events", &[]);
    assert_eq!(sse.status, 200);
    send(&p.remote, &address, "synced-1");
    let sent = Instant::now();
    let ev = sse.next_named("message.received").expect("event");
    let within = sent.elapsed();
    assert!(within < Duration::from_secs(1), "arrived after {within:?}");
    let data: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(data["mailboxId"], m["id"]);
    assert_eq!(data["message"]["subject"], "synced-1");

    let local_id = data["message"]["id"].as_str().unwrap();
    let (_, local_raw, _) = p.local.get_bytes(&format!(
        "/v1/mailbox/{}/messages/{local_id}/raw",
        m["id"].as_str().unwrap()
    ));
    let remote_msgs = authed(
        &p.remote,
        "GET",
        &format!("/v1/mailbox/{}/messages", enc(&address)),
        None,
    )
    .1;
    let remote_id = remote_msgs[0]["id"].as_str().unwrap();
    let remote_raw = authed_raw(
        &p.remote,
        &format!("/v1/mailbox/{}/messages/{remote_id}/raw", enc(&address)),
    );
    assert!(!remote_raw.is_empty());
    assert_eq!(local_raw, remote_raw, "raw bytes differ");
    // Viewed like local mail: parsed and with its text.
    let (st, full) = p.local.get(&format!(
        "/v1/mailbox/{}/messages/{local_id}",
        m["id"].as_str().unwrap()
    ));
    assert_eq!(st, 200);
    assert!(full["text"]
        .as_str()
        .unwrap()
        .contains("hello from the remote"));

    // The key is in no answer and no log line.
    let key = token_of(&p.remote);
    let (_, remotes) = p.local.get("/v1/remotes");
    assert!(!remotes.to_string().contains(&key));
    assert!(!p.local.log.lock().unwrap().contains(&key));
}

#[test]
fn every_message_arrives_once_across_a_remote_kill_and_restart() {
    let remote_dir = tempfile::tempdir().unwrap();
    let remote = Server::start_in(remote_dir.path(), &["--require-token"]);
    let http = remote.http.to_string();
    let local = Server::start(FAST_RETRY);
    let (rid, m) = mirror(&local, &remote);
    let (id, address) = (m["id"].as_str().unwrap().to_string(), addr_of(&m));

    let mut sent = Vec::new();
    send_batch(&remote, &address, "before", 6, &mut sent);
    // Killed while the local side is still pulling what was just sent.
    remote.kill9();
    let remote = Server::start_in_at(remote_dir.path(), &http, &["--require-token"]);
    send_batch(&remote, &address, "after", 6, &mut sent);
    assert_exactly_once(&local, &id, &sent);
    wait_state(&local, &rid, "connected");
}

#[test]
fn every_message_arrives_once_across_a_local_kill_and_restart() {
    let remote = remote_server();
    let local_dir = tempfile::tempdir().unwrap();
    let local = Server::start_in(local_dir.path(), FAST_RETRY);
    let (_, m) = mirror(&local, &remote);
    let (id, address) = (m["id"].as_str().unwrap().to_string(), addr_of(&m));

    let mut sent = Vec::new();
    send_batch(&remote, &address, "first", 6, &mut sent);
    local.kill9();
    // Mail that comes while the local side is down is caught up after its restart.
    send_batch(&remote, &address, "while-down", 4, &mut sent);
    let local = Server::start_in(local_dir.path(), FAST_RETRY);
    send_batch(&remote, &address, "after-restart", 4, &mut sent);
    assert_exactly_once(&local, &id, &sent);
}

#[test]
fn long_poll_transport_mirrors_mail_and_deletions() {
    let p = pair(&["--sync-transport", "poll"]);
    let id = p.mailbox["id"].as_str().unwrap().to_string();
    let address = addr_of(&p.mailbox);
    let mut sse = SseClient::connect(p.local.http, "/v1/events", &[]);
    send(&p.remote, &address, "polled");
    let sent = Instant::now();
    let ev = sse.next_named("message.received").expect("event");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert!(ev.data.contains("polled"));
    // Deleted on the remote: gone here at once.
    let (st, _) = authed(
        &p.remote,
        "DELETE",
        &format!("/v1/mailbox/{}", enc(&address)),
        None,
    );
    assert_eq!(st, 204);
    let deleted = Instant::now();
    let ev = sse.next_named("mailbox.deleted").expect("deleted event");
    assert!(deleted.elapsed() < Duration::from_secs(1));
    assert!(ev.data.contains(&id));
    assert_eq!(p.local.get(&format!("/v1/mailbox/{id}")).0, 404);
}

#[test]
fn remote_expiry_and_remote_delete_remove_the_local_copy_within_a_second() {
    let p = pair(&[]);
    let mut sse = SseClient::connect(p.local.http, "/v1/events", &[]);
    // A short-lived remote mailbox: its expiry is the remote's, mirrored here.
    let created = Instant::now();
    let short = p
        .local
        .mailbox(json!({"remote": p.remote_id, "expiresAt": rfc3339_in(2500)}));
    let short_id = short["id"].as_str().unwrap().to_string();
    loop {
        let ev = sse.next().expect("event");
        if ev.event == "mailbox.expired" && ev.data.contains(&short_id) {
            break;
        }
    }
    // Not late: gone within a second of the expiry instant (2.5 s after the request).
    let at = created.elapsed();
    assert!(at < Duration::from_millis(3500), "gone after {at:?}");
    assert!(
        at >= Duration::from_millis(2400),
        "gone early, after {at:?}"
    );
    assert_eq!(p.local.get(&format!("/v1/mailbox/{short_id}")).0, 404);

    // Deleted on the remote by someone else: the mirror goes at once.
    let id = p.mailbox["id"].as_str().unwrap().to_string();
    let (st, _) = authed(
        &p.remote,
        "DELETE",
        &format!("/v1/mailbox/{}", enc(&addr_of(&p.mailbox))),
        None,
    );
    assert_eq!(st, 204);
    let deleted = Instant::now();
    let ev = sse.next_named("mailbox.deleted").expect("deleted event");
    assert!(
        deleted.elapsed() < Duration::from_secs(1),
        "{:?}",
        deleted.elapsed()
    );
    assert!(ev.data.contains(&id));
}

#[test]
fn local_extend_and_delete_go_to_the_remote() {
    let p = pair(&[]);
    let id = p.mailbox["id"].as_str().unwrap().to_string();
    let address = addr_of(&p.mailbox);
    let path = format!("/v1/mailbox/{}", enc(&address));
    let r = ureq::patch(&p.local.url(&format!("/v1/mailbox/{id}")))
        .send_json(json!({"extendMinutes": 10}))
        .expect("extend");
    let extended: Value = r.into_json().unwrap();
    let (_, on_remote) = authed(&p.remote, "GET", &path, None);
    assert_eq!(extended["expiresAt"], on_remote["expiresAt"]);
    assert_ne!(extended["expiresAt"], p.mailbox["expiresAt"]);
    // Beyond the remote's tier cap: the remote's refusal comes back as it is.
    let r = ureq::patch(&p.local.url(&format!("/v1/mailbox/{id}")))
        .send_json(json!({"extendMinutes": 100000}));
    match r {
        Err(ureq::Error::Status(422, r)) => {
            let v: Value = r.into_json().unwrap();
            assert_eq!(v["error"]["code"], "remote_refused", "{v}");
        }
        other => panic!("expected 422, got {other:?}"),
    }

    assert_eq!(p.local.delete(&format!("/v1/mailbox/{id}")), 204);
    assert_eq!(authed(&p.remote, "GET", &path, None).0, 404);
    assert_eq!(p.local.get(&format!("/v1/mailbox/{id}")).0, 404);
}

#[test]
fn a_wrong_key_gives_auth_failed_without_a_tight_retry_loop() {
    let remote = remote_server();
    let local = Server::start(&["--sync-retry-min-ms", "100", "--sync-retry-max-ms", "60000"]);
    let rid = add_remote(&local, &remote.url(""), "not-the-token");
    let r = wait_state(&local, &rid, "auth_failed");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("refused the API key"),
        "{r}"
    );
    // The next try is the slow pace's, not the fast one's.
    let retry_at = r["retryAt"].as_str().unwrap();
    assert!(
        retry_at > rfc3339_in(40_000).as_str(),
        "retry at {retry_at}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let failures = local
        .log
        .lock()
        .unwrap()
        .matches("sync: remote failed")
        .count();
    assert_eq!(failures, 1, "one attempt, then the slow pace");
    // Creating a mailbox on it says why it cannot.
    let (st, v) = local.post("/v1/mailbox", json!({"remote": rid}));
    assert_eq!(st, 502, "{v}");
    assert_eq!(v["error"]["code"], "remote_auth_failed");
    // Removing the account removes it from the list.
    assert_eq!(local.delete(&format!("/v1/remotes/{rid}")), 204);
    assert_eq!(local.delete(&format!("/v1/remotes/{rid}")), 404);
    assert!(local.get("/v1/remotes").1.as_array().unwrap().is_empty());
}

#[test]
fn remote_accounts_are_validated() {
    let local = Server::start(&[]);
    for body in [
        json!({"name": "x", "url": "ftp://host", "apiKey": "k"}),
        json!({"name": "x", "url": "http://user:pw@host", "apiKey": "k"}),
        json!({"name": "", "url": "http://host", "apiKey": "k"}),
        json!({"name": "x", "url": "http://host", "apiKey": "has space"}),
        json!({"name": "x", "url": "http://host"}),
    ] {
        let (st, v) = local.post("/v1/remotes", body.clone());
        assert_eq!(st, 422, "{body} -> {v}");
    }
    let (st, v) = local.post("/v1/mailbox", json!({"remote": "rmt_unknown"}));
    assert_eq!(st, 422, "{v}");
}

/// How a hostile "remote" answers.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    NotJson,
    Huge,
    SlowBody,
    SlowStream,
    WrongTypes,
    Redirect,
}

/// A raw TCP server answering every request the hostile way; counts its connections.
fn hostile(mode: Hostile, redirect_to: Option<SocketAddr>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || answer(conn, mode, redirect_to));
        }
    });
    (addr, hits)
}

fn answer(mut conn: TcpStream, mode: Hostile, redirect_to: Option<SocketAddr>) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let json = |conn: &mut TcpStream, body: &str| {
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    match mode {
        Hostile::NotJson => {
            let body = "<html>this is not the API</html>";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        Hostile::Huge => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
            );
            let chunk = vec![b' '; 64 * 1024];
            // Until the client hangs up: it must stop reading at its cap.
            while conn.write_all(&chunk).is_ok() {}
        }
        Hostile::SlowBody => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            );
            while conn.write_all(b" ").is_ok() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Hostile::SlowStream if path.starts_with("/v1/health") => {
            json(&mut conn, r#"{"status":"ok"}"#)
        }
        Hostile::SlowStream => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
            );
            // A line that never ends, one byte at a time.
            while conn.write_all(b"d").is_ok() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Hostile::WrongTypes => json(&mut conn, r#"{"status":5,"id":[],"address":{}}"#),
        Hostile::Redirect => {
            let to = redirect_to.expect("target");
            let _ = write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: http://{to}/v1/health\r\nContent-Length: 0\r\n\r\n"
            );
        }
    }
}

#[test]
fn hostile_remotes_give_a_clear_state_and_no_crash() {
    let local = Server::start(&[
        "--sync-retry-min-ms",
        "200",
        "--sync-retry-max-ms",
        "2000",
        "--sync-request-timeout",
        "2",
        "--sync-idle-timeout",
        "2",
        "--sync-max-json",
        "64KiB",
    ]);
    let (canary, canary_hits) = hostile(Hostile::NotJson, None);
    let cases = [
        (Hostile::NotJson, "error", "not the JSON expected"),
        (Hostile::Huge, "error", "larger than 65536 bytes"),
        (Hostile::SlowBody, "retrying", "did not answer in time"),
        (Hostile::SlowStream, "retrying", "no complete line for 2 s"),
        (Hostile::WrongTypes, "error", "invalid type"),
        (Hostile::Redirect, "error", "redirects are not followed"),
    ];
    let mut ids = Vec::new();
    for (mode, _, _) in cases {
        let (addr, _) = hostile(mode, Some(canary));
        ids.push(add_remote(&local, &format!("http://{addr}"), "key"));
    }
    for ((mode, state, detail), id) in cases.iter().zip(&ids) {
        let r = eventually(&format!("{mode:?} to end in {state}"), || {
            let r = remote_state(&local, id);
            (r["state"] == *state).then_some(r)
        });
        let d = r["detail"].as_str().unwrap_or_default();
        assert!(d.contains(detail), "{mode:?}: {r}");
        assert!(r["retryAt"].is_string(), "{mode:?}: {r}");
    }
    // Creating a mailbox on a hostile remote fails with a clear answer, not a 500.
    let (st, v) = local.post("/v1/mailbox", json!({"remote": ids[0]}));
    assert_eq!(st, 502, "{v}");
    assert_eq!(v["error"]["code"], "remote_unavailable");
    let (st, v) = local.post("/v1/mailbox", json!({"remote": ids[4]}));
    assert_eq!(st, 502, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{v}"
    );
    // The redirect was reported, never followed to the other host.
    assert_eq!(canary_hits.load(Ordering::SeqCst), 0);
    // And the engine is fine.
    assert_eq!(local.get("/v1/health").0, 200);
    let mut local = local;
    assert!(local.child.try_wait().unwrap().is_none(), "the engine died");
}

#[test]
fn an_expiry_moved_on_the_remote_is_followed() {
    let p = pair(&["--sync-refresh", "1"]);
    let id = p.mailbox["id"].as_str().unwrap().to_string();
    let path = format!("/v1/mailbox/{}", enc(&addr_of(&p.mailbox)));
    let (st, moved) = authed(
        &p.remote,
        "PATCH",
        &path,
        Some(json!({"extendMinutes": 15})),
    );
    assert_eq!(st, 200, "{moved}");
    assert_ne!(moved["expiresAt"], p.mailbox["expiresAt"]);
    eventually("the mirror to follow the remote's expiry", || {
        let (_, m) = p.local.get(&format!("/v1/mailbox/{id}"));
        (m["expiresAt"] == moved["expiresAt"]).then_some(())
    });
}

/// A mirror that missed more than a page (the API's largest, 1,000) gets every message: sync's
/// catch-up walks the remote's pages oldest first after its cursor.
#[test]
fn a_mirror_that_missed_5000_messages_catches_up_on_all_of_them() {
    let remote = remote_server();
    let local_dir = tempfile::tempdir().unwrap();
    let local = Server::start_in(local_dir.path(), FAST_RETRY);
    let (_, m) = mirror(&local, &remote);
    let (id, address) = (m["id"].as_str().unwrap().to_string(), addr_of(&m));
    let mut sent = Vec::new();
    send_batch(&remote, &address, "seen", 3, &mut sent);
    eventually("the first mail mirrored", || {
        (subjects(&local, &id).len() == 3).then_some(())
    });
    local.kill9();
    sent.extend(crate::paging::flood(&remote, &address, "missed", 5000));
    let local = Server::start_in(local_dir.path(), FAST_RETRY);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (_, mailbox) = local.get(&format!("/v1/mailbox/{id}"));
        if mailbox["messageCount"].as_u64() == Some(sent.len() as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "caught up {} of {}",
            mailbox["messageCount"],
            sent.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut mirrored = crate::paging::all_subjects(&local, &id);
    mirrored.sort();
    sent.sort();
    assert_eq!(mirrored, sent, "every message exactly once");
}

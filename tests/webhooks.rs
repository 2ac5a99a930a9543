//! Webhooks over real HTTP: the API, and deliveries to a tiny receiving server in the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::common::*;

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The status it was answered with.
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A receiving HTTP server on 127.0.0.1:0 that records every request and answers with the
/// status currently set. One request per connection (`Connection: close`).
struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        let (reqs, st) = (requests.clone(), status.clone());
        // Lives until the test process ends; it only ever serves this test's server.
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (reqs, st) = (reqs.clone(), st.clone());
                std::thread::spawn(move || serve_one(conn, &reqs, &st));
            }
        });
        Receiver {
            addr,
            requests,
            status,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` requests have arrived; returns them all.
    fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited {within:?} for {n} webhook requests, got {}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_one(conn: TcpStream, requests: &Mutex<Vec<Received>>, status: &AtomicU16) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let answered = status.load(Ordering::SeqCst);
    requests.lock().unwrap().push(Received {
        method,
        path,
        headers,
        body,
        answered,
    });
    let mut w = conn;
    let _ = write!(
        w,
        "HTTP/1.1 {answered} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn webhook(s: &Server, body: Value) -> Value {
    let (status, v) = s.post("/v1/webhooks", body);
    assert_eq!(status, 201, "create webhook: {v}");
    v
}

fn send_mail(s: &Server, to: &str, subject: &str) {
    let mut c = s.smtp();
    c.cmd("EHLO test");
    let r = c.deliver(
        "sender@example.test",
        &[to],
        &simple_message("sender@example.test", to, subject, "hello"),
    );
    assert_eq!(code(&r), 250, "{r}");
}

/// Waits (bounded) until `f` returns Some.
fn wait_until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn webhooks_are_created_listed_and_deleted() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({}));
    let w = webhook(&s, json!({"url": "http://127.0.0.1:9/hook"}));
    let id = w["id"].as_str().unwrap();
    assert!(id.starts_with("whk_"), "{w}");
    assert_eq!(w["url"], "http://127.0.0.1:9/hook");
    assert_eq!(w["mailboxId"], Value::Null);
    assert_eq!(w["events"], json!(["message.received"]));
    let secret = w["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert!(w["createdAt"].as_str().unwrap().ends_with('Z'));

    // The mailbox filter takes the address too, and answers with the id.
    let f = webhook(
        &s,
        json!({"url": "https://receiver.test/x", "mailboxId": m["address"],
               "events": ["message.received", "message.deleted"]}),
    );
    assert_eq!(f["mailboxId"], m["id"]);
    assert_eq!(f["events"], json!(["message.received", "message.deleted"]));
    assert_ne!(f["secret"], w["secret"]);

    let (status, list) = s.get("/v1/webhooks");
    assert_eq!(status, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&id));
    let (status, d) = s.get(&format!("/v1/webhooks/{id}/deliveries"));
    assert_eq!((status, d), (200, json!([])));

    assert_eq!(s.delete(&format!("/v1/webhooks/{id}")), 204);
    assert_eq!(s.delete(&format!("/v1/webhooks/{id}")), 404);
    let (_, list) = s.get("/v1/webhooks");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (status, v) = s.get(&format!("/v1/webhooks/{id}/deliveries"));
    assert_eq!((status, error_code(&v)), (404, "webhook_not_found"));

    // A webhook filtered to a mailbox goes with the mailbox.
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}", m["id"].as_str().unwrap())),
        204
    );
    let (_, list) = s.get("/v1/webhooks");
    assert_eq!(list, json!([]));
}

#[test]
fn webhook_requests_are_validated() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({}));
    for (body, status, code) in [
        (json!({"url": "ftp://127.0.0.1/x"}), 422, "invalid_value"),
        (json!({"url": "file:///etc/passwd"}), 422, "invalid_value"),
        (
            json!({"url": "http://user:pw@127.0.0.1/"}),
            422,
            "invalid_value",
        ),
        (json!({"url": "not a url"}), 422, "invalid_value"),
        (
            json!({"url": format!("http://h/{}", "a".repeat(2100))}),
            422,
            "invalid_value",
        ),
        (json!({}), 422, "invalid_value"),
        (json!({"url": 5}), 422, "invalid_value"),
        (
            json!({"url": "http://127.0.0.1/", "events": ["message.read"]}),
            422,
            "invalid_value",
        ),
        (
            json!({"url": "http://127.0.0.1/", "events": []}),
            422,
            "invalid_value",
        ),
        (
            json!({"url": "http://127.0.0.1/", "mailboxId": m["id"], "events": ["mailbox.expired"]}),
            422,
            "invalid_value",
        ),
        (
            json!({"url": "http://127.0.0.1/", "colour": "red"}),
            422,
            "invalid_value",
        ),
        (
            json!({"url": "http://127.0.0.1/", "mailboxId": "mbx_nope"}),
            404,
            "mailbox_not_found",
        ),
        (
            json!({"url": "http://127.0.0.1/", "mailboxId": "nobody@mailiy.localhost"}),
            404,
            "mailbox_not_found",
        ),
    ] {
        let (got, v) = s.post("/v1/webhooks", body.clone());
        assert_eq!((got, error_code(&v)), (status, code), "{body} -> {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let r = ureq::post(&s.url("/v1/webhooks")).send_string("{not json");
    match r {
        Err(ureq::Error::Status(400, _)) => {}
        other => panic!("bad JSON: {other:?}"),
    }
    assert_eq!(s.delete("/v1/webhooks/whk_unknown"), 404);
    let (status, v) = s.get("/v1/webhooks/whk_unknown/deliveries");
    assert_eq!((status, error_code(&v)), (404, "webhook_not_found"));
    let (_, list) = s.get("/v1/webhooks");
    assert_eq!(list, json!([]), "nothing was created");
}

#[test]
fn received_mail_is_posted_signed_to_the_webhook() {
    let rx = Receiver::start(200);
    let s = Server::start(&[]);
    let m = s.mailbox(json!({}));
    let addr = m["address"].as_str().unwrap();
    let w = webhook(&s, json!({"url": rx.url("/hook?token=t")}));
    let secret = w["secret"].as_str().unwrap();

    send_mail(&s, addr, "first-subject");
    let got = rx.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "exactly one POST per event: {got:?}");
    let r = &got[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/hook?token=t")
    );
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("x-mailiy-event"), "message.received");
    assert_eq!(r.header("x-mailiy-signature"), sign(secret, &r.body));
    let delivery = r.header("x-mailiy-delivery").to_string();
    assert!(delivery.starts_with("dlv_"), "{delivery}");
    let body = r.json();
    assert_eq!(body["event"], "message.received");
    assert_eq!(body["deliveryId"], delivery.as_str());
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(body["data"]["mailboxId"], m["id"]);
    assert_eq!(body["data"]["message"]["subject"], "first-subject");

    send_mail(&s, addr, "second-subject");
    let got = rx.wait_for(2, Duration::from_secs(10));
    let second = &got[1];
    assert_eq!(
        second.json()["data"]["message"]["subject"],
        "second-subject"
    );
    assert_eq!(
        second.header("x-mailiy-signature"),
        sign(secret, &second.body)
    );
    assert_ne!(second.header("x-mailiy-delivery"), delivery);

    // Delivered rows show up as such; nothing else is sent.
    let id = w["id"].as_str().unwrap();
    let list = wait_until("delivered rows", Duration::from_secs(5), || {
        let (_, v) = s.get(&format!("/v1/webhooks/{id}/deliveries"));
        let all = v.as_array().cloned().unwrap_or_default();
        (all.len() == 2 && all.iter().all(|d| d["state"] == "delivered")).then_some(all)
    });
    assert_eq!(list[0]["id"], second.header("x-mailiy-delivery"));
    assert_eq!(list[0]["attempts"], 1);
    assert_eq!(list[0]["lastStatus"], 200);
    assert_eq!(list[0]["nextAttemptAt"], Value::Null);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.requests().len(), 2);
    let log = s.log.lock().unwrap().clone();
    assert!(!log.contains("first-subject"), "no mail content in logs");
}

#[test]
fn mailbox_events_reach_an_unfiltered_webhook() {
    let rx = Receiver::start(204);
    let s = Server::start(&[]);
    webhook(
        &s,
        json!({"url": rx.url("/"), "events": ["mailbox.created", "mailbox.deleted"]}),
    );
    let m = s.mailbox(json!({}));
    let id = m["id"].as_str().unwrap();
    assert_eq!(s.delete(&format!("/v1/mailbox/{id}")), 204);
    let got = rx.wait_for(2, Duration::from_secs(10));
    let mut seen: Vec<(String, Value)> = got
        .iter()
        .map(|r| {
            (
                r.header("x-mailiy-event").to_string(),
                r.json()["data"].clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(seen[0].0, "mailbox.deleted");
    assert_eq!(seen[0].1, json!({"mailboxId": id}));
    assert_eq!(seen[1].0, "mailbox.created");
    assert_eq!(seen[1].1["mailbox"]["id"], id);
}

#[test]
fn a_mailbox_filter_limits_the_webhook() {
    let rx = Receiver::start(200);
    let s = Server::start(&[]);
    let a = s.mailbox(json!({}));
    let b = s.mailbox(json!({}));
    webhook(&s, json!({"url": rx.url("/a"), "mailboxId": a["address"]}));
    send_mail(&s, b["address"].as_str().unwrap(), "to-b");
    send_mail(&s, a["address"].as_str().unwrap(), "to-a");
    let got = rx.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].json()["data"]["mailboxId"], a["id"]);
    assert_eq!(got[0].json()["data"]["message"]["subject"], "to-a");
    // Mail to B was queued before A's (if at all), so by now it would have arrived.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rx.requests().len(), 1, "{:?}", rx.requests());
}

#[test]
fn a_failed_delivery_is_retried_after_a_restart() {
    let rx = Receiver::start(500);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let m = s.mailbox(json!({}));
    let w = webhook(&s, json!({"url": rx.url("/")}));
    let hook = w["id"].as_str().unwrap().to_string();
    send_mail(&s, m["address"].as_str().unwrap(), "retried");
    // First attempt at once, the second about 1 s later (backoff base, +-20%).
    rx.wait_for(2, Duration::from_secs(5));
    // Stop once the second failure is recorded, so attempts count exactly.
    wait_until("two recorded attempts", Duration::from_secs(5), || {
        let (_, v) = s.get(&format!("/v1/webhooks/{hook}/deliveries"));
        v.as_array()
            .and_then(|a| a.first().cloned())
            .filter(|d| d["attempts"] == 2 && d["state"] == "pending")
    });
    assert!(s.stop(), "clean stop");
    rx.set_status(200);

    let started = Instant::now();
    let s = Server::start_in(dir.path(), &[]);
    // The third attempt was due about 2 s after the second; the queue survived the restart.
    let got = wait_until(
        "the delivery after the restart",
        Duration::from_secs(15),
        || {
            let got = rx.requests();
            got.iter().any(|r| r.answered == 200).then_some(got)
        },
    );
    eprintln!(
        "delivered {:?} after the restart, {} attempts",
        started.elapsed(),
        got.len()
    );
    assert!(got.len() >= 3, "{got:?}");
    let id = got[0].header("x-mailiy-delivery");
    assert!(
        got.iter().all(|r| r.header("x-mailiy-delivery") == id),
        "one delivery id across all attempts"
    );
    assert!(got.iter().all(|r| r.body == got[0].body), "the same bytes");
    let d = wait_until("the delivered row", Duration::from_secs(5), || {
        let (_, v) = s.get(&format!("/v1/webhooks/{hook}/deliveries"));
        v.as_array()
            .and_then(|a| a.first().cloned())
            .filter(|d| d["state"] == "delivered")
    });
    assert_eq!(d["id"], id);
    assert_eq!(d["attempts"], got.len());
}

#[test]
fn a_delivery_is_given_up_after_the_attempt_cap() {
    let rx = Receiver::start(500);
    let s = Server::start(&[]);
    let m = s.mailbox(json!({}));
    let w = webhook(&s, json!({"url": rx.url("/")}));
    let hook = w["id"].as_str().unwrap();
    let started = Instant::now();
    send_mail(&s, m["address"].as_str().unwrap(), "doomed");
    // Five attempts: at 0, then after 1, 2, 4 and 8 s (+-20%): done within about 18 s.
    let d = wait_until("the failed state", Duration::from_secs(25), || {
        let (_, v) = s.get(&format!("/v1/webhooks/{hook}/deliveries"));
        v.as_array()
            .and_then(|a| a.first().cloned())
            .filter(|d| d["state"] == "failed")
    });
    eprintln!("given up after {:?}", started.elapsed());
    assert_eq!(d["attempts"], 5, "{d}");
    assert_eq!(d["lastStatus"], 500, "{d}");
    assert_eq!(d["lastError"], "HTTP 500", "{d}");
    assert_eq!(d["nextAttemptAt"], Value::Null, "{d}");
    assert!(d["finishedAt"].is_string(), "{d}");
    let got = rx.requests();
    assert_eq!(got.len(), 5);
    assert!(got
        .iter()
        .all(|r| r.header("x-mailiy-delivery") == d["id"].as_str().unwrap()));
    // The log is read by a thread of the fixture: give it a moment.
    wait_until("the warning in the log", Duration::from_secs(5), || {
        s.log.lock().unwrap().contains("giving up").then_some(())
    });
}

#[test]
fn redirects_are_not_followed() {
    let rx = Receiver::start(302);
    let s = Server::start(&[]);
    let w = webhook(
        &s,
        json!({"url": rx.url("/moved"), "events": ["mailbox.created"]}),
    );
    let hook = w["id"].as_str().unwrap();
    s.mailbox(json!({}));
    let d = wait_until("the first attempt", Duration::from_secs(10), || {
        let (_, v) = s.get(&format!("/v1/webhooks/{hook}/deliveries"));
        v.as_array()
            .and_then(|a| a.first().cloned())
            .filter(|d| d["attempts"] == 1)
    });
    assert_eq!(d["state"], "pending", "{d}");
    assert_eq!(d["lastStatus"], 302, "{d}");
    assert!(
        d["lastError"].as_str().unwrap().contains("not followed"),
        "{d}"
    );
    assert!(d["nextAttemptAt"].is_string(), "{d}");
    assert_eq!(rx.requests().len(), 1);
}

/// The store's query count, from `/metrics`.
fn store_queries(s: &Server) -> u64 {
    let (status, text, _) = s.get_bytes("/metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("mailiy_store_queries_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no mailiy_store_queries_total in\n{text}")) as u64
}

/// Store queries between two `/metrics` scrapes `quiet` apart; the first scrape's own
/// `totals` read is the only one an idle engine makes.
fn queries_while_idle(s: &Server, quiet: Duration) -> u64 {
    let before = store_queries(s);
    std::thread::sleep(quiet);
    store_queries(s) - before
}

/// Waits (bounded) until what was started is over: one short quiet spell.
fn settle(s: &Server) {
    wait_until("a quiet engine", Duration::from_secs(10), || {
        (queries_while_idle(s, Duration::from_millis(300)) == 1).then_some(())
    });
}

/// The newest delivery of a webhook, if it has any.
fn newest_delivery(s: &Server, hook: &str) -> Option<Value> {
    let (_, v) = s.get(&format!("/v1/webhooks/{hook}/deliveries"));
    v.as_array().and_then(|a| a.first().cloned())
}

#[test]
fn idle_webhooks_make_no_store_queries() {
    let rx = Receiver::start(200);
    let s = Server::start(&[]);
    // The start-up reads (the worker's first look at the queue, expiry's) come first.
    settle(&s);
    assert_eq!(
        queries_while_idle(&s, Duration::from_secs(3)),
        1,
        "with no webhook"
    );

    let m = s.mailbox(json!({}));
    let w = webhook(&s, json!({"url": rx.url("/")}));
    let hook = w["id"].as_str().unwrap();
    send_mail(&s, m["address"].as_str().unwrap(), "idle");
    rx.wait_for(1, Duration::from_secs(10));
    wait_until("the delivered row", Duration::from_secs(5), || {
        newest_delivery(&s, hook).filter(|d| d["state"] == "delivered")
    });
    // The worker looks at the queue once more after its last delivery, then waits.
    settle(&s);
    assert_eq!(
        queries_while_idle(&s, Duration::from_secs(3)),
        1,
        "with every delivery finished"
    );
}

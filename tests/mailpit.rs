//! Mailpit's API through the real binary: the npm `mailpit-api` client, unchanged, over its
//! whole surface, at the root and from two parallel workers on two per-mailbox prefixes, and
//! its four message tools against a real spamd and relay; the token as basic auth's password;
//! the guards of `/v1`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::security::raw_request;

fn clients_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        dir.join("node_modules/mailpit-api").exists(),
        "mailpit-api is missing: run scripts/setup.sh test (npm ci in tests/clients)"
    );
    dir
}

/// Runs tests/clients/mailpit_api.mjs against `base` (a URL, maybe a prefix).
fn mailpit_api(s: &Server, base: &str, worker: &str, token: Option<&str>) -> String {
    let mut cmd = Command::new("node");
    cmd.current_dir(clients_dir())
        .arg("mailpit_api.mjs")
        .env("MAILIY_URL", base)
        .env("MAILPIT_WORKER", worker);
    if let Some(t) = token {
        cmd.env("MAILIY_TOKEN", t);
    }
    run_tool(
        &format!("mailpit-api ({worker})"),
        Some(s),
        &mut cmd,
        Duration::from_secs(60),
    )
}

const STEPS: usize = 11;

#[test]
fn mailpit_api_client_passes_its_whole_surface_at_the_root() {
    let s = Server::start(&[]);
    let out = mailpit_api(&s, &s.url(""), "root", None);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        STEPS,
        "{out}"
    );
    // The root saw each recipient's mailbox, made on the fly.
    let (_, boxes) = s.get("/v1/mailbox");
    let addresses: Vec<&str> = boxes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["address"].as_str())
        .collect();
    assert!(
        addresses.contains(&"root-user@example.test"),
        "{addresses:?}"
    );
}

/// Two workers at once, each on its own prefix, each deleting all of "its" mail more than
/// once: each sees exactly its own counts throughout, so neither saw the other's mail.
#[test]
fn two_parallel_workers_on_two_prefixes_see_only_their_own_mail() {
    let s = Server::start(&[]);
    // Mail of a third inbox that both workers' delete-alls must leave alone.
    s.mailbox(json!({"localPart": "bystander"}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let r = c.deliver(
        "a@b.test",
        &["bystander@mailiy.localhost"],
        &simple_message("a@b.test", "bystander@mailiy.localhost", "stays", "x"),
    );
    assert_eq!(code(&r), 250);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ["w1", "w2"]
            .into_iter()
            .map(|w| {
                let base = s.url(&format!("/m/{w}@mailiy.localhost"));
                let s = &s;
                scope.spawn(move || mailpit_api(s, &base, w, None))
            })
            .collect();
        for w in workers {
            let out = w.join().expect("worker");
            assert_eq!(
                out.lines().filter(|l| l.starts_with("ok ")).count(),
                STEPS,
                "{out}"
            );
        }
    });
    assert_eq!(subjects(&s, "bystander@mailiy.localhost"), vec!["stays"]);
    // And by hand: mail sent under one prefix is seen there only; delete-all in the other
    // leaves it.
    let send = |prefix: &str, subject: &str| {
        let (st, v) = raw_json(
            &s,
            "POST",
            &format!("{prefix}/api/v1/send"),
            &json!({
                "From": {"Email": "a@example.test"}, "To": [{"Email": "x@example.test"}],
                "Subject": subject,
            }),
        );
        assert_eq!(st, 200, "{v}");
    };
    send("/m/one@mailiy.localhost", "for one");
    send("/m/two@mailiy.localhost", "for two");
    let (st, _) = raw_json(
        &s,
        "DELETE",
        "/m/two@mailiy.localhost/api/v1/messages",
        &json!({}),
    );
    assert_eq!(st, 200);
    let (_, one) = s.get("/m/one@mailiy.localhost/api/v1/messages");
    assert_eq!(one["total"], 1, "{one}");
    assert_eq!(one["messages"][0]["Subject"], "for one");
    let (_, two) = s.get("/m/two@mailiy.localhost/api/v1/messages");
    assert_eq!(two["total"], 0, "{two}");
    let (_, root) = s.get("/api/v1/messages");
    assert_eq!(root["total"], 2, "the root sees every live mailbox: {root}");
    // An id of another mailbox is not found under a prefix.
    let id = one["messages"][0]["ID"].as_str().unwrap().to_string();
    let (st, _) = s.get(&format!("/m/two@mailiy.localhost/api/v1/message/{id}"));
    assert_eq!(st, 404);
    let (st, _) = s.get(&format!("/api/v1/message/{id}"));
    assert_eq!(st, 200);
}

fn raw_json(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = ureq::request(method, &s.url(path)).send_json(body.clone());
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let st = r.status();
            let text = r.into_string().unwrap_or_default();
            (
                st,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

/// LAN mode: the client's basic auth carries the token as its password; without it, 401.
#[test]
fn lan_mode_takes_the_token_as_basic_auth_password() {
    let s = Server::start_custom_http("0.0.0.0:0", &[]);
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let token = token.trim().to_string();
    let local: SocketAddr = format!("127.0.0.1:{}", s.http.port()).parse().unwrap();
    let host = local.to_string();
    for path in [
        "/api/v1/messages",
        "/api/v1/message/latest",
        "/view/latest.html",
        "/m/w@mailiy.localhost/api/v1/messages",
        "/api/v1/info",
    ] {
        let (st, body) = raw_request(local, "GET", path, &[("Host", &host)], "");
        assert_eq!(st, 401, "{path}: {body}");
        // "any:nope"
        let (st, _) = raw_request(
            local,
            "GET",
            path,
            &[("Host", &host), ("Authorization", "Basic YW55Om5vcGU=")],
            "",
        );
        assert_eq!(st, 401, "{path} with a wrong password");
    }
    let (_, boxes) = raw_request(
        local,
        "GET",
        "/v1/mailbox",
        &[
            ("Host", &host),
            ("Authorization", &format!("Bearer {token}")),
        ],
        "",
    );
    assert!(
        !boxes.contains("w@mailiy.localhost"),
        "a refused call made no mailbox: {boxes}"
    );
    let out = mailpit_api(&s, &format!("http://{local}"), "lan", Some(&token));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        STEPS,
        "{out}"
    );
}

/// As /v1: a foreign page's Origin and a foreign Host are refused, a huge body on send is 413
/// before it is read, at the root and under a prefix.
#[test]
fn mailpit_routes_refuse_foreign_origins_bad_hosts_and_huge_bodies() {
    let s = Server::start(&[]);
    let host = s.http.to_string();
    for path in [
        "/api/v1/messages",
        "/m/w@mailiy.localhost/api/v1/messages",
        "/view/latest.txt",
        "/livez",
    ] {
        let (st, _) = raw_request(
            s.http,
            "GET",
            path,
            &[("Host", &host), ("Origin", "http://evil.test")],
            "",
        );
        assert_eq!(st, 403, "{path} from a foreign origin");
        let (st, _) = raw_request(s.http, "GET", path, &[("Host", "evil.test")], "");
        assert_eq!(st, 403, "{path} with a foreign Host");
    }
    let (st, _) = raw_request(
        s.http,
        "DELETE",
        "/api/v1/messages",
        &[("Host", &host), ("Origin", "http://evil.test")],
        "",
    );
    assert_eq!(st, 403, "a foreign page cannot delete all");
    for path in ["/api/v1/send", "/m/w@mailiy.localhost/api/v1/send"] {
        let mut stream = std::net::TcpStream::connect(s.http).unwrap();
        use std::io::{Read, Write};
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            8 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 413"), "{path}: {out}");
    }
    let (_, boxes) = s.get("/v1/mailbox");
    assert_eq!(boxes, json!([]), "no refused call made a mailbox");
    let (st, body) = raw_request(
        s.http,
        "GET",
        "/api/v1/message/msg_nope",
        &[("Host", &host)],
        "",
    );
    assert_eq!(
        (st, body.as_str()),
        (404, "message not found"),
        "Mailpit's plain-text error"
    );
    let (st, body) = raw_request(s.http, "GET", "/livez", &[("Host", &host)], "");
    assert_eq!((st, body.as_str()), (200, "ok"));
}

/// A real WebSocket client (the `ws` package) hears `new` within 50 ms of the SMTP 250, at the
/// root for every mailbox and under a prefix for that mailbox only; then `update` and `delete`.
#[test]
fn websocket_clients_get_new_within_50_ms_and_only_their_mailbox_under_a_prefix() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "other"}));
    // The prefix's mailbox is made by the stream's first call.
    let mut cmd = Command::new("node");
    cmd.current_dir(clients_dir())
        .arg("mailpit_events.mjs")
        .env("MAILIY_URL", s.url(""))
        .env("MAILIY_PORT", s.smtp.port().to_string())
        .env("MAILIY_MINE", "mine@mailiy.localhost")
        .env("MAILIY_OTHER", "other@mailiy.localhost");
    let out = run_tool(
        "mailpit events",
        Some(&s),
        &mut cmd,
        Duration::from_secs(30),
    );
    assert!(out.contains("ok events"), "{out}");
}

/// The requests `cypress-mailpit` (2.x, src/MailpitCommands.ts) makes, replayed as it makes
/// them (methods, paths, query strings, bodies, basic auth when set), with the checks its
/// commands and their users make on the answers. Cypress's `cy.request` fails on any non-2xx,
/// so every status is checked to be 2xx.
#[test]
fn cypress_mailpit_requests_replayed_with_their_checks() {
    let s = Server::start(&["--require-token"]);
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let auth = format!("Basic {}", base64_of(&format!("cypress:{}", token.trim())));
    let call = |method: &str, path: &str, body: Option<Value>| -> (u16, String) {
        let req = ureq::request(method, &s.url(path)).set("Authorization", &auth);
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                (r.status(), r.into_string().unwrap_or_default())
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    };
    let json_of = |(st, body): (u16, String)| -> Value {
        assert!((200..300).contains(&st), "{st}: {body}");
        serde_json::from_str(&body).expect("JSON")
    };
    // mailpitDeleteAllEmails
    assert_eq!(call("DELETE", "/api/v1/messages", None).0, 200);
    // mailpitSendMail with its defaults (Bcc, Cc, ReplyTo included).
    let sent = json_of(call(
        "POST",
        "/api/v1/send",
        Some(json!({
            "Attachments": [], "Bcc": ["bcc@example.com"], "Cc": [{"Email": "cc@example.com", "Name": "CC"}],
            "From": {"Email": "from@example.com", "Name": "From"}, "HTML": "<p>hello from mailpit</p>",
            "Headers": {}, "ReplyTo": [{"Email": "replyto@example.com", "Name": "ReplyTo"}],
            "Subject": "Hello Mailpit", "Tags": [], "Text": "hello from mailpit",
            "To": [{"Email": "jane@example.com", "Name": "Jane"}],
        })),
    ));
    let id = sent["ID"].as_str().expect("ID").to_string();
    // mailpitGetAllMails
    let all = json_of(call("GET", "/api/v1/messages?start=0&limit=50", None));
    assert_eq!(all["messages_count"], 1);
    assert_eq!(all["messages"][0]["ID"], id.as_str());
    // mailpitHasEmailsBySubject / mailpitGetEmailsBySubject: search with qs query, start, limit.
    let by_subject = json_of(call(
        "GET",
        "/api/v1/search?query=subject%3AHello%20Mailpit&start=0&limit=50",
        None,
    ));
    assert!(
        by_subject["messages_count"].as_u64().unwrap() > 0,
        "{by_subject}"
    );
    // mailpitHasEmailsByTo / mailpitNotHasEmailsByTo
    let by_to = json_of(call(
        "GET",
        "/api/v1/search?query=to%3Ajane%40example.com&start=0&limit=50",
        None,
    ));
    assert!(by_to["messages_count"].as_u64().unwrap() > 0, "{by_to}");
    let not_to = json_of(call(
        "GET",
        "/api/v1/search?query=to%3Anobody%40example.com&start=0&limit=50",
        None,
    ));
    assert_eq!(not_to["messages_count"], 0);
    // mailpitGetMail (latest) and the child commands on it.
    let mail = json_of(call("GET", "/api/v1/message/latest", None));
    assert_eq!(mail["ID"], id.as_str());
    assert_eq!(mail["Subject"], "Hello Mailpit");
    assert_eq!(mail["From"]["Address"], "from@example.com");
    assert_eq!(mail["To"][0]["Address"], "jane@example.com");
    assert_eq!(mail["Attachments"], json!([]));
    // mailpitGetMailHTMlBody / mailpitGetMailTextBody
    let (st, html) = call("GET", &format!("/view/{id}.html"), None);
    assert_eq!(st, 200);
    assert!(html.contains("hello from mailpit"), "{html}");
    let (st, text) = call("GET", &format!("/view/{id}.txt"), None);
    assert_eq!((st, text.trim()), (200, "hello from mailpit"));
    // mailpitSetStatusAsUnRead / AsRead (IDs), and for all (IDs: []).
    let (st, body) = call(
        "PUT",
        "/api/v1/messages",
        Some(json!({"IDs": [id], "Read": false})),
    );
    assert_eq!((st, body.as_str()), (200, "ok"));
    assert_eq!(
        json_of(call("GET", "/api/v1/messages?start=0&limit=50", None))["unread"],
        1
    );
    assert_eq!(
        call(
            "PUT",
            "/api/v1/messages",
            Some(json!({"IDs": [], "Read": true}))
        )
        .0,
        200
    );
    assert_eq!(
        json_of(call("GET", "/api/v1/messages?start=0&limit=50", None))["unread"],
        0
    );
    // mailpitDeleteEmailsBySearch, then mailpitNotHasEmailsBySearch.
    assert_eq!(
        call("DELETE", "/api/v1/search?query=subject%3AHello", None).0,
        200
    );
    let gone = json_of(call(
        "GET",
        "/api/v1/search?query=subject%3AHello&start=0&limit=50",
        None,
    ));
    assert_eq!(gone["messages_count"], 0);
    // Without the credentials, nothing.
    let (st, _) = match ureq::get(&s.url("/api/v1/messages")).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), ()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(st, 401);
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The four message tools through the npm client, against a real spamd, a site on loopback and
/// a second server as the relay: each answers in Mailpit's shape, and the released message
/// arrives there.
#[test]
fn mailpit_api_client_runs_the_message_tools() {
    let spamd = crate::checks::Spamd::start();
    let site = crate::checks::Site::start();
    let target = Server::start(&["--catch-all", "anon"]);
    let s = Server::start(&[
        "--link-check-allow",
        "loopback",
        "--spamassassin",
        &spamd.addr.to_string(),
        "--smtp-relay",
        &target.smtp.to_string(),
        "--smtp-relay-allow",
        "*@dest.test",
    ]);
    let mut cmd = Command::new("node");
    cmd.current_dir(clients_dir())
        .arg("mailpit_tools.mjs")
        .env("MAILIY_URL", s.url(""))
        .env("LINK_OK", site.url("/ok"))
        .env("LINK_MISSING", site.url("/missing"))
        .env("RELEASE_TO", "qa@dest.test");
    let out = run_tool(
        "mailpit-api tools",
        Some(&s),
        &mut cmd,
        Duration::from_secs(90),
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        4,
        "{out}"
    );
    let arrived = eventually("the released message at the relay", || {
        let (_, list) = target.get("/v1/mailbox/qa@dest.test/messages");
        list.as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!(arrived[0]["subject"], "Tools", "{arrived:?}");
}

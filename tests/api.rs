//! The HTTP API over real HTTP: mailboxes, messages, errors.

use crate::common::*;

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn health_reports_the_smtp_address() {
    let s = Server::start(&[]);
    let (status, v) = s.get("/v1/health");
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["smtp"], s.smtp.to_string());
}

#[test]
fn a_mailbox_is_one_post_away_with_sane_defaults() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({}));
    let addr = m["address"].as_str().unwrap();
    let (local, domain) = addr.split_once('@').unwrap();
    assert_eq!(domain, "mailiy.localhost");
    assert_eq!(local.split('-').count(), 3, "readable: {local}");
    assert!(m["id"].as_str().unwrap().starts_with("mbx_"));
    assert_eq!(m["tier"], "anon");
    assert_eq!(m["origin"], "local");
    assert_eq!(m["messageCount"], 0);
    assert_eq!(
        m["limits"],
        json!({"maxMessageBytes": 5242880, "maxStorageBytes": 26214400, "maxTtlMinutes": 60})
    );
    let created = m["createdAt"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == 24,
        "RFC 3339 with ms: {created}"
    );
    // An empty body works too (all fields optional).
    let r = ureq::post(&s.url("/v1/mailbox")).call().unwrap();
    assert_eq!(r.status(), 201);
}

#[test]
fn creation_validates_its_input() {
    let s = Server::start(&[]);
    let (st, v) = s.post("/v1/mailbox", json!({"tier": "gold"}));
    assert_eq!((st, error_code(&v)), (422, "invalid_value"), "{v}");
    let (st, _) = s.post("/v1/mailbox", json!({"ttlMinutes": 61}));
    assert_eq!(st, 422, "anon TTL is at most 60 minutes");
    let (st, _) = s.post("/v1/mailbox", json!({"tier": "free", "ttlMinutes": 1440}));
    assert_eq!(st, 201);
    let (st, _) = s.post("/v1/mailbox", json!({"localPart": "../etc"}));
    assert_eq!(st, 422);
    let (st, _) = s.post("/v1/mailbox", json!({"expiresAt": "2001-01-01T00:00:00Z"}));
    assert_eq!(st, 422, "expiry in the past");
    let (st, _) = s.post("/v1/mailbox", json!({"unknownField": 1}));
    assert_eq!(st, 422);
    let r = ureq::post(&s.url("/v1/mailbox"))
        .set("Content-Type", "application/json")
        .send_string("{not json");
    let Err(ureq::Error::Status(400, r)) = r else {
        panic!("bad JSON must be 400")
    };
    let v: Value = r.into_json().unwrap();
    assert_eq!(error_code(&v), "bad_request");
    // Taken addresses conflict.
    s.mailbox(json!({"localPart": "dup"}));
    let (st, v) = s.post("/v1/mailbox", json!({"localPart": "DUP"}));
    assert_eq!((st, error_code(&v)), (409, "address_taken"));
}

#[test]
fn mailboxes_are_found_by_id_or_address_and_listed_newest_first() {
    let s = Server::start(&[]);
    let a = s.mailbox(json!({"localPart": "first"}));
    let b = s.mailbox(json!({"localPart": "second", "domain": "Example.TEST"}));
    assert_eq!(b["address"], "second@example.test");
    let (st, v) = s.get(&format!("/v1/mailbox/{}", a["id"].as_str().unwrap()));
    assert_eq!((st, &v["address"]), (200, &json!("first@mailiy.localhost")));
    let (st, v) = s.get("/v1/mailbox/FIRST%40Mailiy.localhost");
    assert_eq!((st, &v["id"]), (200, &a["id"]));
    let (_, list) = s.get("/v1/mailbox");
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, vec![b["id"].clone(), a["id"].clone()]);
}

#[test]
fn deleting_a_mailbox_destroys_it_and_its_mail() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "gone"}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    assert_eq!(
        code(&c.deliver(
            "a@b.test",
            &["gone@mailiy.localhost"],
            &simple_message("a@b.test", "gone@mailiy.localhost", "s", "b")
        )),
        250
    );
    let mid = s.messages("gone@mailiy.localhost")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = m["id"].as_str().unwrap();
    assert_eq!(s.delete(&format!("/v1/mailbox/{id}")), 204);
    let (st, v) = s.get(&format!("/v1/mailbox/{id}"));
    assert_eq!((st, error_code(&v)), (404, "mailbox_not_found"));
    let (st, _) = s.get(&format!("/v1/mailbox/{id}/messages/{mid}/raw"));
    assert_eq!(st, 404);
    assert_eq!(s.delete(&format!("/v1/mailbox/{id}")), 404);
    // The address is free again, and refused at RCPT meanwhile.
    assert_eq!(code(&c.cmd("MAIL FROM:<a@b.test>")), 250);
    assert_eq!(code(&c.cmd("RCPT TO:<gone@mailiy.localhost>")), 550);
}

#[test]
fn messages_are_listed_read_and_marked_seen() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"localPart": "reader"}));
    let addr = "reader@mailiy.localhost";
    let mut c = s.smtp();
    c.cmd("EHLO t");
    for i in 0..3 {
        let r = c.deliver(
            "a@b.test",
            &[addr],
            &simple_message("a@b.test", addr, &format!("n{i}"), "body"),
        );
        assert_eq!(code(&r), 250);
    }
    let list = s.messages(addr);
    assert_eq!(list.len(), 3);
    let ids: Vec<&str> = list.iter().map(|m| m["id"].as_str().unwrap()).collect();
    // Newest first; `after` gives only newer ones; `limit` bounds.
    let (_, newer) = s.get(&format!(
        "/v1/mailbox/{}/messages?after={}",
        enc(addr),
        ids[2]
    ));
    assert_eq!(newer.as_array().unwrap().len(), 2);
    let (_, one) = s.get(&format!("/v1/mailbox/{}/messages?limit=1", enc(addr)));
    assert_eq!(one.as_array().unwrap()[0]["id"], ids[0]);
    let (st, _) = s.get(&format!("/v1/mailbox/{}/messages?limit=0", enc(addr)));
    assert_eq!(st, 422);
    let (st, v) = s.get(&format!(
        "/v1/mailbox/{}/messages?after=msg_unknown",
        enc(addr)
    ));
    assert_eq!((st, error_code(&v)), (404, "message_not_found"));

    assert_eq!(list[0]["seen"], false);
    let (_, mb) = s.get(&format!("/v1/mailbox/{}", m["id"].as_str().unwrap()));
    assert_eq!(
        (mb["messageCount"].as_u64(), mb["unreadCount"].as_u64()),
        (Some(3), Some(3))
    );
    let (st, full) = s.get(&format!("/v1/mailbox/{}/messages/{}", enc(addr), ids[0]));
    assert_eq!(st, 200);
    assert_eq!(full["seen"], true);
    let (_, mb) = s.get(&format!("/v1/mailbox/{}", enc(addr)));
    assert_eq!(mb["unreadCount"], 2);
    let (st, raw, ct) = s.get_bytes(&format!(
        "/v1/mailbox/{}/messages/{}/raw",
        enc(addr),
        ids[0]
    ));
    assert_eq!((st, ct.as_str()), (200, "message/rfc822"));
    assert_eq!(raw.len() as u64, full["size"].as_u64().unwrap());

    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}/messages/{}", enc(addr), ids[0])),
        204
    );
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}/messages/{}", enc(addr), ids[0])),
        404
    );
    assert_eq!(s.messages(addr).len(), 2);
    let (_, all) = s.get("/v1/messages");
    assert_eq!(all["count"], 2);
}

#[test]
fn unknown_routes_and_ids_get_json_errors() {
    let s = Server::start(&[]);
    let (st, v) = s.get("/v1/nope");
    assert_eq!((st, error_code(&v)), (404, "not_found"));
    let (st, v) = s.get("/v1/mailbox/mbx_doesnotexist/messages");
    assert_eq!((st, error_code(&v)), (404, "mailbox_not_found"));
    let m = s.mailbox(json!({}));
    let (st, v) = s.get(&format!(
        "/v1/mailbox/{}/messages/msg_x",
        m["id"].as_str().unwrap()
    ));
    assert_eq!((st, error_code(&v)), (404, "message_not_found"));
}

#[test]
fn oversized_request_bodies_are_refused() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    // A body declared over the limit is refused before any of it is read. (Sending the 2 MiB
    // as well raced the server's close: the client could get a broken pipe, or a reset that
    // discards the 413, instead of the answer.)
    let mut c = std::net::TcpStream::connect(s.http).expect("connect");
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        c,
        "POST /v1/mailbox HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{\"localPart\":\"aaaa",
        s.http,
        2 * 1024 * 1024
    )
    .expect("request head");
    let mut answer = [0u8; 512];
    let n = c.read(&mut answer).expect("an answer before the body");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

#[test]
fn a_message_the_parser_cannot_read_is_still_stored_and_viewable() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "odd"}));
    let addr = "odd@mailiy.localhost";
    let mut c = s.smtp();
    c.cmd("EHLO t");
    // An empty message: mail-parser has nothing to parse.
    c.cmd("MAIL FROM:<a@b.test>");
    c.cmd(&format!("RCPT TO:<{addr}>"));
    assert_eq!(code(&c.cmd("DATA")), 354);
    assert_eq!(code(&c.cmd(".")), 250);
    let list = s.messages(addr);
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].as_str().unwrap();
    let (st, full) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(addr)));
    assert_eq!(st, 200, "{full}");
    assert!(
        full["parseNote"].as_str().is_some_and(|n| !n.is_empty()),
        "a note says why: {full}"
    );
    let (st, raw, _) = s.get_bytes(&format!("/v1/mailbox/{}/messages/{id}/raw", enc(addr)));
    assert_eq!((st, raw.len()), (200, 0));
}

#[test]
fn html_is_sanitized_and_cid_images_point_at_their_attachment() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "html"}));
    let addr = "html@mailiy.localhost";
    let msg = "From: A <a@b.test>\r\nTo: html@mailiy.localhost\r\nSubject: styled\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\nContent-Type: text/html\r\n\r\n\
<p style=\"color:red;position:fixed;background:url(http://127.0.0.1:9/x)\" onclick=\"alert(1)\">Hi</p>\
<img src=\"http://127.0.0.1:9/pixel.gif\"><img src=\"cid:logo@x\"><script>alert(1)</script>\
<a href=\"https://example.test/verify\">verify</a>\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--rel--\r\n";
    let mut c = s.smtp();
    c.cmd("EHLO t");
    assert_eq!(code(&c.deliver("a@b.test", &[addr], msg)), 250);
    let id = s.messages(addr)[0]["id"].as_str().unwrap().to_string();
    let (_, full) = s.get(&format!("/v1/mailbox/{}/messages/{id}", enc(addr)));
    let html = full["html"].as_str().unwrap();
    assert!(
        html.contains("color:red") || html.contains("color: red"),
        "{html}"
    );
    for bad in ["<script", "onclick", "127.0.0.1:9", "position", "url("] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert_eq!(full["remoteContentBlocked"], true);
    assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
    let att = &full["attachments"][0];
    assert_eq!(att["contentType"], "image/png");
    let aid = att["id"].as_str().unwrap();
    assert!(
        html.contains(&format!("/messages/{id}/attachments/{aid}")),
        "cid rewritten: {html}"
    );
    let (st, bytes, ct) = s.get_bytes(&format!(
        "/v1/mailbox/{}/messages/{id}/attachments/{aid}",
        enc(addr)
    ));
    assert_eq!((st, ct.as_str()), (200, "image/png"));
    assert_eq!(&bytes[..4], b"\x89PNG");
}

#[test]
fn patch_extends_a_mailbox_within_its_tier() {
    let s = Server::start(&[]);
    let m = s.mailbox(json!({"ttlMinutes": 10}));
    let id = m["id"].as_str().unwrap();
    let patch = |body: Value| s.patch(&format!("/v1/mailbox/{id}"), body);
    let (st, v) = patch(json!({"extendMinutes": 20}));
    assert_eq!(st, 200, "{v}");
    let before = m["expiresAt"].as_str().unwrap();
    let after = v["expiresAt"].as_str().unwrap();
    assert!(after > before, "{before} -> {after}");
    let (st, v) = patch(json!({"extendMinutes": 60}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("invalid_value")),
        "anon lives at most 60 min from now"
    );
    let (st, _) = patch(json!({}));
    assert_eq!(st, 422);
    let (st, _) = patch(json!({"expiresAt": "not a time"}));
    assert_eq!(st, 422);
}

#[test]
fn metrics_count_what_happened() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "m"}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    assert_eq!(
        code(&c.deliver(
            "a@b.test",
            &["m@mailiy.localhost"],
            &simple_message("a@b.test", "m@mailiy.localhost", "x", "y")
        )),
        250
    );
    c.cmd("MAIL FROM:<a@b.test>");
    c.cmd("RCPT TO:<nobody@mailiy.localhost>");
    let (st, text, ct) = s.get_bytes("/metrics");
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/plain"));
    let text = String::from_utf8(text).unwrap();
    for line in [
        "mailiy_messages_received_total 1",
        "mailiy_messages_rejected_total{reason=\"unknown_recipient\"} 1",
        "mailiy_mailboxes_live 1",
        "mailiy_messages_stored 1",
        "mailiy_sse_clients 0",
        "mailiy_webhook_failures_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// Every `.route("…", method(…))` in the API's source, as (METHOD, openapi-style path).
fn routes_in_source() -> std::collections::BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut out = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        for chunk in src.split(".route(").skip(1) {
            let Some(rest) = chunk.trim_start().strip_prefix('"') else {
                continue;
            };
            let (route, rest) = rest.split_once('"').unwrap();
            // The handlers end at the route call's closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, ch)| {
                    depth += match ch {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            for method in ["get", "post", "patch", "put", "delete"] {
                let handlers = &rest[..end];
                // `get(` as a call of its own, not the tail of a longer name like `budget(`.
                let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                    let before = handlers
                        .as_bytes()
                        .get(i.wrapping_sub(1))
                        .copied()
                        .unwrap_or(b' ');
                    !before.is_ascii_alphanumeric() && before != b'_'
                });
                if called {
                    out.insert((method.to_uppercase(), route.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn openapi_describes_exactly_the_routes_that_exist() {
    let s = Server::start(&[]);
    let (st, spec) = s.get("/v1/openapi.json");
    assert_eq!(st, 200);
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let in_code = routes_in_source();
    assert!(
        in_code.len() >= 15,
        "the route scan found too little: {in_code:?}"
    );
    assert_eq!(documented, in_code, "openapi.json and the router disagree");
    // And each documented route answers as a route (not the fallback, not 405).
    for (method, path) in &documented {
        if path == "/v1/events" {
            continue; // a stream that does not end: covered by tests/events.rs
        }
        let url = s.url(
            &path
                .replace("{id}", "mbx_none")
                .replace("{mid}", "msg_none")
                .replace("{aid}", "att_none"),
        );
        let body = if method == "GET" || method == "DELETE" {
            None
        } else {
            Some(json!({}))
        };
        let req = ureq::request(method, &url);
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let (status, v): (u16, Value) = match r {
            Ok(r) => (r.status(), Value::Null),
            Err(ureq::Error::Status(c, r)) => (c, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{method} {path}: {e}"),
        };
        assert_ne!(status, 405, "{method} {path}");
        assert_ne!(
            v["error"]["code"], "not_found",
            "{method} {path} is not routed"
        );
    }
}

//! `/v1/settings`: read, change, persist, pin, and listeners that move while running.

use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn settings(s: &Server) -> Value {
    let (st, v) = s.get("/v1/settings");
    assert_eq!(st, 200, "{v}");
    v
}

#[test]
fn settings_show_what_is_in_force_and_what_is_pinned() {
    let s = Server::start(&["--catch-all", "free"]);
    let v = settings(&s);
    assert_eq!(v["smtp"], s.smtp.to_string());
    assert_eq!(v["http"], s.http.to_string());
    assert_eq!(v["catchAll"], "free");
    assert_eq!(v["defaultTier"], "anon");
    assert_eq!(v["defaultTtlMinutes"], 60);
    assert_eq!(v["lanMode"], false);
    assert_eq!(v["notifications"]["enabled"], true);
    assert_eq!(v["startAtLogin"], false);
    assert_eq!(v["tiers"]["pro"]["maxMessageBytes"], 50 * 1024 * 1024);
    assert_eq!(v["dataDir"], s.data_dir.display().to_string());
    assert_eq!(v["token"].as_str().map(str::len), Some(64));
    let pinned: Vec<&str> = v["pinned"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(pinned, ["catchAll", "http", "smtp"]);
    // A pinned setting is refused with the flag that pins it; nothing changes.
    let (st, e) = s.patch("/v1/settings", json!({"catchAll": null}));
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("setting_pinned"))
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--catch-all"));
    let (st, _) = s.patch("/v1/settings", json!({"lanMode": true}));
    assert_eq!(st, 409);
    assert_eq!(settings(&s)["catchAll"], "free");
}

#[test]
fn catch_all_and_defaults_apply_at_once_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(tmp.path(), &[]);
    let mut smtp = s.smtp();
    smtp.cmd("EHLO t");
    smtp.cmd("MAIL FROM:<a@example.com>");
    assert_eq!(code(&smtp.cmd("RCPT TO:<anyone@example.com>")), 550);
    smtp.cmd("RSET");

    let (st, v) = s.patch(
        "/v1/settings",
        json!({"catchAll": "free", "defaultTtlMinutes": 15, "notifications": {"showSenderAndSubject": false}}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["notifications"]["showSenderAndSubject"], false);
    assert_eq!(v["notifications"]["enabled"], true, "objects merge");
    // The same session sees the change: the next RCPT is accepted.
    smtp.cmd("MAIL FROM:<a@example.com>");
    assert_eq!(code(&smtp.cmd("RCPT TO:<anyone@example.com>")), 250);
    smtp.cmd("QUIT");
    let m = s.mailbox(json!({}));
    let at = |k: &str| {
        let text = m[k].as_str().unwrap();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(
        at("expiresAt") - at("createdAt"),
        time::Duration::minutes(15)
    );

    assert!(s.stop());
    let again = Server::start_in(tmp.path(), &[]);
    let kept = settings(&again);
    assert_eq!(kept["catchAll"], "free");
    assert_eq!(kept["defaultTtlMinutes"], 15);
    assert_eq!(kept["notifications"]["showSenderAndSubject"], false);
}

#[test]
fn bad_patches_are_refused_and_change_nothing() {
    let s = Server::start(&[]);
    let before = settings(&s);
    for (body, status, code) in [
        ("{\"catchAll\": \"gold\"}", 422, "invalid_value"),
        ("{\"colour\": 1}", 422, "invalid_value"),
        ("{\"defaultTtlMinutes\": 0}", 422, "invalid_value"),
        ("{\"dataDir\": \"/etc\"}", 422, "invalid_value"),
        ("[1, 2]", 422, "invalid_value"),
        ("{not json", 400, "bad_request"),
    ] {
        let r = ureq::request("PATCH", &s.url("/v1/settings"))
            .set("Content-Type", "application/json")
            .send_string(body);
        let (st, v) = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_json::<Value>().unwrap()),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {v}"
        );
    }
    assert_eq!(settings(&s), before);
}

/// A data dir whose stored settings name the listeners' addresses (no flags pin them).
fn server_on_stored_ports() -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    // First run creates the store; its own ports are pinned by the fixture's flags.
    Server::start_in(tmp.path(), &[]).stop();
    let db = rusqlite::Connection::open(tmp.path().join("mailiy.db")).unwrap();
    for (key, port) in [("smtp", free_port()), ("http", free_port())] {
        db.execute(
            "INSERT INTO setting (key, value) VALUES (?1, ?2)",
            [key, &format!("\"127.0.0.1:{port}\"")],
        )
        .unwrap();
    }
    drop(db);
    let s = Server::start_with_stored_addresses(tmp.path());
    (tmp, s)
}

#[test]
fn a_new_smtp_port_takes_effect_without_a_restart() {
    let (_tmp, s) = server_on_stored_ports();
    assert!(settings(&s)["pinned"].as_array().unwrap().is_empty());
    let m = s.mailbox(json!({}));
    let addr = m["address"].as_str().unwrap();
    let old = s.smtp;
    let new_port = free_port();
    let (st, v) = s.patch(
        "/v1/settings",
        json!({"smtp": format!("127.0.0.1:{new_port}")}),
    );
    assert_eq!(st, 200, "{v}");
    let new: SocketAddr = format!("127.0.0.1:{new_port}").parse().unwrap();
    assert_eq!(s.get("/v1/health").1["smtp"], new.to_string());
    let mut smtp = Smtp::connect(new);
    smtp.cmd("EHLO t");
    let reply = smtp.deliver(
        "a@example.com",
        &[addr],
        &simple_message("a@example.com", addr, "moved", "hi"),
    );
    assert_eq!(code(&reply), 250, "{reply}");
    eventually("the old SMTP port closed", || {
        TcpStream::connect(old).is_err().then_some(())
    });
    assert_eq!(s.messages(addr).len(), 1);
}

#[test]
fn a_taken_port_is_reported_and_changes_nothing() {
    let (_tmp, s) = server_on_stored_ports();
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    let before = settings(&s);
    let (st, e) = s.patch("/v1/settings", json!({"http": taken.to_string()}));
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("address_in_use")),
        "{e}"
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&taken.to_string()));
    assert_eq!(settings(&s), before);
}

#[test]
fn a_new_http_port_moves_the_api() {
    let (_tmp, s) = server_on_stored_ports();
    let new_port = free_port();
    let (st, v) = s.patch(
        "/v1/settings",
        json!({"http": format!("127.0.0.1:{new_port}")}),
    );
    assert_eq!(st, 200, "the answer still comes from the old listener: {v}");
    assert_eq!(v["http"], format!("127.0.0.1:{new_port}"));
    let (st, h) = into_json_at(&format!("http://127.0.0.1:{new_port}/v1/health"));
    assert_eq!((st, h["status"].as_str()), (200, Some("ok")));
    eventually("the old HTTP port closed", || {
        TcpStream::connect(s.http).is_err().then_some(())
    });
}

fn into_json_at(url: &str) -> (u16, Value) {
    match ureq::get(url).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_json().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

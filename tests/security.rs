//! Who may use the API: Host and Origin checks on loopback, the token in LAN mode.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::common::*;

/// A raw HTTP/1.1 request with exactly the headers given; returns (status, body).
pub(crate) fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn a_foreign_host_name_is_refused_on_loopback() {
    let s = Server::start(&[]);
    let (st, body) = raw_request(
        s.http,
        "GET",
        "/v1/mailbox",
        &[("Host", "attacker.test:8025")],
        "",
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("forbidden_host"));
    for ok in ["localhost:8025", "127.0.0.1", "[::1]:8025"] {
        let (st, _) = raw_request(s.http, "GET", "/v1/mailbox", &[("Host", ok)], "");
        assert_eq!(st, 200, "{ok}");
    }
}

#[test]
fn a_foreign_origin_cannot_change_state_or_read_the_stream() {
    let s = Server::start(&[]);
    let host = s.http.to_string();
    let json = ("Content-Type", "application/json");
    let (st, body) = raw_request(
        s.http,
        "POST",
        "/v1/mailbox",
        &[("Host", &host), ("Origin", "http://evil.test"), json],
        "{}",
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("forbidden_origin"));
    let (_, list) = s.get("/v1/mailbox");
    assert!(list.as_array().unwrap().is_empty(), "nothing was created");
    let sse = SseClient::connect(s.http, "/v1/events", &[("Origin", "http://evil.test")]);
    assert_eq!(sse.status, 403);
    // The UI's own origin is fine.
    let own = format!("http://{host}");
    let (st, _) = raw_request(
        s.http,
        "POST",
        "/v1/mailbox",
        &[("Host", &host), ("Origin", &own), json],
        "{}",
    );
    assert_eq!(st, 201);
    // No permissive CORS.
    let (_, all) = (
        0,
        raw_request(
            s.http,
            "OPTIONS",
            "/v1/mailbox",
            &[("Host", &host), ("Origin", "http://evil.test")],
            "",
        ),
    );
    assert!(!all
        .1
        .to_ascii_lowercase()
        .contains("access-control-allow-origin"));
}

#[test]
fn lan_mode_requires_the_token_for_every_request() {
    let s = Server::start_custom_http("0.0.0.0:0", &[]);
    let local: SocketAddr = format!("127.0.0.1:{}", s.http.port()).parse().unwrap();
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.data_dir.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let host = local.to_string();
    for path in ["/v1/mailbox", "/v1/health", "/v1/events", "/metrics"] {
        let (st, body) = raw_request(local, "GET", path, &[("Host", &host)], "");
        assert_eq!(st, 401, "{path}: {body}");
        assert!(
            body.contains("unauthorized") && !body.contains("mbx_"),
            "no data: {body}"
        );
    }
    let wrong = raw_request(
        local,
        "GET",
        "/v1/mailbox",
        &[("Host", &host), ("Authorization", "Bearer nope")],
        "",
    );
    assert_eq!(wrong.0, 401);
    let bearer = format!("Bearer {token}");
    let (st, _) = raw_request(
        local,
        "POST",
        "/v1/mailbox",
        &[
            ("Host", &host),
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(st, 201);
    let (st, body) = raw_request(
        local,
        "GET",
        &format!("/v1/mailbox?access_token={token}"),
        &[("Host", &host)],
        "",
    );
    assert_eq!(st, 200, "{body}");
    // `mailiy token` prints the same token.
    let out = std::process::Command::new(bin())
        .args(["token", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), token);
}

#[test]
fn require_token_applies_on_loopback_too() {
    let s = Server::start(&["--require-token"]);
    let (st, _) = s.get("/v1/mailbox");
    assert_eq!(st, 401);
}

#[test]
fn errors_are_json_everywhere_and_5xx_hide_internals() {
    let s = Server::start(&[]);
    let r = ureq::request("PUT", &s.url("/v1/mailbox")).call();
    let Err(ureq::Error::Status(405, r)) = r else {
        panic!("405 expected")
    };
    let v: Value = r.into_json().unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

#[test]
fn the_ui_loads_without_the_token_and_the_cookie_carries_it() {
    let s = Server::start(&["--require-token"]);
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let host = s.http.to_string();
    // The page and its code hold no mail: they load, so the page can ask for the token.
    for path in ["/", "/ui/js/app.js", "/ui/css/app.css"] {
        let (st, body) = raw_request(s.http, "GET", path, &[("Host", &host)], "");
        assert_eq!(st, 200, "{path}: {body}");
    }
    // Everything with mail in it still needs it: API, frames, and a POST to a UI path.
    for (method, path) in [
        ("GET", "/v1/mailbox"),
        ("GET", "/frame/mbx_x/msg_y"),
        ("POST", "/"),
    ] {
        let (st, _) = raw_request(s.http, method, path, &[("Host", &host)], "");
        assert_eq!(st, 401, "{method} {path}");
    }
    let cookie = format!("theme=dark; mailiy_token={}", token.trim());
    let (st, body) = raw_request(
        s.http,
        "GET",
        "/v1/mailbox",
        &[("Host", &host), ("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 200, "{body}");
    let (st, _) = raw_request(
        s.http,
        "GET",
        "/v1/mailbox",
        &[("Host", &host), ("Cookie", "mailiy_token=wrong")],
        "",
    );
    assert_eq!(st, 401);
}

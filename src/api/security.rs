//! Who may talk to the API: Host and Origin checks, and the bearer token.
//!
//! Bound to loopback (the default): no token, but a request whose `Host` is not a loopback name
//! is refused (DNS rebinding), and so is one whose `Origin` is a foreign page (CSRF, and a
//! foreign page reading the event stream). Bound to any other address, or with
//! `--require-token`: every request needs `Authorization: Bearer TOKEN`, or the `mailiy_token`
//! cookie the UI sets (fetch, `EventSource`, frames and downloads all send it), or
//! `access_token=` in the query. The UI's static files are the exception: they hold no mail
//! and must load to ask for the token.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// Whether `host` (a `Host` header value, port optional) names this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The UI's own code and styles: public, so a LAN browser can load the page that asks for the token.
fn is_static_ui(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::GET && (path == "/" || path.starts_with("/ui/"))
}

fn presented_token(req: &Request) -> Option<String> {
    let cookie = header_str(req.headers(), header::COOKIE).and_then(|c| {
        c.split(';')
            .find_map(|kv| kv.trim().strip_prefix("mailiy_token="))
    });
    if let Some(t) = cookie {
        return Some(
            percent_encoding::percent_decode_str(t)
                .decode_utf8_lossy()
                .into_owned(),
        );
    }
    // Mailpit's clients send basic auth: the token is the password (any user name).
    if let Some(basic) = header_str(req.headers(), header::AUTHORIZATION).and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        return decoded
            .split_once(':')
            .map(|(_, password)| password.to_string());
    }
    if let Some(bearer) = header_str(req.headers(), header::AUTHORIZATION).and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) {
        return Some(bearer.trim().to_string());
    }
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|kv| {
            kv.strip_prefix("access_token=").map(|t| {
                percent_encoding::percent_decode_str(t)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    })
}

pub(crate) async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = header_str(headers, header::HOST)
        .unwrap_or_default()
        .to_string();
    if s.loopback_only && !is_loopback_host(&host) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "this server answers only to localhost names",
        )
        .into_response();
    }
    // Same-origin requests carry our own origin; anything else is a foreign page.
    if let Some(origin) = header_str(headers, header::ORIGIN) {
        let own = format!("http://{host}");
        if !origin.eq_ignore_ascii_case(&own) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "requests from other web pages are refused",
            )
            .into_response();
        }
    }
    if s.require_token && !is_static_ui(&req) {
        let ok = presented_token(&req).is_some_and(|t| same_secret(&t, s.engine.token()));
        if !ok {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer TOKEN (see `mailiy token`)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Turns any error response that is not already JSON (axum's own rejections: 405, 413, 415…)
/// into the API's JSON error shape.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let mailpit = super::mailpit::is_mailpit_path(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    // Mailpit's routes answer errors in plain text, as Mailpit does.
    if mailpit && response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    ApiError::new(status, code, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_recognized() {
        for ok in [
            "localhost",
            "localhost:8025",
            "127.0.0.1:8025",
            "[::1]:8025",
            "app.localhost",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.test",
            "evil.test:8025",
            "127.0.0.1.evil.test",
            "localhost.evil.test",
            "192.168.1.2",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}

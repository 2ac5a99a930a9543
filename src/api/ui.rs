//! The web UI of `ui/`: static files embedded at compile time and served at `/` and `/ui/…`.
//!
//! The static files are routed with `route_service` (they are not part of the JSON API the
//! OpenAPI drift test checks). `GET /frame/{id}/{mid}`, the page a message's HTML is shown in,
//! is routed here too and built in `frame.rs`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;

/// The page's policy: no inline script or style, no eval, talks only to this server.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// Every served file: path under `/ui/` → (content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/index.html"),
    ),
    (
        "css/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/css/app.css"),
    ),
    (
        "js/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/app.js"),
    ),
    (
        "js/api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/api.js"),
    ),
    (
        "js/message.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/message.js"),
    ),
    (
        "js/envelope.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/envelope.js"),
    ),
    (
        "js/reader.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/reader.js"),
    ),
    (
        "js/util.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/util.js"),
    ),
    (
        "js/settings.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/settings.js"),
    ),
    (
        "js/faults.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/faults.js"),
    ),
    (
        "js/dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/dom.js"),
    ),
    (
        "js/state.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/state.js"),
    ),
    (
        "js/caps.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/caps.js"),
    ),
    (
        "js/mailboxes.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/mailboxes.js"),
    ),
    (
        "js/list.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/list.js"),
    ),
    (
        "js/keys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/keys.js"),
    ),
    (
        "js/notices.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/notices.js"),
    ),
    (
        "js/search.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/search.js"),
    ),
    (
        "js/welcome.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/welcome.js"),
    ),
    (
        "js/attention.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/attention.js"),
    ),
    (
        "js/theme.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/theme.js"),
    ),
    (
        "js/undo.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/undo.js"),
    ),
    (
        "js/checks.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/checks.js"),
    ),
    (
        "css/checks.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/css/checks.css"),
    ),
    (
        "js/tags.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/tags.js"),
    ),
    (
        "js/pause.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/pause.js"),
    ),
    (
        "js/transfer.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/transfer.js"),
    ),
    (
        "js/release.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/js/release.js"),
    ),
];

/// The UI routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route_service("/", get(index))
        .route_service("/ui/{*path}", get(asset))
        .route("/frame/{id}/{mid}", get(super::frame::frame))
}

/// Content type, caching, and the headers every UI response carries.
pub(crate) fn static_headers(
    h: &mut axum::http::HeaderMap,
    ctype: &'static str,
    cache: &'static str,
) {
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn serve(path: &str) -> Response {
    let Some((_, ctype, bytes)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return ApiError::not_found().into_response();
    };
    let mut res = (StatusCode::OK, *bytes).into_response();
    let h = res.headers_mut();
    static_headers(h, ctype, "no-cache");
    if ctype.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_type_and_bytes() {
        for (path, ctype, _) in ASSETS {
            assert!(!path.starts_with('/'), "{path}");
            assert!(ctype.contains('/'), "{path}");
        }
        assert_eq!(serve("nope.js").status(), StatusCode::NOT_FOUND);
        let page = serve("index.html");
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    }

    /// A file added to `ui/` but not to [`ASSETS`] would 404 in the page: every one is served.
    #[test]
    fn every_ui_file_is_served() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut dirs = vec![ui.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(&ui)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel.ends_with(".test.js") {
                    continue;
                }
                assert!(
                    ASSETS.iter().any(|(p, _, _)| *p == rel),
                    "ui/{rel} is not in ASSETS"
                );
            }
        }
    }
}

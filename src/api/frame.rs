//! `GET /frame/{id}/{mid}`: a message's sanitized HTML as a page of its own, for the UI's
//! sandboxed `<iframe>` (a `srcdoc` frame would inherit the page's policy, which forbids the
//! mail's inline styles).
//!
//! The frame has an opaque origin (no `allow-same-origin`) and runs no script. Its links open
//! outside it (`target=_blank`, set by the sanitizer, with `allow-popups` and
//! `allow-popups-to-escape-sandbox` so the page opened is an ordinary one). Its inline `cid:`
//! images are embedded in the document as `data:` URLs: a request from the frame would carry
//! `Origin: null`, which every sandboxed frame of every site sends too, so the API keeps
//! refusing it rather than letting any page's frame read attachments.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::error::ApiResult;
use super::messages::MessageQuery;
use super::AppState;
use crate::model::{attachments_url_base, Mailbox, MessageFull};

/// The sandbox both layers apply, the iframe's attribute and the document's own CSP (the UI's
/// `message.js` sets the same tokens): links may open a new, unsandboxed page; nothing runs.
pub(crate) const FRAME_SANDBOX: &str = "allow-popups allow-popups-to-escape-sandbox";

/// Inline images embedded in one frame, at most: past it the rest are left out (the message's
/// own caps bound this already; this bounds one page's size on top).
const MAX_EMBEDDED_BYTES: u64 = 32 * 1024 * 1024;

/// The frame document's own style, before the mail's (whose inline styles win). A newsletter
/// built for 600 px stays inside a phone-wide frame: images, tables and media shrink to the
/// frame's width (`max-width` only, so a layout that fits keeps its own widths), long words and
/// preformatted lines wrap instead of widening the page.
const FRAME_STYLE: &str = "body{margin:16px;font:14px/1.5 system-ui,sans-serif;color:#1b1f24;\
    background:#fff;overflow-wrap:break-word}img,video{max-width:100%;height:auto}\
    table{max-width:100%}td,th{overflow-wrap:anywhere}pre{white-space:pre-wrap}";

/// The frame document's policy: nothing runs, nothing loads but embedded images (and remote
/// ones when asked), and `sandbox` even when the URL is opened on its own.
fn frame_csp(allow_remote: bool) -> String {
    let remote = if allow_remote { " http: https:" } else { "" };
    format!(
        "default-src 'none'; img-src data:{remote}; style-src 'unsafe-inline'; \
         font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; \
         sandbox {FRAME_SANDBOX}"
    )
}

pub(crate) async fn frame(
    State(state): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
    Query(q): Query<MessageQuery>,
) -> ApiResult<Response> {
    let mailbox = state.engine.mailbox(&id).await?;
    let allow_remote = q.allow_remote();
    let msg = state
        .engine
        .read_message(&mailbox, &mid, allow_remote)
        .await?;
    let body = embed_inline_images(&state, &mailbox, &msg).await?;
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"referrer\" content=\"no-referrer\"><style>{FRAME_STYLE}</style></head>\
         <body>{body}</body></html>"
    );
    let mut res = (StatusCode::OK, page).into_response();
    let h = res.headers_mut();
    super::ui::static_headers(h, "text/html; charset=utf-8", "no-store");
    if let Ok(v) = HeaderValue::from_str(&frame_csp(allow_remote)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

/// The message's HTML with every `src` that points at one of its own image attachments (what
/// the sanitizer made of a `cid:` reference) replaced by the image as a `data:` URL.
async fn embed_inline_images(
    state: &AppState,
    mailbox: &Mailbox,
    msg: &MessageFull,
) -> ApiResult<String> {
    let html = msg.html.clone().unwrap_or_default();
    let base = attachments_url_base(&mailbox.address, &msg.summary.id);
    if !html.contains(&base) {
        return Ok(html);
    }
    let mut out = html;
    let mut budget = MAX_EMBEDDED_BYTES;
    for a in &msg.attachments {
        let quoted = format!("\"{base}{}\"", a.id);
        if !a.content_type.starts_with("image/") || !out.contains(&quoted) {
            continue;
        }
        if a.size > budget {
            continue;
        }
        let Some(data) = state
            .engine
            .store()
            .attachment(mailbox.id.clone(), msg.summary.id.clone(), a.id.clone())
            .await?
        else {
            continue;
        };
        budget = budget.saturating_sub(data.data.len() as u64);
        let ctype: String = a
            .content_type
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "/+-.".contains(*c))
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&data.data);
        out = out.replace(&quoted, &format!("\"data:{ctype};base64,{encoded}\""));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_policy_loads_only_embedded_images_unless_asked() {
        let csp = frame_csp(false);
        assert!(csp.contains("img-src data:;"), "{csp}");
        assert!(!csp.contains("http"), "{csp}");
        assert!(csp.ends_with("sandbox allow-popups allow-popups-to-escape-sandbox"));
        assert!(!csp.contains("allow-scripts") && !csp.contains("allow-same-origin"));
        assert!(frame_csp(true).contains("img-src data: http: https:;"));
    }
}

//! One message by id (or `latest`), found across the scope's mailboxes: the full message
//! (marked read), its headers, raw source, a part, and the HTML and text views.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{shape, MailpitError, MailpitResult, Scope};
use crate::api::AppState;
use crate::error::Error;

// Path parameters by name: under `/m/{address}` the path holds the address too.
#[derive(Deserialize)]
pub(super) struct IdPath {
    pub id: String,
}

#[derive(Deserialize)]
struct PartPath {
    id: String,
    part: String,
}

#[derive(Deserialize)]
struct FilePath {
    file: String,
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/message/{id}", get(full))
        .route("/api/v1/message/{id}/headers", get(headers))
        .route("/api/v1/message/{id}/raw", get(raw))
        .route("/api/v1/message/{id}/part/{part}", get(part))
        .route("/view/{file}", get(view))
}

/// The full message, marked read, with the SHA-256 of each attachment.
async fn full(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
) -> MailpitResult<Json<Value>> {
    let (m, mid) = s.engine.locate_message(scope.mailbox(), &id).await?;
    let msg = s.engine.read_message(&m, &mid, false).await?;
    let mut sums = Vec::with_capacity(msg.attachments.len());
    for a in &msg.attachments {
        let data = s
            .engine
            .store()
            .attachment(m.id.clone(), mid.clone(), a.id.clone())
            .await?;
        sums.push(data.map(|d| hex(&Sha256::digest(&d.data))));
    }
    Ok(Json(shape::message(&msg, &sums)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every header as `name -> [values]`, names sorted, as Mailpit has them.
async fn headers(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
) -> MailpitResult<Json<BTreeMap<String, Vec<String>>>> {
    let (m, mid) = s.engine.locate_message(scope.mailbox(), &id).await?;
    let msg = s
        .engine
        .store()
        .message(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in msg.headers {
        out.entry(h.name).or_default().push(h.value);
    }
    Ok(Json(out))
}

fn plain(body: impl Into<axum::body::Body>, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// The source as received (Mailpit serves it as text).
async fn raw(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
) -> MailpitResult<Response> {
    let (m, mid) = s.engine.locate_message(scope.mailbox(), &id).await?;
    let raw = s
        .engine
        .store()
        .raw(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?;
    Ok(plain(raw, "text/plain; charset=utf-8"))
}

/// One attachment or inline part by its `PartID`, run nowhere if opened directly.
async fn part(
    State(s): State<AppState>,
    scope: Scope,
    Path(PartPath { id, part }): Path<PartPath>,
) -> MailpitResult<Response> {
    let (m, mid) = s.engine.locate_message(scope.mailbox(), &id).await?;
    let a = s
        .engine
        .store()
        .attachment(m.id, mid, part)
        .await?
        .ok_or(Error::AttachmentNotFound)?;
    Ok(crate::api::messages::attachment_response(a))
}

/// `/view/{ID}.html` (the sanitized HTML, as our reader shows it, under a CSP that runs
/// nothing) and `/view/{ID}.txt` (the text part). Reading a view does not mark it read.
async fn view(
    State(s): State<AppState>,
    scope: Scope,
    Path(FilePath { file }): Path<FilePath>,
) -> MailpitResult<Response> {
    let (id, html) = if let Some(id) = file.strip_suffix(".html") {
        (id, true)
    } else if let Some(id) = file.strip_suffix(".txt") {
        (id, false)
    } else {
        return Err(MailpitError::not_found("not found"));
    };
    let (m, mid) = s.engine.locate_message(scope.mailbox(), id).await?;
    let msg = s
        .engine
        .store()
        .message(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?;
    if !html {
        return Ok(plain(
            msg.text.unwrap_or_default(),
            "text/plain; charset=utf-8",
        ));
    }
    let body = msg
        .html
        .ok_or_else(|| MailpitError::not_found("message has no HTML part"))?;
    let mut response = plain(body, "text/html; charset=utf-8");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; sandbox",
        ),
    );
    Ok(response)
}

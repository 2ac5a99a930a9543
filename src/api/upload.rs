//! `POST /v1/mailbox/{id}/messages`: one raw message (`.eml`, as dropped on the web UI) stored
//! in a mailbox by the path SMTP mail takes: the same caps (the tier's message and storage caps),
//! the same line-end normalising, parsing and sanitizing, the same `message.received`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::engine::RcptDecision;
use crate::error::Error;
use crate::model::Envelope;

/// The upload route, merged into [`super::router`]; its body may be as large as the largest
/// tier's message cap (the tier of the mailbox then decides).
pub(crate) fn routes(largest_message: u64) -> Router<AppState> {
    let limit = usize::try_from(largest_message).unwrap_or(usize::MAX);
    Router::new().route(
        "/v1/mailbox/{id}/messages",
        post(upload).layer(DefaultBodyLimit::max(limit)),
    )
}

/// Whether `path` is the upload route, whose body may pass the API's usual 1 MiB.
pub(crate) fn takes_large_bodies(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST
        && path.starts_with("/v1/mailbox/")
        && path.ends_with("/messages")
        && path.matches('/').count() == 4
}

async fn upload(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let m = s.engine.mailbox(&id).await?;
    let RcptDecision::Accept {
        recipient,
        tier,
        max_message_bytes,
        storage_left,
    } = s.engine.check_recipient(&m.address, None).await?
    else {
        return Err(Error::MailboxNotFound.into());
    };
    if body.is_empty() {
        return Err(ApiError::invalid(
            "the body is empty: send the message's bytes",
        ));
    }
    let raw = crate::smtp::normalize_bare_lf(body.to_vec());
    let size = raw.len() as u64;
    if size > max_message_bytes {
        let message =
            format!("the message is {size} bytes; the {tier} tier takes {max_message_bytes}");
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_large",
            message,
        ));
    }
    if size > storage_left {
        return Err(mailbox_full());
    }
    let envelope = Envelope {
        rcpt_to: vec![m.address.clone()],
        client: Some("upload".into()),
        ..Envelope::default()
    };
    let outcome = crate::ingest::deliver(&s.engine, &envelope, &[], vec![recipient], raw).await?;
    match outcome.stored.first() {
        Some(id) => Ok((
            StatusCode::CREATED,
            Json(json!({"id": id, "mailboxId": m.id})),
        )),
        None if outcome.storage_full > 0 => Err(mailbox_full()),
        None => Err(Error::MailboxNotFound.into()),
    }
}

fn mailbox_full() -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "mailbox_full",
        "the mailbox has no room for this message",
    )
}

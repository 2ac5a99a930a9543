//! Mailpit's API (`/api/v1`, `/view`, `/livez`, `/readyz`) over the same engine, so a test
//! suite's Mailpit client works unchanged: Mailpit's JSON shapes, its plain-text `ok` and error
//! bodies, `latest` wherever an id is taken. At the root every live mailbox's mail is seen;
//! under `/m/{address}` only that mailbox's (made on the fly), so parallel test workers each
//! get an inbox of their own.
//!
//! One file per stage: `list` (messages and search), `message` (one message, its parts and
//! views), `tools` (the HTML, link and spam checks, and release), `send`, `meta` (tags, info,
//! webui, chaos, health), `events` (the WebSocket). The shapes are in `shape`.

mod events;
mod list;
mod message;
mod meta;
mod send;
mod shape;
mod tools;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::AppState;
use crate::error::Error;
use crate::model::Mailbox;

/// Every Mailpit route, at the root and under the per-mailbox prefix.
pub(crate) fn routes() -> Router<AppState> {
    let api = || {
        Router::new()
            .merge(list::routes())
            .merge(message::routes())
            .merge(tools::routes())
            .merge(send::routes())
            .merge(meta::routes())
            .merge(events::routes())
    };
    Router::new()
        .merge(api())
        .merge(meta::health_routes())
        .nest("/m/{address}", api())
}

/// Which mail a call sees: one mailbox (under `/m/{address}`), or every live one (`None`).
pub(crate) struct Scope(pub Option<Mailbox>);

impl Scope {
    pub fn mailbox(&self) -> Option<&Mailbox> {
        self.0.as_ref()
    }
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = MailpitError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Scope, MailpitError> {
        let params = RawPathParams::from_request_parts(parts, s)
            .await
            .map_err(|_| MailpitError::bad_request("bad path"))?;
        let Some((_, address)) = params.iter().find(|(k, _)| *k == "address") else {
            return Ok(Scope(None));
        };
        Ok(Scope(Some(s.engine.mailbox_or_new(address).await?)))
    }
}

/// An error as Mailpit answers it: a status and a line of plain text.
#[derive(Debug)]
pub(crate) struct MailpitError {
    status: StatusCode,
    message: String,
}

impl MailpitError {
    pub fn bad_request(message: impl Into<String>) -> MailpitError {
        MailpitError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> MailpitError {
        MailpitError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<Error> for MailpitError {
    fn from(e: Error) -> MailpitError {
        match e {
            Error::MessageNotFound => MailpitError::not_found("message not found"),
            Error::AttachmentNotFound => MailpitError::not_found("part not found"),
            Error::MailboxNotFound => MailpitError::not_found("mailbox not found"),
            e @ (Error::InvalidQuery { .. } | Error::InvalidInput(_) | Error::InvalidFaults(_)) => {
                MailpitError::bad_request(e.to_string())
            }
            // As /v1: the cause goes to the log, never to the client.
            other => super::ApiError::from(other).into(),
        }
    }
}

impl From<super::ApiError> for MailpitError {
    fn from(api: super::ApiError) -> MailpitError {
        MailpitError {
            status: api.status,
            message: api.message,
        }
    }
}

impl IntoResponse for MailpitError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

pub(crate) type MailpitResult<T> = Result<T, MailpitError>;

/// Mailpit's plain `ok`.
pub(crate) fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// A JSON body of Mailpit's (any content type: its clients send JSON, curl users often
/// forget the header); an empty body is the default.
pub(crate) fn body<T: serde::de::DeserializeOwned + Default>(
    bytes: &axum::body::Bytes,
) -> MailpitResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| MailpitError::bad_request(e.to_string()))
}

/// Whether a request is for one of Mailpit's routes (plain-text errors).
pub(crate) fn is_mailpit_path(path: &str) -> bool {
    let path = match path.strip_prefix("/m/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, p)| p),
        None => path.trim_start_matches('/'),
    };
    path.starts_with("api/") || path.starts_with("view/") || path == "livez" || path == "readyz"
}

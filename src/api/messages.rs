//! Message handlers under `/v1/mailbox/:id/messages` and the cross-mailbox `/v1/messages`.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::clock::now_ms;
use crate::engine::MessageWait;
use crate::error::Error;
use crate::model::MessageFull;
use crate::store::{MessageFilter, Page};

/// Default and largest page of summaries.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;

/// Longest `wait` a request may ask for, in seconds.
const MAX_WAIT_SECS: u64 = 60;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    after: Option<String>,
    /// Only messages received before this one (walking back through older mail).
    before: Option<String>,
    /// `newest` first (the default) or `oldest` first (with `after`: walking forward).
    order: Option<String>,
    limit: Option<u32>,
    wait: Option<u64>,
    subject: Option<String>,
    from: Option<String>,
    /// A search query ([`crate::query`]); 400 `invalid_query` when it cannot be parsed.
    q: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> ApiResult<MessageFilter> {
        let query = self.q.as_deref().map(crate::query::parse).transpose()?;
        Ok(MessageFilter::new(self.subject.as_deref(), self.from.as_deref()).with_query(query))
    }

    /// The page asked for: its cursors, order and limit.
    fn page(&self) -> ApiResult<Page> {
        let oldest_first = match self.order.as_deref() {
            None | Some("newest") => false,
            Some("oldest") => true,
            Some(_) => return Err(ApiError::invalid("order is newest or oldest")),
        };
        Ok(Page {
            after: self.after.clone(),
            before: self.before.clone(),
            oldest_first,
            limit: limit_of(self.limit)?,
        })
    }
}

/// The header that carries a mailbox list's total (the body stays the v1 array).
const TOTAL_HEADER: &str = "x-total-count";

fn limit_of(q: Option<u32>) -> ApiResult<u32> {
    match q {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// Lists a page of a mailbox's messages, with how many match in all in `X-Total-Count`;
/// `wait=S` holds the request up to S seconds for the first match
/// ([`crate::engine::Engine::wait_for_messages`]).
pub(crate) async fn list(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let page = q.page()?;
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::invalid(format!(
            "wait is at most {MAX_WAIT_SECS} seconds"
        )));
    }
    let filter = q.filter()?;
    let m = s.engine.mailbox(&id).await?;
    let wait = MessageWait {
        page,
        filter,
        wait: std::time::Duration::from_secs(wait),
    };
    let (total, messages) = s
        .engine
        .wait_for_messages(&m, wait, s.shutdown.clone())
        .await?;
    Ok(([(TOTAL_HEADER, HeaderValue::from(total))], Json(messages)).into_response())
}

/// A page of the messages of every live mailbox (those matching `q`, `subject`, `from`),
/// with the count of live messages and of those matching: a global inbox view, and search
/// across all mail.
pub(crate) async fn list_all(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let page = q.page()?;
    let filter = q.filter()?;
    let found = s
        .engine
        .store()
        .recent_messages(now_ms(), page, filter)
        .await?;
    Ok(Json(json!({
        "count": found.count,
        "total": found.total,
        "messages": found.messages,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageQuery {
    allow_remote: Option<String>,
}

impl MessageQuery {
    /// `?allowRemote=1` (or `true`): the view with remote content.
    pub(crate) fn allow_remote(&self) -> bool {
        matches!(self.allow_remote.as_deref(), Some("1" | "true"))
    }
}

pub(crate) async fn get_one(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
    Query(q): Query<MessageQuery>,
) -> ApiResult<Json<MessageFull>> {
    let m = s.engine.mailbox(&id).await?;
    Ok(Json(
        s.engine.read_message(&m, &mid, q.allow_remote()).await?,
    ))
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.engine.delete_message(&id, &mid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn raw(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let m = s.engine.mailbox(&id).await?;
    let raw = s
        .engine
        .store()
        .raw(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("message/rfc822"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        raw,
    )
        .into_response())
}

pub(crate) async fn attachment(
    State(s): State<AppState>,
    Path((id, mid, aid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let m = s.engine.mailbox(&id).await?;
    let a = s
        .engine
        .store()
        .attachment(m.id, mid, aid)
        .await?
        .ok_or(Error::AttachmentNotFound)?;
    Ok(attachment_response(a))
}

/// An attachment's bytes as a download that runs and loads nothing if opened directly (also
/// Mailpit's `part`).
pub(crate) fn attachment_response(a: crate::model::AttachmentData) -> Response {
    let content_type = HeaderValue::from_str(&a.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&a.filename))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // Opened directly, an HTML or SVG attachment still runs nothing and loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        a.data,
    )
        .into_response()
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_is_always_a_safe_header() {
        let d = content_disposition("rép\"ort\r\n.pdf");
        assert!(d.starts_with("attachment; filename=\"r_p_ort__.pdf\"; filename*=UTF-8''r%C3%A9p"));
        assert!(HeaderValue::from_str(&d).is_ok());
    }
}

//! `/v1/mailbox` handlers.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::clock::parse_rfc3339;
use crate::config::Tier;
use crate::engine::MailboxRequest;
use crate::model::MailboxView;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    tier: Option<Tier>,
    ttl_minutes: Option<u64>,
    expires_at: Option<String>,
    local_part: Option<String>,
    domain: Option<String>,
    remote: Option<String>,
}

/// Reads an optional JSON body: empty means all defaults; bad JSON is 400, bad values 422.
pub(crate) fn json_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
        _ => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
    })
}

pub(crate) async fn create(State(s): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let b: CreateBody = json_body(&body)?;
    let expires_at = b.expires_at.as_deref().map(parse_time).transpose()?;
    let m = s
        .engine
        .create_mailbox(MailboxRequest {
            tier: b.tier,
            ttl_minutes: b.ttl_minutes,
            expires_at,
            local_part: b.local_part,
            domain: b.domain,
            remote: b.remote,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(s.engine.view(&m))))
}

pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<MailboxView>>> {
    let all = s.engine.mailboxes().await?;
    Ok(Json(all.iter().map(|m| s.engine.view(m)).collect()))
}

pub(crate) async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MailboxView>> {
    let m = s.engine.mailbox(&id).await?;
    Ok(Json(s.engine.view(&m)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    extend_minutes: Option<u64>,
    expires_at: Option<String>,
}

pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<MailboxView>> {
    let b: UpdateBody = json_body(&body)?;
    let expires_at = b.expires_at.as_deref().map(parse_time).transpose()?;
    let m = s
        .engine
        .extend_mailbox(&id, b.extend_minutes, expires_at)
        .await?;
    Ok(Json(s.engine.view(&m)))
}

fn parse_time(t: &str) -> ApiResult<i64> {
    parse_rfc3339(t).ok_or_else(|| ApiError::invalid(format!("{t:?} is not an RFC 3339 time")))
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_mailbox(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

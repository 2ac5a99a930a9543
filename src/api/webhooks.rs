//! `/v1/webhooks` handlers (see [`crate::webhooks`] for delivery).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::mailboxes::json_body;
use super::AppState;
use crate::webhooks::{self, DeliveryView, WebhookRequest, WebhookView};

/// Deliveries listed when the request names no `limit`, and the most it may name.
const DEFAULT_DELIVERIES: usize = 50;
const MAX_DELIVERIES: usize = 100;

/// The webhook routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/{id}", delete(remove))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
}

fn webhook_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "webhook_not_found",
        "no webhook with that id",
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    url: Option<String>,
    mailbox_id: Option<String>,
    events: Option<Vec<String>>,
}

async fn create(State(s): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let b: CreateBody = json_body(&body)?;
    let url = b.url.ok_or_else(|| ApiError::invalid("url is required"))?;
    let hook = webhooks::create(
        &s.engine,
        WebhookRequest {
            url,
            mailbox: b.mailbox_id,
            events: b.events,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(hook.view())))
}

async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<WebhookView>>> {
    let all = webhooks::list(&s.engine).await?;
    Ok(Json(all.iter().map(|h| h.view()).collect()))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if webhooks::delete(&s.engine, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(webhook_not_found())
    }
}

#[derive(Debug, Deserialize)]
struct DeliveriesQuery {
    limit: Option<usize>,
}

async fn deliveries(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_DELIVERIES);
    if limit == 0 || limit > MAX_DELIVERIES {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_DELIVERIES}"
        )));
    }
    webhooks::deliveries(&s.engine, &id, limit)
        .await?
        .map(Json)
        .ok_or_else(webhook_not_found)
}

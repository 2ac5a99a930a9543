//! `POST /v1/mailbox/{id}/messages/{mid}/release`: send a stored message on through the relay;
//! `GET /v1/relay/deliveries`: the automatic relay's queue.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::mailboxes::json_body;
use super::AppState;
use crate::relay::{self, RelayDelivery, Released};

/// Jobs listed when no limit is asked for, and the most one may ask for (as many as are kept).
const DEFAULT_DELIVERIES: usize = 100;
const MAX_DELIVERIES: usize = 1000;

/// The relay routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/mailbox/{id}/messages/{mid}/release", post(release))
        .route("/v1/relay/deliveries", get(deliveries))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    to: Vec<String>,
}

async fn release(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Released>> {
    let b: ReleaseBody = json_body(&body)?;
    Ok(Json(relay::release(&s.engine, &id, &mid, &b.to).await?))
}

#[derive(Debug, Deserialize)]
struct DeliveriesQuery {
    limit: Option<usize>,
}

async fn deliveries(
    State(s): State<AppState>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<RelayDelivery>>> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_DELIVERIES);
    if limit == 0 || limit > MAX_DELIVERIES {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_DELIVERIES}"
        )));
    }
    Ok(Json(relay::deliveries::list(&s.engine, limit).await?))
}

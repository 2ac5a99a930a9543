//! `POST /v1/mailbox/{id}/messages/{mid}/release`: send a stored message on through the relay.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiResult;
use super::mailboxes::json_body;
use super::AppState;
use crate::relay::{self, Released};

/// The relay routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/mailbox/{id}/messages/{mid}/release", post(release))
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

//! SMTP sessions as the API shows them: the transcript that delivered a message, and the recent
//! refused attempts (`/v1/refusals`).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::clock::now_ms;
use crate::error::Error;
use crate::model::Refusal;

/// Refusals listed when the request names no `limit`, and the most it may name.
const DEFAULT_REFUSALS: usize = 50;
const MAX_REFUSALS: usize = 1000;

/// The routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/mailbox/{id}/messages/{mid}/session", get(transcript))
        .route("/v1/refusals", get(refusals))
}

/// The commands and replies of the session that delivered the message, up to its end of DATA.
async fn transcript(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let m = s.engine.mailbox(&id).await?;
    let lines = s
        .engine
        .store()
        .transcript(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?;
    Ok(Json(json!({ "lines": lines })))
}

#[derive(Debug, Deserialize)]
struct RefusalQuery {
    mailbox: Option<String>,
    limit: Option<usize>,
}

async fn refusals(
    State(s): State<AppState>,
    Query(q): Query<RefusalQuery>,
) -> ApiResult<Json<Vec<Refusal>>> {
    let limit = match q.limit {
        None => DEFAULT_REFUSALS,
        Some(n) if (1..=MAX_REFUSALS).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_REFUSALS}"
            )))
        }
    };
    let mailbox = q.mailbox.as_deref().filter(|m| !m.is_empty());
    Ok(Json(s.engine.refusals(mailbox, limit, now_ms())))
}

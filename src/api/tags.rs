//! Tags under `/v1`: a message's tags (`PUT …/messages/{mid}/tags`), every tag in use
//! (`GET /v1/tags`), renaming and deleting a tag everywhere.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::mailboxes::json_body;
use super::AppState;
use crate::error::Error;
use crate::store::Selection;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tags", get(list))
        .route("/v1/tags/{tag}", put(rename).delete(delete))
        .route("/v1/mailbox/{id}/messages/{mid}/tags", put(set_on_message))
}

#[derive(Debug, Default, Deserialize)]
struct TagsBody {
    tags: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct RenameBody {
    name: Option<String>,
}

async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(s.engine.tags(None).await?))
}

/// Replaces a message's tags; answers them as kept (cleaned, deduplicated, bounded).
async fn set_on_message(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let b: TagsBody = json_body(&body)?;
    let tags = b
        .tags
        .ok_or_else(|| ApiError::bad_request("tags is missing (a list of names)"))?;
    let m = s.engine.mailbox(&id).await?;
    let (kept, tagged) = s
        .engine
        .set_tags(Some(&m), Selection::Ids(vec![mid]), &tags)
        .await?;
    if tagged.is_empty() {
        return Err(Error::MessageNotFound.into());
    }
    Ok(Json(json!({"tags": kept})))
}

async fn rename(
    State(s): State<AppState>,
    Path(tag): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let b: RenameBody = json_body(&body)?;
    let name = b
        .name
        .ok_or_else(|| ApiError::bad_request("name is missing (the new name)"))?;
    let renamed = s.engine.rename_tag(None, &tag, &name).await?;
    Ok(Json(json!({"messages": renamed})))
}

async fn delete(State(s): State<AppState>, Path(tag): Path<String>) -> ApiResult<StatusCode> {
    s.engine.delete_tag(None, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

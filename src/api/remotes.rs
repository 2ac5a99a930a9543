//! `/v1/remotes`: remote Mailiy accounts for sync (see [`crate::sync`]). The key goes in and
//! never comes out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::mailboxes::json_body;
use super::AppState;
use crate::sync::{RemoteRequest, RemoteView};

/// The remote-account routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/remotes", get(list).post(create))
        .route("/v1/remotes/{id}", delete(remove))
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    url: Option<String>,
    api_key: Option<String>,
}

async fn create(State(s): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let b: CreateBody = json_body(&body)?;
    let (Some(name), Some(url), Some(api_key)) = (b.name, b.url, b.api_key) else {
        return Err(ApiError::invalid("name, url and apiKey are required"));
    };
    let remote = s
        .accounts
        .add(&s.engine, RemoteRequest { name, url, api_key })
        .await?;
    Ok((StatusCode::CREATED, Json(remote)))
}

async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<RemoteView>>> {
    Ok(Json(s.accounts.list(&s.engine).await?))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if s.accounts.remove(&s.engine, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "remote_not_found",
            "no remote account with that id",
        ))
    }
}

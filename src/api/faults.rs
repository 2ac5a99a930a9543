//! `/v1/faults`: faults on demand, the whole configuration read and replaced at once.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::error::ApiResult;
use super::AppState;

pub(crate) async fn get_all(State(s): State<AppState>) -> Json<Value> {
    Json(s.engine.faults().to_json())
}

/// Replaces the configuration; on a 400 (naming the field) the old one stays in force.
pub(crate) async fn replace(State(s): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let config = s.engine.set_faults_json(&body)?;
    Ok(Json(config.to_json()))
}

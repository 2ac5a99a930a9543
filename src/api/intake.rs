//! `/v1/intake`: pause and resume taking SMTP mail (see `engine/intake.rs`).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiResult;
use super::mailboxes::json_body;
use super::AppState;
use crate::engine::{Intake, IntakeChange};

/// The intake routes, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/intake", get(get_one).put(replace))
}

async fn get_one(State(s): State<AppState>) -> Json<Intake> {
    Json(s.engine.intake())
}

async fn replace(State(s): State<AppState>, body: Bytes) -> ApiResult<Json<Intake>> {
    let change: IntakeChange = json_body(&body)?;
    Ok(Json(s.engine.set_intake(change)?))
}

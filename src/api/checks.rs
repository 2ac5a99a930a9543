//! The message checks under `/v1/mailbox/{id}/messages/{mid}/`: `html-check`, `link-check`,
//! `spam-check` ([`crate::checks`]). Each reads the stored raw message and runs its check now;
//! nothing is stored.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::checks::{self, html::HtmlCheck, links::LinkCheck, spam::SpamCheck};
use crate::error::Error;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/mailbox/{id}/messages/{mid}/html-check",
            get(html_check),
        )
        .route(
            "/v1/mailbox/{id}/messages/{mid}/link-check",
            get(link_check),
        )
        .route(
            "/v1/mailbox/{id}/messages/{mid}/spam-check",
            get(spam_check),
        )
}

/// The raw bytes of a message of a live mailbox.
async fn raw_of(s: &AppState, id: &str, mid: String) -> ApiResult<Vec<u8>> {
    let m = s.engine.mailbox(id).await?;
    Ok(s.engine
        .store()
        .raw(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?)
}

/// Runs a blocking check on the blocking pool; a panic in it is a 500, never a lost worker.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("a message check failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "check_failed",
            "the check failed",
        )
    })
}

async fn html_check(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<HtmlCheck>> {
    let raw = raw_of(&s, &id, mid).await?;
    Ok(Json(run_html_check(&s, raw).await?))
}

async fn link_check(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<LinkCheck>> {
    let raw = raw_of(&s, &id, mid).await?;
    Ok(Json(run_link_check(&s, raw).await?))
}

async fn spam_check(
    State(s): State<AppState>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<SpamCheck>> {
    let raw = raw_of(&s, &id, mid).await?;
    Ok(Json(run_spam_check(&s, raw).await))
}

// The checks themselves, on a message's raw bytes: shared with Mailpit's routes.

pub(crate) async fn run_html_check(s: &AppState, raw: Vec<u8>) -> ApiResult<HtmlCheck> {
    let cfg = s.engine.config().checks.html.clone();
    blocking(move || checks::html_check(&raw, &cfg)).await
}

pub(crate) async fn run_link_check(s: &AppState, raw: Vec<u8>) -> ApiResult<LinkCheck> {
    let c = s.engine.config().checks.clone();
    blocking(move || checks::link_check(&raw, &c.html, &c.links)).await
}

pub(crate) async fn run_spam_check(s: &AppState, raw: Vec<u8>) -> SpamCheck {
    let cfg = s.engine.config().checks.spam.clone();
    checks::spam::check(&raw, &cfg).await
}

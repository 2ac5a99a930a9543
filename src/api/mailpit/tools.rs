//! Mailpit's message tools: `GET /api/v1/message/{ID}/html-check`, `…/link-check?follow=`,
//! `…/sa-check` and `POST …/release` (`{"To": […]}`). The same checks and release as /v1's
//! ([`crate::checks`], [`crate::relay`]), answered in Mailpit's shapes
//! ([`crate::checks::mailpit`]); `latest` and the per-mailbox prefix work as everywhere.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::message::IdPath;
use super::{ok, MailpitError, MailpitResult, Scope};
use crate::api::checks::{run_html_check, run_link_check, run_spam_check};
use crate::api::AppState;
use crate::checks::mailpit::{self, HtmlCheckResponse, LinkCheckResponse, SpamAssassinResponse};
use crate::error::Error;
use crate::relay::{self, mailpit::MailpitRelease};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/message/{id}/html-check", get(html_check))
        .route("/api/v1/message/{id}/link-check", get(link_check))
        .route("/api/v1/message/{id}/sa-check", get(sa_check))
        .route("/api/v1/message/{id}/release", post(release))
}

#[derive(Deserialize)]
struct Follow {
    /// Whether to follow redirects; Mailpit's default is not to (its answer is the first hop).
    #[serde(default)]
    follow: bool,
}

/// The raw message `id` names in the scope.
async fn raw(s: &AppState, scope: &Scope, id: &str) -> MailpitResult<Vec<u8>> {
    let (m, mid) = s.engine.locate_message(scope.mailbox(), id).await?;
    Ok(s.engine
        .store()
        .raw(m.id, mid)
        .await?
        .ok_or(Error::MessageNotFound)?)
}

async fn html_check(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
) -> MailpitResult<Json<HtmlCheckResponse>> {
    let raw = raw(&s, &scope, &id).await?;
    Ok(Json(mailpit::html_check(&run_html_check(&s, raw).await?)))
}

async fn link_check(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
    Query(Follow { follow }): Query<Follow>,
) -> MailpitResult<Json<LinkCheckResponse>> {
    let raw = raw(&s, &scope, &id).await?;
    Ok(Json(mailpit::link_check(
        &run_link_check(&s, raw).await?,
        follow,
    )))
}

async fn sa_check(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
) -> MailpitResult<Json<SpamAssassinResponse>> {
    let raw = raw(&s, &scope, &id).await?;
    Ok(Json(mailpit::spam_check(&run_spam_check(&s, raw).await)))
}

/// Mailpit answers a release with a plain `ok`; a refusal (no relay, a recipient not allowed,
/// a loop, the relay failing) keeps its /v1 status and says why in a line.
async fn release(
    State(s): State<AppState>,
    scope: Scope,
    Path(IdPath { id }): Path<IdPath>,
    bytes: Bytes,
) -> MailpitResult<Response> {
    let to = serde_json::from_slice::<MailpitRelease>(&bytes)
        .map_err(|e| MailpitError::bad_request(e.to_string()))?
        .recipients();
    let (m, mid) = s.engine.locate_message(scope.mailbox(), &id).await?;
    relay::release(&s.engine, &m.id, &mid, &to).await?;
    Ok(ok())
}

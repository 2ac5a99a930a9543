//! The HTTP API of `shared/API.md`, on axum. Handlers are thin: parse, call the engine, shape JSON.

mod bulk;
mod checks;
mod error;
mod events;
mod faults;
mod frame;
mod intake;
mod mailboxes;
mod mailpit;
mod mbox;
mod messages;
mod relay;
mod remotes;
mod security;
mod sessions;
mod settings;
mod tags;
mod ui;
mod upload;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::sync::Accounts;

pub use error::{ApiError, ApiResult};

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
    /// Remote accounts (`/v1/remotes`).
    pub accounts: Arc<Accounts>,
    /// Ends long-polls and event streams at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Refuse requests whose Host is not a loopback name (bound to loopback, DNS rebinding).
    pub loopback_only: bool,
    pub require_token: bool,
}

/// The OpenAPI description of this API; `tests/api.rs` checks it against the routes below.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API as a router, without binding: tests and the desktop shell can mount it as they like.
pub fn router(
    engine: Engine,
    accounts: Arc<Accounts>,
    http_addr: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Router {
    let loopback = http_addr.ip().is_loopback();
    let state = AppState {
        require_token: !loopback || engine.config().require_token,
        loopback_only: loopback,
        engine,
        accounts,
        shutdown,
    };
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/tls/certificate", get(tls_certificate))
        .route("/metrics", get(metrics))
        .route("/v1/events", get(events::stream))
        .route("/v1/messages", get(messages::list_all))
        .route("/v1/messages/bulk", post(bulk::all_mailboxes))
        .route(
            "/v1/settings",
            get(settings::get_all).patch(settings::update),
        )
        .route("/v1/faults", get(faults::get_all).put(faults::replace))
        .route("/v1/mailbox", get(mailboxes::list).post(mailboxes::create))
        .route(
            "/v1/mailbox/{id}",
            get(mailboxes::get_one)
                .patch(mailboxes::update)
                .delete(mailboxes::delete),
        )
        .route("/v1/mailbox/{id}/messages", get(messages::list))
        .route("/v1/mailbox/{id}/messages/bulk", post(bulk::one_mailbox))
        .route(
            "/v1/mailbox/{id}/messages/{mid}",
            get(messages::get_one).delete(messages::delete),
        )
        .route("/v1/mailbox/{id}/messages/{mid}/raw", get(messages::raw))
        .route(
            "/v1/mailbox/{id}/messages/{mid}/attachments/{aid}",
            get(messages::attachment),
        )
        .merge(checks::routes())
        .merge(webhooks::routes())
        .merge(intake::routes())
        .merge(relay::routes())
        .merge(mbox::routes())
        .merge(upload::routes(
            state.engine.config().tiers.largest_message_bytes(),
        ))
        .merge(sessions::routes())
        .merge(remotes::routes())
        .merge(tags::routes())
        .merge(mailpit::routes())
        .merge(ui::routes())
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .layer(middleware::from_fn(security::json_errors))
        .with_state(state)
}

/// A body whose `Content-Length` is over [`MAX_BODY`] is refused at once, before the client
/// sends it: otherwise the 413 comes only after a megabyte was read, and the client, still
/// sending the rest when the connection closes, may get a broken pipe instead of the answer.
async fn refuse_declared_oversize(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let large_ok = upload::takes_large_bodies(req.method(), req.uri().path());
    if declared.is_some_and(|n| n > MAX_BODY as u64) && !large_ok {
        let message = format!("the request body is over {MAX_BODY} bytes");
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
            .into_response();
    }
    next.run(req).await
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The certificate STARTTLS and `--smtps` present, for a client to trust (it is public).
async fn tls_certificate(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.engine.tls().cert_pem().to_string(),
    )
}

async fn metrics(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    // Read before this handler's own query, so an idle engine's count stays still between scrapes.
    let queries = s.engine.store().queries();
    let (mailboxes, messages) = s.engine.store().totals(crate::clock::now_ms()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.engine.metrics().render(mailboxes, messages, queries),
    ))
}

async fn health(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "smtp": s.engine.smtp_addr().to_string(),
    }))
}

/// Serves the API until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    accounts: Arc<Accounts>,
    mut shutdown: watch::Receiver<bool>,
) {
    let http_addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "http: no local address");
            return;
        }
    };
    let app = router(engine, accounts, http_addr, shutdown.clone());
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "http: server failed");
    }
}

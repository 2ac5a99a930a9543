//! The HTTP API of `shared/API.md`, on axum. Handlers are thin: parse, call the engine, shape JSON.

mod error;
mod mailboxes;
mod messages;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::Engine;

pub use error::{ApiError, ApiResult};

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
    pub smtp_addr: SocketAddr,
}

/// The API as a router, without binding: tests and the desktop shell can mount it as they like.
pub fn router(engine: Engine, smtp_addr: SocketAddr) -> Router {
    let state = AppState { engine, smtp_addr };
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/messages", get(messages::list_all))
        .route("/v1/mailbox", get(mailboxes::list).post(mailboxes::create))
        .route(
            "/v1/mailbox/{id}",
            get(mailboxes::get_one).delete(mailboxes::delete),
        )
        .route("/v1/mailbox/{id}/messages", get(messages::list))
        .route(
            "/v1/mailbox/{id}/messages/{mid}",
            get(messages::get_one).delete(messages::delete),
        )
        .route("/v1/mailbox/{id}/messages/{mid}/raw", get(messages::raw))
        .route(
            "/v1/mailbox/{id}/messages/{mid}/attachments/{aid}",
            get(messages::attachment),
        )
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn health(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "smtp": s.smtp_addr.to_string(),
    }))
}

/// Serves the API until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    smtp_addr: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(engine, smtp_addr);
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

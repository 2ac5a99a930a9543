//! `GET /v1/mailbox/{id}/mbox`: the whole mailbox as one mbox file ("Download all (mbox)"),
//! streamed a page of messages at a time, oldest first (see [`crate::mbox`]).

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiResult;
use super::AppState;

/// Messages read from the store per step of the stream: bounds the memory one download holds.
const PAGE: u32 = 32;

/// The mbox route, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/mailbox/{id}/mbox", get(download))
}

async fn download(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let m = s.engine.mailbox(&id).await?;
    let store = s.engine.store().clone();
    let mailbox_id = m.id.clone();
    let pages = futures_util::stream::unfold(Some(0i64), move |after| {
        let (store, mailbox_id) = (store.clone(), mailbox_id.clone());
        async move {
            let after = after?;
            match store.raw_page(mailbox_id, after, PAGE).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().map(|r| r.seq);
                    let mut chunk = Vec::new();
                    for r in rows {
                        chunk.extend(crate::mbox::entry(&r.envelope_from, r.received_at, &r.raw));
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    // The headers are gone already: the download ends short, the log says why.
                    tracing::error!(error = %e, "mbox download failed");
                    Some((Err(std::io::Error::other("the store failed")), None))
                }
            }
        }
    });
    let filename = format!(
        "attachment; filename=\"{}.mbox\"",
        m.address.replace('"', "")
    );
    let disposition = HeaderValue::from_str(&filename)
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"mailbox.mbox\""));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/mbox"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

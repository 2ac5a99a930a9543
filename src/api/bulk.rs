//! `POST /v1/messages/bulk` and `POST /v1/mailbox/{id}/messages/bulk`: mark read, unread or
//! delete a selection of messages in one call ([`crate::engine::Engine::bulk`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::mailboxes::json_body;
use super::AppState;
use crate::model::Mailbox;
use crate::store::{BulkAction, Selection};

/// The body: an action and exactly one selector.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BulkRequest {
    action: String,
    ids: Option<Vec<String>>,
    query: Option<String>,
    all: Option<bool>,
}

impl BulkRequest {
    fn action(&self) -> ApiResult<BulkAction> {
        match self.action.as_str() {
            "read" => Ok(BulkAction::Read),
            "unread" => Ok(BulkAction::Unread),
            "delete" => Ok(BulkAction::Delete),
            other => Err(ApiError::bad_request(format!(
                "action must be read, unread or delete, not {other:?}"
            ))),
        }
    }

    fn selection(self) -> ApiResult<Selection> {
        match (self.ids, self.query, self.all) {
            (Some(ids), None, None) => Ok(Selection::Ids(ids)),
            (None, Some(q), None) => Ok(Selection::Query(crate::query::parse(&q)?)),
            (None, None, Some(true)) => Ok(Selection::All),
            (None, None, Some(false)) => Err(ApiError::bad_request(
                "all must be true (to select every message)",
            )),
            (None, None, None) => Err(ApiError::bad_request(
                "a selector is missing: give one of ids, query or all",
            )),
            _ => Err(ApiError::bad_request(
                "more than one selector: give only one of ids, query or all",
            )),
        }
    }
}

async fn run(s: &AppState, mailbox: Option<&Mailbox>, body: &Bytes) -> ApiResult<Json<Value>> {
    let body: BulkRequest = json_body(body)?;
    let action = body.action()?;
    let selection = body.selection()?;
    let outcome = s.engine.bulk(mailbox, selection, action).await?;
    Ok(Json(json!({"matched": outcome.matched})))
}

/// Across every live mailbox.
pub(crate) async fn all_mailboxes(
    State(s): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    run(&s, None, &body).await
}

/// In one mailbox (by id or address).
pub(crate) async fn one_mailbox(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let m = s.engine.mailbox(&id).await?;
    run(&s, Some(&m), &body).await
}

//! `GET|PUT|DELETE /api/v1/messages` and `GET|DELETE /api/v1/search`: pages of summaries in
//! Mailpit's list object, read state and deletes over [`crate::engine::Engine::bulk`], the
//! query language of `q=` (one parser).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::shape::Page;
use super::{body, ok, MailpitError, MailpitResult, Scope};
use crate::api::AppState;
use crate::clock::now_ms;
use crate::store::{BulkAction, MessageFilter, Selection};

/// Mailpit's default page, and the largest one taken (as `/v1`'s `limit`).
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/messages", get(list).put(set_read).delete(delete))
        .route("/api/v1/search", get(search).delete(delete_found))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    start: Option<u64>,
    limit: Option<u64>,
    query: Option<String>,
}

/// The page `start..start+limit` of the messages in scope matching `query`, with the counts.
async fn page(s: &AppState, scope: &Scope, q: &PageQuery) -> MailpitResult<Page> {
    let start = q.start.unwrap_or(0);
    let limit = match q.limit.unwrap_or(DEFAULT_LIMIT) {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let query = q
        .query
        .as_deref()
        .map(crate::query::parse)
        .transpose()?
        .filter(|q| !q.terms.is_empty());
    let end = u32::try_from(start.saturating_add(limit)).unwrap_or(u32::MAX);
    let filter = MessageFilter::default().with_query(query.clone());
    let store = s.engine.store();
    // Mailpit pages by offset: the newest `start + limit`, then `start` skipped.
    let newest = crate::store::Page {
        limit: end,
        ..Default::default()
    };
    let found = match scope.mailbox() {
        Some(m) => store.list_messages(m.id.clone(), newest, filter).await?.1,
        None => {
            store
                .recent_messages(now_ms(), newest, filter)
                .await?
                .messages
        }
    };
    let (total, unread) = s.engine.totals_in(scope.mailbox(), None).await?;
    let (matched, matched_unread) = match query {
        Some(q) => s.engine.totals_in(scope.mailbox(), Some(q)).await?,
        None => (total, unread),
    };
    Ok(Page {
        total,
        unread,
        matched,
        matched_unread,
        start,
        tags: s.engine.tags(scope.mailbox()).await?,
        messages: found.into_iter().skip(start as usize).collect(),
    })
}

async fn list(
    State(s): State<AppState>,
    scope: Scope,
    Query(mut q): Query<PageQuery>,
) -> MailpitResult<Json<Value>> {
    q.query = None;
    Ok(Json(page(&s, &scope, &q).await?.to_json()))
}

async fn search(
    State(s): State<AppState>,
    scope: Scope,
    Query(q): Query<PageQuery>,
) -> MailpitResult<Json<Value>> {
    if q.query.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(MailpitError::bad_request("no search query"));
    }
    Ok(Json(page(&s, &scope, &q).await?.to_json()))
}

/// `{"IDs":[…]}` (empty or absent: every message), with `Read` and `Search` for `PUT`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Selector {
    #[serde(rename = "IDs")]
    ids: Option<Vec<String>>,
    read: Option<bool>,
    search: Option<String>,
}

impl Selector {
    fn selection(self) -> MailpitResult<Selection> {
        if let Some(ids) = self.ids.filter(|i| !i.is_empty()) {
            return Ok(Selection::Ids(ids));
        }
        match self.search.filter(|q| !q.trim().is_empty()) {
            Some(q) => Ok(Selection::Query(crate::query::parse(&q)?)),
            None => Ok(Selection::All),
        }
    }
}

async fn set_read(
    State(s): State<AppState>,
    scope: Scope,
    bytes: Bytes,
) -> MailpitResult<Response> {
    let sel: Selector = body(&bytes)?;
    let action = if sel.read.unwrap_or(false) {
        BulkAction::Read
    } else {
        BulkAction::Unread
    };
    s.engine
        .bulk(scope.mailbox(), sel.selection()?, action)
        .await?;
    Ok(ok())
}

async fn delete(State(s): State<AppState>, scope: Scope, bytes: Bytes) -> MailpitResult<Response> {
    let sel: Selector = body(&bytes)?;
    let selection = match sel.ids.filter(|i| !i.is_empty()) {
        Some(ids) => Selection::Ids(ids),
        None => Selection::All,
    };
    s.engine
        .bulk(scope.mailbox(), selection, BulkAction::Delete)
        .await?;
    Ok(ok())
}

async fn delete_found(
    State(s): State<AppState>,
    scope: Scope,
    Query(q): Query<PageQuery>,
) -> MailpitResult<Response> {
    let query = q
        .query
        .as_deref()
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| MailpitError::bad_request("no search query"))?;
    let query = crate::query::parse(query)?;
    s.engine
        .bulk(scope.mailbox(), Selection::Query(query), BulkAction::Delete)
        .await?;
    Ok(ok())
}

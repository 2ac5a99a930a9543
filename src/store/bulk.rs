//! Operations on many messages at once: mark read or unread, delete. The selection (ids, a
//! query, or everything) and the change run in one write transaction, one statement each, so a
//! message arriving meanwhile is either wholly in or wholly out.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::ops::MessageFilter;
use super::paging::Window;
use super::search::{self, Scope};
use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::query::Query;

/// Which messages a bulk operation takes, within its [`BulkScope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These message ids; ids not in the scope are ignored.
    Ids(Vec<String>),
    /// The messages a search query matches.
    Query(Query),
    /// Every message.
    All,
}

/// Where a bulk operation looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkScope {
    /// One mailbox (by id).
    Mailbox(String),
    /// Every live mailbox at this instant.
    Live { now: Millis },
}

/// What a bulk operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Read,
    Unread,
    Delete,
}

/// What a bulk operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Messages selected in the scope.
    pub matched: u64,
    /// `(mailbox_id, message_id)` of each message the action changed (one already read is
    /// selected but not changed by `Read`).
    pub changed: Vec<(String, String)>,
}

impl Store {
    /// Runs `action` on the `selection` of messages in `scope`, in one transaction; after a
    /// delete the WAL is truncated, as for a single delete.
    pub async fn bulk(
        &self,
        scope: BulkScope,
        selection: Selection,
        action: BulkAction,
    ) -> Result<BulkOutcome> {
        let outcome = self
            .write(move |conn| {
                let ids = selected(conn, &scope, selection)?;
                let changed = apply(conn, &ids, action)?;
                Ok(BulkOutcome {
                    matched: ids.len() as u64,
                    changed,
                })
            })
            .await?;
        if action == BulkAction::Delete && !outcome.changed.is_empty() {
            self.checkpoint().await?;
        }
        Ok(outcome)
    }
}

impl BulkScope {
    /// A condition on a message row's `mailbox_id`, and its one parameter.
    pub(super) fn sql(&self) -> (&'static str, Value) {
        match self {
            BulkScope::Mailbox(id) => ("mailbox_id = ?", Value::Text(id.clone())),
            BulkScope::Live { now } => (
                "mailbox_id IN (SELECT id FROM mailbox WHERE expires_at > ?)",
                Value::Integer(*now),
            ),
        }
    }
}

/// The ids of the selected messages in scope.
pub(super) fn selected(
    conn: &Connection,
    scope: &BulkScope,
    selection: Selection,
) -> Result<Vec<String>> {
    let (scope_sql, scope_value) = scope.sql();
    let (sql, values) = match selection {
        Selection::Query(query) => {
            let search_scope = match scope {
                BulkScope::Mailbox(id) => Scope::Mailbox { id },
                BulkScope::Live { now } => Scope::Live { now: *now },
            };
            let (_, found) = search::list(
                conn,
                search_scope,
                Window::all(),
                &MessageFilter::default(),
                &query,
                u32::MAX,
            )?;
            return Ok(found.into_iter().map(|m| m.id).collect());
        }
        Selection::Ids(ids) => (
            format!(
                "SELECT id FROM message WHERE id IN (SELECT value FROM json_each(?)) AND {scope_sql}"
            ),
            vec![Value::Text(json_list(&ids)), scope_value],
        ),
        Selection::All => (
            format!("SELECT id FROM message WHERE {scope_sql}"),
            vec![scope_value],
        ),
    };
    let ids = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

/// Changes the messages `ids` in one statement; returns those it changed.
fn apply(conn: &Connection, ids: &[String], action: BulkAction) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = match action {
        BulkAction::Read => {
            "UPDATE message SET seen = 1 WHERE id IN (SELECT value FROM json_each(?1)) AND seen = 0
             RETURNING mailbox_id, id"
        }
        BulkAction::Unread => {
            "UPDATE message SET seen = 0 WHERE id IN (SELECT value FROM json_each(?1)) AND seen = 1
             RETURNING mailbox_id, id"
        }
        BulkAction::Delete => {
            "DELETE FROM message WHERE id IN (SELECT value FROM json_each(?1))
             RETURNING mailbox_id, id"
        }
    };
    let changed = conn
        .prepare_cached(sql)?
        .query_map([json_list(ids)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(changed)
}

/// A JSON array of strings, for `json_each` (one parameter however many ids).
pub(super) fn json_list(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

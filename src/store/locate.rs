//! Finding messages across mailboxes: by id or the newest one in a scope, and the counts a
//! paged list reports (for the Mailpit-compatible routes, whose message ids stand alone).

use rusqlite::{params_from_iter, OptionalExtension};

use super::bulk::{json_list, selected, BulkScope, Selection};
use super::Store;
use crate::error::Result;
use crate::query::Query;

impl Store {
    /// `(mailbox_id, message_id)` of message `id` in `scope`, or of the newest one there when
    /// `id` is `None`.
    pub async fn locate_message(
        &self,
        scope: BulkScope,
        id: Option<String>,
    ) -> Result<Option<(String, String)>> {
        self.read(move |conn| {
            let (scope_sql, value) = scope.sql();
            let found = match id {
                Some(id) => conn
                    .prepare_cached(&format!(
                        "SELECT mailbox_id, id FROM message WHERE id = ? AND {scope_sql}"
                    ))?
                    .query_row(
                        params_from_iter([rusqlite::types::Value::Text(id), value]),
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?,
                None => conn
                    .prepare_cached(&format!(
                        "SELECT mailbox_id, id FROM message WHERE {scope_sql}
                         ORDER BY seq DESC LIMIT 1"
                    ))?
                    .query_row([value], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
            };
            Ok(found)
        })
        .await
    }

    /// Messages and unread messages in `scope` (kept by triggers on each mailbox's row).
    pub async fn scope_totals(&self, scope: BulkScope) -> Result<(u64, u64)> {
        self.read(move |conn| {
            let (scope_sql, value) = scope.sql();
            // The mailbox row's own id is what the scope names.
            let sql = format!(
                "SELECT COALESCE(SUM(message_count), 0), COALESCE(SUM(unread_count), 0)
                 FROM mailbox WHERE {}",
                scope_sql.replacen("mailbox_id", "id", 1)
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([value], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
        .await
    }

    /// Messages a query matches in `scope`, and how many of them are unread.
    pub async fn query_totals(&self, scope: BulkScope, query: Query) -> Result<(u64, u64)> {
        self.read(move |conn| {
            let ids = selected(conn, &scope, Selection::Query(query))?;
            let unread: u64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM message
                     WHERE id IN (SELECT value FROM json_each(?1)) AND seen = 0",
                )?
                .query_row([json_list(&ids)], |r| r.get(0))?;
            Ok((ids.len() as u64, unread))
        })
        .await
    }
}

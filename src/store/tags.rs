//! Tags on messages (migration 9): each name once in `tag`, linked to the messages it labels.
//! A link goes with its message, and a tag with its last link (a trigger), so no name taken
//! from a deleted message stays behind.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::bulk::{json_list, selected, BulkScope, Selection};
use super::Store;
use crate::error::Result;

/// Labels the message `seq` with `tags` (names already cleaned), adding names not yet known.
pub(super) fn attach(conn: &Connection, seq: i64, tags: &[String]) -> Result<()> {
    for name in tags {
        conn.prepare_cached("INSERT INTO tag (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?
            .execute([name])?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO message_tag (message_seq, tag_id)
             SELECT ?1, id FROM tag WHERE name = ?2",
        )?
        .execute(rusqlite::params![seq, name])?;
    }
    Ok(())
}

impl Store {
    /// Replaces the tags of the `selection` of messages in `scope` with `tags` (cleaned names);
    /// returns `(mailbox_id, message_id)` of each message it tagged.
    pub async fn set_tags(
        &self,
        scope: BulkScope,
        selection: Selection,
        tags: Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        self.write(move |conn| {
            let ids = selected(conn, &scope, selection)?;
            let rows = conn
                .prepare_cached(
                    "SELECT seq, mailbox_id, id FROM message
                     WHERE id IN (SELECT value FROM json_each(?1))",
                )?
                .query_map([json_list(&ids)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, String, String)>>>()?;
            let mut changed = Vec::with_capacity(rows.len());
            for (seq, mailbox_id, id) in rows {
                conn.prepare_cached("DELETE FROM message_tag WHERE message_seq = ?1")?
                    .execute([seq])?;
                attach(conn, seq, &tags)?;
                changed.push((mailbox_id, id));
            }
            Ok(changed)
        })
        .await
    }

    /// The tags of the messages in `scope`, sorted without regard to case.
    pub async fn tags(&self, scope: BulkScope) -> Result<Vec<String>> {
        self.read(move |conn| {
            let (scope_sql, value) = scope.sql();
            let sql = format!(
                "SELECT t.name FROM tag t WHERE EXISTS (SELECT 1 FROM message_tag x
                   JOIN message m ON m.seq = x.message_seq WHERE x.tag_id = t.id AND m.{scope_sql})
                 ORDER BY t.name"
            );
            let names = conn
                .prepare_cached(&sql)?
                .query_map([value], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(names)
        })
        .await
    }

    /// Renames tag `from` to `to` (a cleaned name) on the messages in `scope`; where a message
    /// carries both already, they become one. Returns how many messages it relabelled.
    pub async fn rename_tag(&self, scope: BulkScope, from: String, to: String) -> Result<u64> {
        self.write(move |conn| {
            let Some(old) = tag_id(conn, &from)? else {
                return Ok(0);
            };
            let (scope_sql, value) = scope.sql();
            let in_scope = format!("message_seq IN (SELECT seq FROM message WHERE {scope_sql})");
            if tag_id(conn, &to)? == Some(old) {
                // The same tag but for case: the name itself changes, everywhere.
                conn.prepare_cached("UPDATE tag SET name = ?1 WHERE id = ?2")?
                    .execute(rusqlite::params![to, old])?;
                let count: u64 = conn
                    .prepare_cached(&format!(
                        "SELECT COUNT(*) FROM message_tag WHERE tag_id = ? AND {in_scope}"
                    ))?
                    .query_row(params_from_iter([Value::Integer(old), value]), |r| r.get(0))?;
                return Ok(count);
            }
            conn.prepare_cached(
                "INSERT INTO tag (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
            )?
            .execute([&to])?;
            let new = tag_id(conn, &to)?.unwrap_or_default();
            conn.prepare_cached(&format!(
                "INSERT OR IGNORE INTO message_tag (message_seq, tag_id)
                 SELECT message_seq, ? FROM message_tag WHERE tag_id = ? AND {in_scope}"
            ))?
            .execute(params_from_iter([
                Value::Integer(new),
                Value::Integer(old),
                value.clone(),
            ]))?;
            let moved = conn
                .prepare_cached(&format!(
                    "DELETE FROM message_tag WHERE tag_id = ? AND {in_scope}"
                ))?
                .execute(params_from_iter([Value::Integer(old), value]))?;
            // Nothing moved: the new name labels nothing, so it must not stay.
            conn.prepare_cached(
                "DELETE FROM tag WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM message_tag WHERE tag_id = ?1)",
            )?
            .execute([new])?;
            Ok(moved as u64)
        })
        .await
    }

    /// Takes tag `name` off the messages in `scope`; returns how many carried it.
    pub async fn delete_tag(&self, scope: BulkScope, name: String) -> Result<u64> {
        self.write(move |conn| {
            let Some(id) = tag_id(conn, &name)? else {
                return Ok(0);
            };
            let (scope_sql, value) = scope.sql();
            let removed = conn
                .prepare_cached(&format!(
                    "DELETE FROM message_tag WHERE tag_id = ?
                     AND message_seq IN (SELECT seq FROM message WHERE {scope_sql})"
                ))?
                .execute(params_from_iter([Value::Integer(id), value]))?;
            Ok(removed as u64)
        })
        .await
    }
}

fn tag_id(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM tag WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

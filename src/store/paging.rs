//! Keyset paging over messages: a page is bounded by the arrival order (`seq`) of the
//! messages named as cursors, never by an offset, so a page 90,000 deep costs what the first
//! does (one seek on `message_mailbox_seq` or the `message` rowid) and a message arriving
//! meanwhile cannot shift a page: arrivals only ever get a larger `seq`.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};

/// Which part of a list to answer: after one message, before another, or both (a window), in
/// either order; `limit` messages at most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Only messages received after this one.
    pub after: Option<String>,
    /// Only messages received before this one.
    pub before: Option<String>,
    /// Oldest first: with `after`, the messages right after it (walking forward); newest
    /// first (the default) takes the newest of the window.
    pub oldest_first: bool,
    pub limit: u32,
}

/// A page's cursors resolved to arrival order: `after_seq < seq < before_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub after_seq: i64,
    pub before_seq: i64,
    pub oldest_first: bool,
}

impl Window {
    /// Every message, newest first.
    pub fn all() -> Window {
        Window {
            after_seq: 0,
            before_seq: i64::MAX,
            oldest_first: false,
        }
    }

    /// The SQL that bounds `m.seq`, its two parameters `?first` and the next one bound to
    /// [`Window::bounds`].
    pub fn bounds_sql(first: usize) -> String {
        format!("m.seq > ?{first} AND m.seq < ?{}", first + 1)
    }

    /// The order to list in.
    pub fn order_sql(&self) -> &'static str {
        if self.oldest_first {
            "m.seq ASC"
        } else {
            "m.seq DESC"
        }
    }

    pub fn bounds(&self) -> [i64; 2] {
        [self.after_seq, self.before_seq]
    }
}

impl Page {
    /// Resolves the cursors; a cursor naming no message (of `mailbox`, when given) is
    /// `MessageNotFound`, as `after=` always was.
    pub(super) fn window(&self, conn: &Connection, mailbox: Option<&str>) -> Result<Window> {
        let seq_of = |id: &str| -> Result<i64> {
            let found: Option<(i64, String)> = conn
                .prepare_cached("SELECT seq, mailbox_id FROM message WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match found {
                Some((seq, owner)) if mailbox.is_none_or(|m| m == owner) => Ok(seq),
                _ => Err(Error::MessageNotFound),
            }
        };
        Ok(Window {
            after_seq: self.after.as_deref().map(seq_of).transpose()?.unwrap_or(0),
            before_seq: self
                .before
                .as_deref()
                .map(seq_of)
                .transpose()?
                .unwrap_or(i64::MAX),
            oldest_first: self.oldest_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plans of the page queries: each a seek on an index or the rowid, bounded by the
    /// limit, never a scan of what lies before the page, and no sort (the index is in order):
    /// `SEARCH m USING INDEX message_mailbox_seq (mailbox_id=? AND seq>? AND seq<?)` for a
    /// mailbox, `SEARCH m USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)` for
    /// every mailbox.
    #[test]
    fn pages_seek_their_index_and_never_sort() {
        let mut conn = Connection::open_in_memory().expect("db");
        super::super::migrate::run(&mut conn).expect("migrations");
        let plan = |sql: &str| -> String {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let rows = stmt
                .query_map([1, 90_000], |r| r.get::<_, String>(3))
                .expect("rows")
                .collect::<rusqlite::Result<Vec<_>>>()
                .expect("details");
            rows.join("; ")
        };
        for oldest_first in [false, true] {
            let window = Window {
                after_seq: 1,
                before_seq: 90_000,
                oldest_first,
            };
            let (bounds, order) = (Window::bounds_sql(1), window.order_sql());
            let mailbox = plan(&format!(
                "SELECT m.subject FROM message m WHERE m.mailbox_id = 'x' AND {bounds}
                 ORDER BY {order} LIMIT 50"
            ));
            assert!(
                mailbox.contains(
                    "SEARCH m USING INDEX message_mailbox_seq (mailbox_id=? AND seq>? AND seq<?)"
                ),
                "{mailbox}"
            );
            assert!(!mailbox.contains("TEMP B-TREE"), "{mailbox}");
            let all = plan(&format!(
                "SELECT m.subject FROM message m JOIN mailbox b ON b.id = m.mailbox_id
                 WHERE b.expires_at > 0 AND {bounds} ORDER BY {order} LIMIT 50"
            ));
            assert!(
                all.contains("SEARCH m USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
                "{all}"
            );
            assert!(!all.contains("TEMP B-TREE"), "{all}");
        }
    }
}

//! Big deletes without stalls, and giving the space back.
//!
//! Deleting a mailbox with a hundred thousand messages in one statement held the writer (and so
//! every other mailbox's SMTP transaction) for seconds, and its cascade's journal sat in memory.
//! So a mailbox with more than one chunk of messages is *hidden* in the caller's short write
//! (`purging`, expiry 0, address freed: from that commit no list, RCPT, wait or search finds it)
//! and the writer frees it a chunk at a time, one transaction per chunk, each after a group of
//! other jobs: an ingest waits at most one chunk. `secure_delete` zeroes what each chunk frees.
//! Once nothing is left to free, the free pages go back to the file system
//! (`auto_vacuum = INCREMENTAL`, a bounded `incremental_vacuum` per step) and the WAL is
//! truncated, so the file shrinks and no deleted byte remains in any file.

use std::time::Instant;

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
pub use crate::config::StoreTuning as Tuning;
use crate::error::Result;

/// What became of a mailbox asked to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Removed {
    /// Deleted with everything in it, now.
    Deleted(String),
    /// Hidden now, for the writer to free ([`purge_step`]).
    Hidden(String),
}

impl Removed {
    pub fn address(&self) -> &str {
        match self {
            Removed::Deleted(a) | Removed::Hidden(a) => a,
        }
    }
}

/// Deletes a mailbox now when it is small, or hides it for the writer to free; `None` if
/// there is no such mailbox (or it is already going).
pub(super) fn remove(conn: &Connection, id: &str, tuning: Tuning) -> Result<Option<Removed>> {
    remove_within(conn, id, &mut u64::from(tuning.purge_chunk))
}

/// [`remove`] with what is left of this write's budget of messages to delete at once: a
/// mailbox within it is deleted (and spends it), any other is hidden.
fn remove_within(conn: &Connection, id: &str, budget: &mut u64) -> Result<Option<Removed>> {
    let found: Option<(String, u64)> = conn
        .prepare_cached("SELECT address, message_count FROM mailbox WHERE id = ?1 AND NOT purging")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((address, count)) = found else {
        return Ok(None);
    };
    if count <= *budget {
        *budget -= count;
        conn.prepare_cached("DELETE FROM mailbox WHERE id = ?1")?
            .execute([id])?;
        Ok(Some(Removed::Deleted(address)))
    } else {
        hide(conn, id)?;
        Ok(Some(Removed::Hidden(address)))
    }
}

/// Removes every mailbox expired at `now`, deleting at most one chunk of messages in this
/// write (many small mailboxes expiring together are as big as one big one: the rest are
/// hidden and freed in chunks); returns their ids and what became of them.
pub(super) fn remove_expired(
    conn: &Connection,
    now: Millis,
    tuning: Tuning,
) -> Result<Vec<(String, Removed)>> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM mailbox WHERE expires_at <= ?1 AND NOT purging")?
        .query_map([now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut gone = Vec::with_capacity(ids.len());
    let mut budget = u64::from(tuning.purge_chunk);
    for id in ids {
        if let Some(removed) = remove_within(conn, &id, &mut budget)? {
            gone.push((id, removed));
        }
    }
    Ok(gone)
}

/// Hides a mailbox from every read at once and leaves its messages for [`purge_step`].
pub(super) fn hide(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE mailbox SET purging = 1, expires_at = 0, address = 'purging:' || id
         WHERE id = ?1",
    )?
    .execute([id])?;
    Ok(())
}

/// Whether a hidden mailbox waits to be freed.
pub(super) fn pending(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM mailbox WHERE purging LIMIT 1")?
        .query_row([], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// Frees one chunk of a hidden mailbox's messages (the mailbox row with its last chunk), in
/// its own transaction; false when there was nothing left to free.
pub(super) fn purge_step(conn: &Connection, tuning: Tuning) -> Result<bool> {
    let started = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let freed = (|| -> Result<Option<(String, usize)>> {
        let Some(id) = conn
            .prepare_cached("SELECT id FROM mailbox WHERE purging LIMIT 1")?
            .query_row([], |r| r.get::<_, String>(0))
            .optional()?
        else {
            return Ok(None);
        };
        let n = conn
            .prepare_cached(
                "DELETE FROM message WHERE seq IN
                     (SELECT seq FROM message WHERE mailbox_id = ?1 ORDER BY seq LIMIT ?2)",
            )?
            .execute(params![id, tuning.purge_chunk])?;
        if n < tuning.purge_chunk as usize {
            conn.prepare_cached("DELETE FROM mailbox WHERE id = ?1")?
                .execute([&id])?;
        }
        Ok(Some((id, n)))
    })();
    match freed {
        Ok(found) => {
            conn.execute_batch("COMMIT")?;
            if let Some((id, n)) = &found {
                tracing::debug!(mailbox = %id, messages = n, ms = started.elapsed().as_millis() as u64, "store: purged a chunk");
            }
            Ok(found.is_some())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Hands up to one step of free pages back to the file system; false when none are left.
/// (The file shrinks at the next checkpoint: the WAL holds the truncation until then.)
pub(super) fn vacuum_step(conn: &Connection, tuning: Tuning) -> Result<bool> {
    let free: u64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    if free == 0 {
        return Ok(false);
    }
    conn.execute_batch(&format!(
        "PRAGMA incremental_vacuum({})",
        tuning.vacuum_step_pages
    ))?;
    let left: u64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    // Without incremental auto-vacuum nothing moves: stop rather than spin.
    Ok(left > 0 && left < free)
}

/// Turns on incremental auto-vacuum, so freed pages can go back to the file system. A file
/// without tables (or not yet in WAL mode) takes it at once; any other needs one VACUUM, which rewrites the whole file
/// (about as long as copying it, and as much free disk again while it runs; the temporary
/// copy goes to a file, not to memory). Done once: the mode is kept in the file.
pub(super) fn use_incremental_vacuum(conn: &Connection) -> Result<()> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode == 2 {
        return Ok(());
    }
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
    // An empty file may have taken it already (not once WAL wrote its header).
    if conn.query_row("PRAGMA auto_vacuum", [], |r| r.get::<_, i64>(0))? == 2 {
        return Ok(());
    }
    let started = Instant::now();
    let size: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    tracing::info!(
        pages = size,
        "store: one-time VACUUM to turn on incremental auto-vacuum"
    );
    conn.execute_batch("PRAGMA temp_store = FILE; VACUUM; PRAGMA temp_store = MEMORY;")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "store: VACUUM done"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(conn: &Connection, mailbox: &str, messages: i64) {
        conn.execute(
            "INSERT INTO mailbox (id, address, tier, created_at, expires_at)
             VALUES (?1, ?1 || '@x.test', 'anon', 0, 10)",
            [mailbox],
        )
        .expect("mailbox");
        for i in 0..messages {
            conn.execute(
                "INSERT INTO message (id, mailbox_id, received_at, envelope_from, to_json,
                     cc_json, subject, snippet, size, has_attachments)
                 VALUES (?1 || '-' || ?2, ?1, 0, '', '[]', '[]', 's', '', 1, 0)",
                params![mailbox, i],
            )
            .expect("message");
        }
    }

    /// A small mailbox goes at once; a big one is hidden at once (its address free again) and
    /// freed chunk by chunk, its row with the last chunk.
    #[test]
    fn big_mailboxes_are_hidden_then_freed_in_chunks() {
        let mut conn = Connection::open_in_memory().expect("db");
        super::super::migrate::run(&mut conn).expect("migrations");
        let tuning = Tuning {
            purge_chunk: 10,
            vacuum_step_pages: 8,
        };
        store_with(&conn, "small", 10);
        store_with(&conn, "big", 25);
        store_with(&conn, "six", 6);
        store_with(&conn, "seven", 7);
        assert_eq!(
            remove(&conn, "small", tuning).expect("small"),
            Some(Removed::Deleted("small@x.test".into()))
        );
        // Together over one chunk: the second small one is hidden too.
        assert_eq!(
            remove_expired(&conn, 10, tuning).expect("expired"),
            [
                ("big".to_string(), Removed::Hidden("big@x.test".into())),
                ("six".to_string(), Removed::Deleted("six@x.test".into())),
                ("seven".to_string(), Removed::Hidden("seven@x.test".into())),
            ]
        );
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(
            count("SELECT count(*) FROM mailbox WHERE address LIKE '%@x.test'"),
            0
        );
        assert_eq!(count("SELECT count(*) FROM message"), 32);
        assert!(pending(&conn).expect("pending"));
        assert_eq!(
            remove(&conn, "big", tuning).expect("again"),
            None,
            "already going"
        );
        for left in [22, 12, 7, 0] {
            assert!(purge_step(&conn, tuning).expect("step"));
            assert_eq!(count("SELECT count(*) FROM message"), left);
        }
        assert_eq!(count("SELECT count(*) FROM mailbox"), 0);
        assert!(!purge_step(&conn, tuning).expect("nothing left"));
        assert!(!pending(&conn).expect("pending"));
    }

    /// A new file gets incremental auto-vacuum before its first table; an old file gets it by
    /// its one VACUUM, and then gives free pages back.
    #[test]
    fn incremental_vacuum_is_turned_on_for_new_and_old_files() {
        let dir = tempfile::tempdir().expect("dir");
        let mode = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
                .expect("mode")
        };
        let fresh = Connection::open(dir.path().join("new.db")).expect("new");
        fresh
            .pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        use_incremental_vacuum(&fresh).expect("new file");
        fresh.execute_batch("CREATE TABLE t (x)").expect("table");
        assert_eq!(mode(&fresh), 2);

        let old = Connection::open(dir.path().join("old.db")).expect("old");
        old.pragma_update(None, "journal_mode", "WAL").expect("wal");
        old.execute_batch(
            "CREATE TABLE t (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
             FROM n WHERE i < 2000) INSERT INTO t SELECT randomblob(1000) FROM n;",
        )
        .expect("rows");
        assert_eq!(mode(&old), 0);
        use_incremental_vacuum(&old).expect("old file");
        assert_eq!(mode(&old), 2);
        old.execute_batch("DELETE FROM t").expect("delete");
        let pages = |sql: &str| -> i64 { old.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert!(pages("PRAGMA freelist_count") > 400);
        let tuning = Tuning {
            purge_chunk: 10,
            vacuum_step_pages: 100,
        };
        while vacuum_step(&old, tuning).expect("step") {}
        assert_eq!(pages("PRAGMA freelist_count"), 0);
    }
}

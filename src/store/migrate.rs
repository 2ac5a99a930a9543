//! Versioned schema migrations, compiled into the binary and applied in order at open.

use rusqlite::Connection;

/// Migration N (1-based) is `MIGRATIONS[N - 1]`; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_init.sql"),
    include_str!("sql/0002_webhooks.sql"),
    include_str!("sql/0003_settings.sql"),
    include_str!("sql/0004_remotes.sql"),
];

pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

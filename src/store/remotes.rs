//! The sync tables (`store/sql/0004_remotes.sql`): remote accounts, the local mailboxes that
//! mirror remote ones, and which remote messages each of them already holds.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::NewMailbox;
use crate::clock::Millis;
use crate::error::Result;

/// A remote account as stored, key included (it never leaves this module's callers in sync).
#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub url: String,
    pub api_key: String,
    pub created_at: Millis,
}

// The key stays out of `{:?}`, so no debug log or panic message can carry it.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A local mailbox that mirrors one on a remote endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub mailbox_id: String,
    pub address: String,
    pub expires_at: Millis,
    pub remote_mailbox_id: String,
    pub cursor: Option<String>,
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        api_key: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn insert_account(conn: &Connection, a: &Account) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO remote (id, name, url, api_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![a.id, a.name, a.url, a.api_key, a.created_at])?;
    Ok(())
}

pub fn accounts(conn: &Connection) -> Result<Vec<Account>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, name, url, api_key, created_at FROM remote ORDER BY created_at, id",
        )?
        .query_map([], account_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn account(conn: &Connection, id: &str) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached("SELECT id, name, url, api_key, created_at FROM remote WHERE id = ?1")?
        .query_row([id], account_from_row)
        .optional()?)
}

/// Deletes an account; its mailboxes' mirror rows go with it (the mailboxes are removed first
/// by the caller, so their deletion is announced).
pub fn delete_account(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM remote WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// Creates the local mailbox of a remote one and its mirror row, in one transaction.
pub fn insert_tracked(
    conn: &Connection,
    mailbox: &NewMailbox,
    remote_id: &str,
    remote_mailbox_id: &str,
) -> Result<crate::model::Mailbox> {
    let m = super::insert_mailbox(conn, mailbox)?;
    conn.prepare_cached(
        "INSERT INTO remote_mailbox (mailbox_id, remote_id, remote_mailbox_id) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![m.id, remote_id, remote_mailbox_id])?;
    Ok(m)
}

/// The mailboxes an account mirrors, live or not yet swept.
pub fn tracked(conn: &Connection, remote_id: &str) -> Result<Vec<Tracked>> {
    let rows = conn
        .prepare_cached(
            "SELECT m.id, m.address, m.expires_at, r.remote_mailbox_id, r.cursor
               FROM remote_mailbox r JOIN mailbox m ON m.id = r.mailbox_id
              WHERE r.remote_id = ?1 ORDER BY m.created_at, m.id",
        )?
        .query_map([remote_id], |r| {
            Ok(Tracked {
                mailbox_id: r.get(0)?,
                address: r.get(1)?,
                expires_at: r.get(2)?,
                remote_mailbox_id: r.get(3)?,
                cursor: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The account and remote mailbox id behind a local mailbox, if it mirrors one.
pub fn remote_of(conn: &Connection, mailbox_id: &str) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT remote_id, remote_mailbox_id FROM remote_mailbox WHERE mailbox_id = ?1",
        )?
        .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Local mailbox ids of an account's mirrors.
pub fn mailboxes_of(conn: &Connection, remote_id: &str) -> Result<Vec<String>> {
    let rows = conn
        .prepare_cached("SELECT mailbox_id FROM remote_mailbox WHERE remote_id = ?1")?
        .query_map([remote_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Whether this mailbox already holds (or skipped) that remote message.
pub fn is_taken(conn: &Connection, mailbox_id: &str, remote_message_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM remote_message WHERE mailbox_id = ?1 AND remote_message_id = ?2",
        )?
        .query_row([mailbox_id, remote_message_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Records a remote message as taken (its local copy, or `None` when it was skipped) and moves
/// the mailbox's catch-up cursor to it. Runs in the transaction that stores the copy.
pub fn mark_taken(
    conn: &Connection,
    mailbox_id: &str,
    remote_message_id: &str,
    message_id: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO remote_message (mailbox_id, remote_message_id, message_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![mailbox_id, remote_message_id, message_id])?;
    conn.prepare_cached("UPDATE remote_mailbox SET cursor = ?2 WHERE mailbox_id = ?1")?
        .execute([mailbox_id, remote_message_id])?;
    Ok(())
}

/// Forgets the cursor (the remote no longer knows that message): the next catch-up reads the
/// newest page and relies on [`is_taken`].
pub fn clear_cursor(conn: &Connection, mailbox_id: &str) -> Result<()> {
    conn.prepare_cached("UPDATE remote_mailbox SET cursor = NULL WHERE mailbox_id = ?1")?
        .execute([mailbox_id])?;
    Ok(())
}

/// The local copy of a remote message, if this mailbox holds one.
pub fn local_message(
    conn: &Connection,
    mailbox_id: &str,
    remote_message_id: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT message_id FROM remote_message WHERE mailbox_id = ?1 AND remote_message_id = ?2",
        )?
        .query_row([mailbox_id, remote_message_id], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

/// Sets a mirror's expiry to the remote's, live or not (the remote is the source of truth).
pub fn set_expiry(conn: &Connection, mailbox_id: &str, expires_at: Millis) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE mailbox SET expires_at = ?2
             WHERE id = ?1 AND expires_at <> ?2 AND NOT purging",
        )?
        .execute(params![mailbox_id, expires_at])?
        > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Tier;
    use crate::model::Origin;

    fn open() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        store.close();
        let conn = Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        (dir, conn)
    }

    #[test]
    fn a_remote_message_is_taken_once_and_goes_with_its_mailbox() {
        let (_dir, conn) = open();
        insert_account(
            &conn,
            &Account {
                id: "rmt_1".into(),
                name: "service".into(),
                url: "http://127.0.0.1:9".into(),
                api_key: "k".into(),
                created_at: 1,
            },
        )
        .unwrap();
        let mailbox = NewMailbox {
            id: "mbx_1".into(),
            address: "a@b.c".into(),
            tier: Tier::Anon,
            created_at: 1,
            expires_at: i64::MAX,
            origin: Origin::Remote,
            remote: Some("rmt_1".into()),
            smtp_user: None,
        };
        insert_tracked(&conn, &mailbox, "rmt_1", "mbx_r").unwrap();
        assert!(!is_taken(&conn, "mbx_1", "msg_r1").unwrap());
        mark_taken(&conn, "mbx_1", "msg_r1", Some("msg_l1")).unwrap();
        // A second record of the same message changes nothing (it is the same message).
        mark_taken(&conn, "mbx_1", "msg_r1", Some("msg_other")).unwrap();
        assert!(is_taken(&conn, "mbx_1", "msg_r1").unwrap());
        assert_eq!(
            local_message(&conn, "mbx_1", "msg_r1").unwrap().as_deref(),
            Some("msg_l1")
        );
        let t = tracked(&conn, "rmt_1").unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].cursor.as_deref(), Some("msg_r1"));
        assert_eq!(
            remote_of(&conn, "mbx_1").unwrap(),
            Some(("rmt_1".into(), "mbx_r".into()))
        );
        conn.execute("DELETE FROM mailbox WHERE id = 'mbx_1'", [])
            .unwrap();
        assert!(!is_taken(&conn, "mbx_1", "msg_r1").unwrap());
        assert!(tracked(&conn, "rmt_1").unwrap().is_empty());
        assert!(delete_account(&conn, "rmt_1").unwrap());
        assert!(accounts(&conn).unwrap().is_empty());
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let a = Account {
            id: "rmt_1".into(),
            name: "n".into(),
            url: "http://x".into(),
            api_key: "secret-key-123".into(),
            created_at: 0,
        };
        assert!(!format!("{a:?}").contains("secret-key-123"));
    }
}

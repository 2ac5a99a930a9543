//! Versioned schema migrations, compiled into the binary and applied in order at open.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::search::{self, SearchDoc};
use crate::mime;
use crate::model::{attachments_url_base, Envelope};
use crate::sanitize::{SanitizeOptions, Sanitizer};

/// Migration N (1-based) is `MIGRATIONS[N - 1]`; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_init.sql"),
    include_str!("sql/0002_webhooks.sql"),
    include_str!("sql/0003_settings.sql"),
    include_str!("sql/0004_remotes.sql"),
    include_str!("sql/0005_rendered.sql"),
    include_str!("sql/0006_envelope.sql"),
    include_str!("sql/0007_smtp_user.sql"),
    include_str!("sql/0008_search.sql"),
    include_str!("sql/0009_tags.sql"),
    include_str!("sql/0010_purge.sql"),
    include_str!("sql/0011_relay.sql"),
];

/// The migration that adds the rendered columns; its rows are filled in by [`backfill_rendered`].
const RENDERED: usize = 5;
/// The migration that adds the search index; its rows are filled in by [`backfill_search`].
const SEARCH: usize = 8;

pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if i + 1 == RENDERED {
            backfill_rendered(&tx)?;
        }
        if i + 1 == SEARCH {
            backfill_search(&tx)?;
        }
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Renders the remote view of the messages stored before migration 5 as ingest now does,
/// once, so that reading a message never parses or sanitizes: for each whose stored HTML had
/// remote content blocked, its HTML re-parsed from the raw source and sanitized with remote
/// content allowed.
fn backfill_rendered(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let blocked: Vec<(i64, String, String)> = tx
        .prepare(
            "SELECT b.message_seq, m.id, mb.address
             FROM message_body b JOIN message m ON m.seq = b.message_seq
             JOIN mailbox mb ON mb.id = m.mailbox_id
             WHERE b.remote_blocked AND b.html IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let sanitizer = Sanitizer::new();
    for (seq, message_id, address) in blocked {
        let base = attachments_url_base(&address, &message_id);
        let html_remote = remote_view(tx, &sanitizer, seq, &base)?;
        tx.execute(
            "UPDATE message_body SET html_remote = ?2 WHERE message_seq = ?1",
            params![seq, html_remote],
        )?;
    }
    Ok(())
}

/// Indexes the messages stored before migration 8 as ingest indexes new ones, from their
/// stored summary and body (the HTML's text from the sanitized HTML, which keeps the text).
fn backfill_search(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare(
        "SELECT m.seq, m.subject, m.from_json, m.to_json, m.cc_json, b.reply_to_json,
                b.header_msg_id, b.text, b.html, b.envelope_json
         FROM message m JOIN message_body b ON b.message_seq = m.seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let from: Option<String> = r.get(2)?;
        let json = |i: usize| -> rusqlite::Result<Vec<mime::Address>> {
            Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
        };
        let parsed = mime::ParsedMessage {
            subject: r.get(1)?,
            from: from.and_then(|f| serde_json::from_str(&f).ok()),
            to: json(3)?,
            cc: json(4)?,
            reply_to: json(5)?,
            message_id: r.get(6)?,
            text: r.get(7)?,
            html: r.get(8)?,
            ..Default::default()
        };
        let bcc = r
            .get::<_, Option<String>>(9)?
            .and_then(|j| serde_json::from_str::<Envelope>(&j).ok())
            .map(|e| e.bcc(&parsed.to, &parsed.cc))
            .unwrap_or_default();
        search::index(tx, r.get(0)?, &SearchDoc::new(&parsed), &bcc).map_err(|e| match e {
            crate::error::Error::Storage(e) => e,
            other => rusqlite::Error::ToSqlConversionFailure(Box::new(other)),
        })?;
    }
    Ok(())
}

/// The message's HTML sanitized with remote content allowed, its `cid:` images pointing at
/// its stored attachments under `base`.
fn remote_view(
    tx: &Transaction<'_>,
    sanitizer: &Sanitizer,
    seq: i64,
    base: &str,
) -> rusqlite::Result<Option<String>> {
    let Some(raw) = tx
        .query_row(
            "SELECT raw FROM message_raw WHERE message_seq = ?1",
            [seq],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let cids: Vec<(String, String)> = tx
        .prepare(
            "SELECT content_id, id FROM attachment
             WHERE message_seq = ?1 AND content_id IS NOT NULL ORDER BY position",
        )?
        .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let cid_url = |cid: &str| {
        cids.iter()
            .find(|(c, _)| c == cid)
            .map(|(_, id)| format!("{base}{id}"))
    };
    let options = SanitizeOptions {
        allow_remote: true,
        cid_url: &cid_url,
    };
    Ok(mime::parse(&raw)
        .html
        .map(|html| sanitizer.sanitize(&html, &options).html))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message stored under schema 4 (before rendering at ingest) is rendered by migration 5
    /// as ingest renders new ones.
    #[test]
    fn rendered_backfill_fills_old_messages() {
        let mut conn = Connection::open_in_memory().expect("in-memory db");
        let tx = conn.transaction().expect("tx");
        for sql in &MIGRATIONS[..RENDERED - 1] {
            tx.execute_batch(sql).expect("old schema");
        }
        tx.pragma_update(None, "user_version", RENDERED - 1)
            .expect("version");
        tx.commit().expect("commit");

        let raw = "Subject: Your code\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/html\r\n\r\n<p>Code: 482913 <a href='https://x.test/go'>go</a>\
            <img src='http://x.test/p.gif'><img src='cid:logo@x'></p>\r\n--b\r\n\
            Content-Type: image/png\r\nContent-ID: <logo@x>\r\n\r\nPNG\r\n--b--\r\n";
        let parsed = mime::parse(raw.as_bytes());
        let html = parsed.html.clone().expect("html part");
        let base = attachments_url_base("a+b@x.test", "msg_1");
        let cid_url = |cid: &str| (cid == "logo@x").then(|| format!("{base}att_1"));
        let sanitizer = Sanitizer::new();
        let sanitize = |allow_remote| {
            sanitizer.sanitize(
                &html,
                &SanitizeOptions {
                    allow_remote,
                    cid_url: &cid_url,
                },
            )
        };
        let blocked = sanitize(false);
        assert!(blocked.remote_content_blocked);
        conn.execute_batch(
            "INSERT INTO mailbox (id, address, tier, created_at, expires_at)
                 VALUES ('mbx_1', 'a+b@x.test', 'anon', 0, 1);
             INSERT INTO message (seq, id, mailbox_id, received_at, envelope_from, to_json,
                 cc_json, subject, snippet, size, has_attachments)
                 VALUES (1, 'msg_1', 'mbx_1', 0, '', '[]', '[]', 'Your code', '', 1, 1);
             INSERT INTO attachment (id, message_seq, position, filename, content_type,
                 content_id, inline, size, data)
                 VALUES ('att_1', 1, 0, 'logo.png', 'image/png', 'logo@x', 1, 3, x'504e47');",
        )
        .expect("old rows");
        conn.execute(
            "INSERT INTO message_body (message_seq, reply_to_json, headers_json, text, html,
                 remote_blocked) VALUES (1, '[]', '[]', NULL, ?1, 1)",
            [&blocked.html],
        )
        .expect("old body");
        conn.execute(
            "INSERT INTO message_raw (message_seq, raw) VALUES (1, ?1)",
            [raw.as_bytes()],
        )
        .expect("old raw");

        run(&mut conn).expect("migrate");
        let html_remote: Option<String> = conn
            .query_row("SELECT html_remote FROM message_body", [], |r| r.get(0))
            .expect("rendered row");
        assert_eq!(html_remote, Some(sanitize(true).html));
        assert!(
            html_remote.is_some_and(|h| h.contains("http://x.test/p.gif")
                && h.contains("/v1/mailbox/a%2Bb%40x%2Etest/messages/msg_1/attachments/att_1"))
        );
    }

    /// Messages stored before the search index are indexed by its migration: their subject,
    /// sender, text, the text of their HTML and their envelope's Bcc are found.
    #[test]
    fn search_backfill_indexes_old_messages() {
        let mut conn = Connection::open_in_memory().expect("in-memory db");
        let tx = conn.transaction().expect("tx");
        for sql in &MIGRATIONS[..SEARCH - 1] {
            tx.execute_batch(sql).expect("old schema");
        }
        tx.pragma_update(None, "user_version", SEARCH - 1)
            .expect("version");
        tx.commit().expect("commit");
        conn.execute_batch(
            "INSERT INTO mailbox (id, address, tier, created_at, expires_at)
                 VALUES ('mbx_1', 'box@x.test', 'anon', 0, 1);
             INSERT INTO message (seq, id, mailbox_id, received_at, envelope_from, from_json,
                 to_json, cc_json, subject, snippet, size, has_attachments)
                 VALUES (7, 'msg_1', 'mbx_1', 0, '',
                     '{\"name\":\"Ann\",\"address\":\"ann@shop.test\"}',
                     '[{\"name\":null,\"address\":\"box@x.test\"}]', '[]',
                     'Oldsubject here', '', 1, 0);
             INSERT INTO message_body (message_seq, reply_to_json, headers_json, text, html,
                 remote_blocked, envelope_json)
                 VALUES (7, '[]', '[]', 'plain oldtext', '<p>html <b>oldmarkup</b></p>', 0,
                     '{\"mailFrom\":\"\",\"rcptTo\":[\"box@x.test\",\"blind@x.test\"]}');",
        )
        .expect("old rows");

        run(&mut conn).expect("migrate");
        let found = |q: &str| -> Vec<i64> {
            let mut stmt = conn
                .prepare("SELECT rowid FROM message_fts WHERE message_fts MATCH ?1")
                .expect("query");
            stmt.query_map([q], |r| r.get(0))
                .expect("rows")
                .collect::<rusqlite::Result<_>>()
                .expect("ids")
        };
        for q in [
            "subject:oldsubject",
            "oldtext",
            "oldmarkup",
            "sender:ann",
            "bcc_addr:blind",
        ] {
            assert_eq!(found(q), [7], "{q}");
        }
        assert!(found("bcc_addr:box").is_empty(), "To is no Bcc");
    }
}

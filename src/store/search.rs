//! Search: the full-text index kept beside each message, and a [`Query`] turned into SQL.
//!
//! The index is an FTS5 table (`message_fts`, migration 8) with the `unicode61` tokenizer and
//! `remove_diacritics 2`: words, case and accents folded ("muller" finds "Müller"), Cyrillic
//! and Greek split like Latin. It runs with FTS5's `secure-delete`, so a deleted message's words
//! leave the index's pages. It keeps its own copy of what it indexed: a delete must name the
//! words to take out, and a contentless table (tried first) only marks the row deleted and
//! leaves every word on disk, which the forensic test caught.
//! Chinese and Japanese have no spaces between words, so each of their characters is indexed
//! as a word of its own and a query for a word of them is a phrase of its characters.
//!
//! A term matches a word or a word's start (`verif` finds "verification"), a quoted phrase
//! its words in order; Mailpit's LIKE also matches inside a word, this does not.

use std::borrow::Cow;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::ops::{prefixed_summary_columns, summary_from_row, MessageFilter, TAGS_COLUMN};
use super::paging::Window;
use crate::clock::Millis;
use crate::error::Result;
use crate::extract;
use crate::mime::{Address, ParsedMessage};
use crate::model::MessageSummary;
use crate::query::{Field, Query, TermKind};

/// What the index holds of one message, prepared outside the writer.
#[derive(Debug, Clone, Default)]
pub struct SearchDoc {
    subject: String,
    from: String,
    to: String,
    cc: String,
    reply_to: String,
    message_id: String,
    /// The text part and, when it says something else, the HTML's text.
    body: String,
}

impl SearchDoc {
    pub fn new(parsed: &ParsedMessage) -> SearchDoc {
        let text = parsed.text.as_deref().unwrap_or_default();
        let html_text = parsed
            .html
            .as_deref()
            .map(mail_parser::decoders::html::html_to_text)
            // An HTML-only message's text is its HTML's text: index it once.
            .filter(|h| h.trim() != text.trim());
        let body = match html_text {
            Some(h) => format!("{text}\n{h}"),
            None => text.to_string(),
        };
        SearchDoc {
            subject: cjk_spaced(&parsed.subject).into_owned(),
            from: addresses(parsed.from.iter()),
            to: addresses(parsed.to.iter()),
            cc: addresses(parsed.cc.iter()),
            reply_to: addresses(parsed.reply_to.iter()),
            message_id: parsed.message_id.clone().unwrap_or_default(),
            body: cjk_spaced(&body).into_owned(),
        }
    }
}

fn addresses<'a>(list: impl Iterator<Item = &'a Address>) -> String {
    let words: Vec<String> = list
        .map(|a| format!("{} {}", a.name.as_deref().unwrap_or_default(), a.address))
        .collect();
    cjk_spaced(&words.join(" ")).into_owned()
}

/// Indexes one stored message now (`seq` is its row); `bcc` the envelope recipients no header
/// names. For the migration that fills the index; ingest stages its rows instead ([`stage`]).
pub(super) fn index(conn: &Connection, seq: i64, doc: &SearchDoc, bcc: &[String]) -> Result<()> {
    insert_row(conn, "message_fts", seq, doc, bcc)
}

/// The writer's connection: a table in memory (`temp_store = MEMORY`) where the messages of
/// one group commit wait for the index ([`stage`], [`flush_staged`]).
pub(super) fn prepare_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS fts_staged (
             rowid INTEGER PRIMARY KEY, subject, sender, to_addr, cc_addr, bcc_addr, reply_to,
             message_id, body)",
    )
}

/// Stages one stored message's index row, in its job's savepoint (a job rolled back takes its
/// row along). The FTS5 table is written once per group commit by [`flush_staged`]: written
/// in every job's savepoint, FTS5 flushed its pending terms to disk at each release, which
/// cost more than the rest of storing a small message (see docs/figures.md).
pub(super) fn stage(conn: &Connection, seq: i64, doc: &SearchDoc, bcc: &[String]) -> Result<()> {
    insert_row(conn, "temp.fts_staged", seq, doc, bcc)
}

/// Moves the staged rows into the index, in the group's transaction before its commit. Rows of
/// messages deleted in the same transaction are dropped, never indexed.
pub(super) fn flush_staged(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO message_fts (rowid, subject, sender, to_addr, cc_addr, bcc_addr,
                 reply_to, message_id, body)
             SELECT s.rowid, s.subject, s.sender, s.to_addr, s.cc_addr, s.bcc_addr, s.reply_to,
                 s.message_id, s.body
             FROM temp.fts_staged s WHERE EXISTS (SELECT 1 FROM message m WHERE m.seq = s.rowid)",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM temp.fts_staged")?
        .execute([])?;
    Ok(())
}

fn insert_row(
    conn: &Connection,
    table: &str,
    seq: i64,
    doc: &SearchDoc,
    bcc: &[String],
) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (rowid, subject, sender, to_addr, cc_addr, bcc_addr, reply_to,
             message_id, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(rusqlite::params![
        seq,
        doc.subject,
        doc.from,
        doc.to,
        doc.cc,
        bcc.join(" "),
        doc.reply_to,
        doc.message_id,
        doc.body,
    ])?;
    Ok(())
}

/// Characters of scripts written without spaces between words (Han, Hiragana, Katakana): the
/// tokenizer would take a whole sentence of them for one word.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x2FA1F)
}

/// `s` with a space around each such character, so each is a word of its own: the same for
/// what is indexed and what is searched for, so a word of them is found as a phrase.
fn cjk_spaced(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unspaced_script) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if is_unspaced_script(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Which messages a list looks at.
pub(super) enum Scope<'a> {
    /// One mailbox.
    Mailbox { id: &'a str },
    /// Every live mailbox.
    Live { now: Millis },
    /// The one message with this seq (see [`matches`]).
    Message { seq: i64 },
}

/// An FTS5 string for `value`: a phrase of its words, the last one a prefix unless quoted.
fn fts_string(value: &str, phrase: bool) -> String {
    let quoted = format!("\"{}\"", cjk_spaced(value).replace('"', "\"\""));
    if phrase {
        quoted
    } else {
        format!("{quoted}*")
    }
}

fn fts_columns(field: Field) -> &'static str {
    match field {
        Field::Subject => "subject",
        Field::From => "sender",
        Field::To => "to_addr",
        Field::Cc => "cc_addr",
        Field::Bcc => "bcc_addr",
        Field::ReplyTo => "reply_to",
        Field::Addressed => "{to_addr cc_addr bcc_addr}",
    }
}

/// The SQL of a query's terms: `AND …` clauses over `m` (the message row) and their values.
#[derive(Default)]
struct Clauses {
    sql: String,
    values: Vec<Value>,
}

impl Clauses {
    fn push(&mut self, negated: bool, clause: &str, values: impl IntoIterator<Item = Value>) {
        let not = if negated { "NOT " } else { "" };
        self.sql.push_str(&format!(" AND {not}({clause})"));
        self.values.extend(values);
    }
}

fn clauses(query: &Query) -> Clauses {
    let mut c = Clauses::default();
    let in_index = "m.seq IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?)";
    // One MATCH for all positive full-text terms: one index lookup instead of one per term.
    let mut matched = Vec::new();
    for t in &query.terms {
        let fts = match &t.kind {
            TermKind::Text { value, phrase } => Some(fts_string(value, *phrase)),
            TermKind::Field {
                field,
                value,
                phrase,
            } => Some(format!(
                "{} : {}",
                fts_columns(*field),
                fts_string(value, *phrase)
            )),
            _ => None,
        };
        if let Some(fts) = fts {
            if t.negated {
                c.push(true, in_index, [Value::Text(fts)]);
            } else {
                matched.push(format!("({fts})"));
            }
            continue;
        }
        let n = t.negated;
        match &t.kind {
            TermKind::MessageId(id) => {
                // The index narrows it down; the stored header decides (it is matched whole).
                if !n {
                    let fts = format!("message_id : {}", fts_string(id, true));
                    matched.push(format!("({fts})"));
                }
                c.push(
                    n,
                    "EXISTS (SELECT 1 FROM message_body d WHERE d.message_seq = m.seq
                        AND d.header_msg_id = ?)",
                    [Value::Text(id.clone())],
                );
            }
            TermKind::Tag(name) => c.push(
                n,
                "EXISTS (SELECT 1 FROM message_tag x JOIN tag t ON t.id = x.tag_id
                    WHERE x.message_seq = m.seq AND t.name = ?)",
                [Value::Text(name.clone())],
            ),
            TermKind::Mailbox(key) => c.push(
                n,
                "m.mailbox_id IN (SELECT id FROM mailbox WHERE id = ? OR address = ?)",
                [Value::Text(key.clone()), Value::Text(key.clone())],
            ),
            TermKind::Read(read) => c.push(n, "m.seen = ?", [Value::Integer(*read as i64)]),
            TermKind::HasAttachment => c.push(n, "m.has_attachments", []),
            TermKind::Larger(b) => c.push(n, "m.size > ?", [Value::Integer(clamp(*b))]),
            TermKind::Smaller(b) => c.push(n, "m.size < ?", [Value::Integer(clamp(*b))]),
            TermKind::Before(t) => c.push(n, "m.received_at < ?", [Value::Integer(*t)]),
            TermKind::After(t) => c.push(n, "m.received_at >= ?", [Value::Integer(*t)]),
            // Read back and checked row by row (see `list`).
            TermKind::HasCode | TermKind::HasLink => {}
            TermKind::Text { .. } | TermKind::Field { .. } => {}
        }
    }
    if !matched.is_empty() {
        let mut all = Clauses::default();
        all.push(false, in_index, [Value::Text(matched.join(" AND "))]);
        all.sql.push_str(&c.sql);
        all.values.extend(c.values);
        return all;
    }
    c
}

fn clamp(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// One page (`window`, `limit`) of the messages in `scope` that match `filter` and `query`,
/// and how many match in all of `scope`.
pub(super) fn list(
    conn: &Connection,
    scope: Scope<'_>,
    window: Window,
    filter: &MessageFilter,
    query: &Query,
    limit: u32,
) -> Result<(u64, Vec<MessageSummary>)> {
    let columns = prefixed_summary_columns();
    let mut values = Vec::new();
    let scope_sql = match scope {
        Scope::Mailbox { id } => {
            values.push(Value::Text(id.into()));
            "m.mailbox_id = ?"
        }
        Scope::Live { now } => {
            values.push(Value::Integer(now));
            "m.mailbox_id IN (SELECT id FROM mailbox WHERE expires_at > ?)"
        }
        Scope::Message { seq } => {
            values.push(Value::Integer(seq));
            "m.seq = ?"
        }
    };
    // The v1 substring filters hold beside the query (see `list_messages`).
    let (subject, from) = filter.substrings();
    values.extend([
        Value::Text(subject.into()),
        Value::Text(subject.into()),
        Value::Text(from.into()),
        Value::Text(from.into()),
    ]);
    let terms = clauses(query);
    values.extend(terms.values);
    let matching = format!(
        "{scope_sql}
           AND (? = '' OR instr(lower(m.subject), ?) > 0)
           AND (? = '' OR instr(lower(COALESCE(m.from_json, '')), ?) > 0)
           {}",
        terms.sql
    );
    let content = query.needs_content();
    let extra = if content {
        ", (SELECT d.text FROM message_body d WHERE d.message_seq = m.seq),
           (SELECT d.html FROM message_body d WHERE d.message_seq = m.seq)"
    } else {
        ""
    };
    // Without content terms SQL decides alone: the page is limited there and counted apart;
    // with them every candidate is read back, so one pass finds the page and the total.
    let (limit_sql, window_values) = if content {
        (String::new(), Vec::new())
    } else {
        (
            format!(" LIMIT {limit}"),
            window.bounds().map(Value::Integer).to_vec(),
        )
    };
    let first_bound = values.len() + 1;
    let bounds = if content {
        "1".to_string()
    } else {
        Window::bounds_sql(first_bound)
    };
    let sql = format!(
        "SELECT {columns}, {TAGS_COLUMN}, m.seq{extra} FROM message m WHERE {matching} AND {bounds}
           ORDER BY {}{limit_sql}",
        window.order_sql()
    );
    let mut all_values = values.clone();
    all_values.extend(window_values);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(all_values), |r| {
        let summary = summary_from_row(r)?;
        let seq: i64 = r.get(12)?;
        let content = if content {
            Some((
                r.get::<_, Option<String>>(13)?,
                r.get::<_, Option<String>>(14)?,
            ))
        } else {
            None
        };
        Ok((seq, summary, content))
    })?;
    let [after_seq, before_seq] = window.bounds();
    let mut found = Vec::new();
    let mut total = 0u64;
    for row in rows {
        let (seq, summary, body) = row?;
        if let Some((text, html)) = body {
            if !content_matches(query, &summary, text.as_deref(), html.as_deref()) {
                continue;
            }
            total += 1;
            if seq <= after_seq || seq >= before_seq {
                continue;
            }
        }
        if found.len() < limit as usize {
            found.push(summary);
        } else if !content {
            break;
        }
    }
    if !content {
        total = conn
            .prepare_cached(&format!("SELECT count(*) FROM message m WHERE {matching}"))?
            .query_row(params_from_iter(values), |r| r.get(0))?;
    }
    Ok((total, found))
}

/// Whether the message with this seq matches `query`: the same clauses and content checks as
/// a search, over that one row (automatic relay asks this of each new message).
pub(super) fn matches(conn: &Connection, seq: i64, query: &Query) -> Result<bool> {
    let any = MessageFilter::new(None, None);
    Ok(
        !list(conn, Scope::Message { seq }, Window::all(), &any, query, 1)?
            .1
            .is_empty(),
    )
}

/// The terms SQL cannot check: the codes and links found in the stored text, as a reader
/// finds them.
fn content_matches(
    query: &Query,
    m: &MessageSummary,
    text: Option<&str>,
    html: Option<&str>,
) -> bool {
    query.terms.iter().all(|t| {
        let found = match t.kind {
            TermKind::HasCode => !extract::codes(&m.subject, text).is_empty(),
            TermKind::HasLink => !extract::links(text, html).is_empty(),
            _ => return true,
        };
        found != t.negated
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspaced_scripts_are_split_into_characters() {
        assert_eq!(cjk_spaced("Müller Иван"), "Müller Иван");
        assert_eq!(cjk_spaced("東京都"), " 東  京  都 ");
        assert_eq!(cjk_spaced("aカナb"), "a カ  ナ b");
        assert_eq!(fts_string("東京", false), "\" 東  京 \"*");
        assert_eq!(fts_string("say \"hi\"", true), "\"say \"\"hi\"\"\"");
    }

    /// Staged rows reach the index at the group's flush, except a message deleted before it.
    #[test]
    fn staged_rows_are_indexed_at_the_flush_unless_their_message_went() {
        let mut conn = Connection::open_in_memory().expect("db");
        super::super::migrate::run(&mut conn).expect("migrations");
        prepare_writer(&conn).expect("staging table");
        conn.execute_batch(
            "BEGIN;
             INSERT INTO mailbox (id, address, tier, created_at, expires_at)
                 VALUES ('mbx_1', 'box@x.test', 'anon', 0, 1);
             INSERT INTO message (seq, id, mailbox_id, received_at, envelope_from, to_json,
                 cc_json, subject, snippet, size, has_attachments)
                 VALUES (1, 'msg_1', 'mbx_1', 0, '', '[]', '[]', 's', '', 1, 0),
                        (2, 'msg_2', 'mbx_1', 0, '', '[]', '[]', 's', '', 1, 0);",
        )
        .expect("rows");
        for (seq, word) in [(1, "keptword"), (2, "gonewword")] {
            let parsed = ParsedMessage {
                text: Some(word.into()),
                ..Default::default()
            };
            stage(&conn, seq, &SearchDoc::new(&parsed), &[]).expect("staged");
        }
        let hits = |conn: &Connection, q: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .expect(q)
        };
        assert_eq!(hits(&conn, "keptword"), 0, "not before the flush");
        conn.execute("DELETE FROM message WHERE seq = 2", [])
            .expect("delete");
        flush_staged(&conn).expect("flush");
        conn.execute_batch("COMMIT").expect("commit");
        assert_eq!(hits(&conn, "keptword"), 1);
        assert_eq!(
            hits(&conn, "gonewword"),
            0,
            "a deleted message is never indexed"
        );
        let staged: i64 = conn
            .query_row("SELECT count(*) FROM temp.fts_staged", [], |r| r.get(0))
            .expect("count");
        assert_eq!(staged, 0);
    }

    /// The bundled SQLite has FTS5 and its secure-delete option (the migration sets it), and
    /// folds accents and case the way the docs promise.
    #[test]
    fn bundled_sqlite_indexes_with_secure_delete() {
        let mut conn = Connection::open_in_memory().expect("db");
        super::super::migrate::run(&mut conn).expect("migrations, FTS5 included");
        let secure: i64 = conn
            .query_row(
                "SELECT v FROM message_fts_config WHERE k = 'secure-delete'",
                [],
                |r| r.get(0),
            )
            .expect("secure-delete is set");
        assert_eq!(secure, 1);
        let parsed = ParsedMessage {
            subject: "Grüße von Müller".into(),
            text: Some("Привет Καλημέρα 東京都に行く".into()),
            ..Default::default()
        };
        index(&conn, 1, &SearchDoc::new(&parsed), &[]).expect("indexed");
        let hits = |q: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .expect(q)
        };
        for found in [
            "muller",
            "GRUßE",
            "привет",
            "καλημέρα",
            "東京",
            "京都",
            "行く",
        ] {
            assert_eq!(hits(&fts_string(found, false)), 1, "{found}");
        }
        for missing in ["mull", "paris", "大阪"] {
            let q = fts_string(missing, true);
            assert_eq!(hits(&q), 0, "{missing}");
        }
        // A value without a single word character is a phrase of nothing: no match, no error.
        assert_eq!(hits(&fts_string("!!!", false)), 0);
        conn.execute("DELETE FROM message_fts WHERE rowid = 1", [])
            .expect("delete by rowid");
        assert_eq!(hits(&fts_string("muller", false)), 0);
        // Out of the index's pages, not only marked deleted.
        let blobs: Vec<Vec<u8>> = conn
            .prepare("SELECT block FROM message_fts_data")
            .expect("data")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("blobs");
        assert!(!blobs.iter().any(|b| b.windows(6).any(|w| w == b"muller")));
    }
}

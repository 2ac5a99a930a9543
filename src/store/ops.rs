//! What the engine asks of the store: one function per question or change.

use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};

use super::paging::{Page, Window};
use super::purge::Removed;
use super::search::{self, Scope, SearchDoc};
use super::Store;
use crate::clock::{to_rfc3339, Millis};
use crate::config::{Tier, Tiers};
use crate::error::{Error, Result};
use crate::mime::{Address, ParsedMessage};
use crate::model::{
    bcc_among, AttachmentData, AttachmentInfo, Envelope, Mailbox, MessageFull, MessageSummary,
    Origin, TranscriptLine,
};
use crate::query::Query;

/// A mailbox to create.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub id: String,
    pub address: String,
    pub tier: Tier,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub origin: Origin,
    pub remote: Option<String>,
    /// The SMTP user whose inbox this is (made by its first mail), if any.
    pub smtp_user: Option<String>,
}

/// Where one copy of a message goes.
#[derive(Debug, Clone)]
pub enum RcptTarget {
    /// A mailbox that was live at RCPT time.
    Mailbox(String),
    /// Catch-all or an SMTP user's inbox: the mailbox for this address, created on first mail
    /// if it does not exist.
    CatchAll {
        address: String,
        tier: Tier,
        new_id: String,
        expires_at: Millis,
        smtp_user: Option<String>,
    },
}

/// One recipient's copy of a message, prepared outside the writer (ids chosen, HTML sanitized).
#[derive(Debug, Clone)]
pub struct DeliveryCopy {
    pub target: RcptTarget,
    pub message_id: String,
    pub attachment_ids: Vec<String>,
    /// Sanitized, remote content blocked.
    pub html: Option<String>,
    pub remote_blocked: bool,
    /// Sanitized with remote content allowed; only when `remote_blocked` (else `html` serves).
    pub html_remote: Option<String>,
    /// The remote message this copy mirrors (sync): stored at most once per mailbox.
    pub synced_from: Option<String>,
    /// This copy's envelope and its session's transcript, serialized outside the writer
    /// ([`DeliveryCopy::set_envelope`]); None when there is none (sync keeps the sender alone).
    pub envelope_json: Option<String>,
    pub transcript_json: Option<String>,
    /// This copy's envelope recipients (for the index's `bcc:`).
    pub rcpt_to: Vec<String>,
}

impl DeliveryCopy {
    /// Gives this copy its own envelope and transcript (see `Envelope::for_copy`).
    pub fn set_envelope(&mut self, envelope: &Envelope, transcript: &[TranscriptLine]) {
        self.envelope_json = Some(to_json(envelope));
        self.rcpt_to = envelope.rcpt_to.clone();
        self.transcript_json = (!transcript.is_empty()).then(|| to_json(&transcript));
    }
}

/// A parsed message with its JSON columns serialized once, outside the writer thread.
#[derive(Debug, Clone)]
pub struct PreparedMessage {
    pub parsed: ParsedMessage,
    from_json: Option<String>,
    to_json: String,
    cc_json: String,
    reply_to_json: String,
    headers_json: String,
    search: SearchDoc,
    /// The tags it arrives with (ingest reads them from `X-Tags`, bounded by the settings).
    pub tags: Vec<String>,
    /// Queue an automatic relay job with each stored copy, in the same transaction.
    pub auto_relay: bool,
}

impl PreparedMessage {
    pub fn new(parsed: ParsedMessage) -> PreparedMessage {
        PreparedMessage {
            search: SearchDoc::new(&parsed),
            from_json: parsed.from.as_ref().map(to_json),
            to_json: to_json(&parsed.to),
            cc_json: to_json(&parsed.cc),
            reply_to_json: to_json(&parsed.reply_to),
            headers_json: to_json(&parsed.headers),
            tags: Vec::new(),
            auto_relay: false,
            parsed,
        }
    }
}

/// Substring filters on a message list (case-insensitive; empty means any), and a search
/// query beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    subject: String,
    from: String,
    query: Option<Query>,
}

impl MessageFilter {
    pub fn new(subject: Option<&str>, from: Option<&str>) -> MessageFilter {
        MessageFilter {
            subject: subject.unwrap_or_default().to_lowercase(),
            from: from.unwrap_or_default().to_lowercase(),
            query: None,
        }
    }

    /// The same filter, with a search query that must match too (an empty one matches all).
    pub fn with_query(self, query: Option<Query>) -> MessageFilter {
        MessageFilter {
            query: query.filter(|q| !q.terms.is_empty()),
            ..self
        }
    }

    /// The lower-cased subject and from needles.
    pub(super) fn substrings(&self) -> (&str, &str) {
        (&self.subject, &self.from)
    }

    /// Whether a summary pushed by an event may match: the substring test the store applies;
    /// with a query, only the store can tell (it reads the index), so true.
    pub fn may_match(&self, m: &MessageSummary) -> bool {
        if self.query.is_some() {
            return true;
        }
        let from_matches = self.from.is_empty()
            || m.from.as_ref().is_some_and(|f| {
                f.address.to_lowercase().contains(&self.from)
                    || f.name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&self.from))
            });
        from_matches
            && (self.subject.is_empty() || m.subject.to_lowercase().contains(&self.subject))
    }
}

/// A page of messages across every live mailbox.
#[derive(Debug, Clone)]
pub struct RecentPage {
    /// Messages in live mailboxes.
    pub count: u64,
    /// Of those, the ones matching the filter (all of them without one).
    pub total: u64,
    pub messages: Vec<MessageSummary>,
}

/// What happened to one copy.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Stored(Box<Delivered>),
    /// The mailbox expired or was deleted between RCPT and the end of DATA.
    MailboxGone,
    /// The mailbox's storage cap would be exceeded.
    StorageFull,
    /// The remote message it mirrors is already in this mailbox (sync after a reconnect).
    AlreadyStored,
}

/// A stored copy.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The mailbox catch-all made for this message, if it did.
    pub created_mailbox: Option<Mailbox>,
    /// The stored message; its `mailbox_id` says where.
    pub summary: MessageSummary,
}

const MAILBOX_COLUMNS: &str = "id, address, tier, created_at, expires_at, origin, remote, \
     message_count, unread_count, bytes_used, smtp_user";

/// A text column parsed into its type; a value this version does not know is an error, never
/// a silent default (an unknown tier read as `anon` would apply the wrong caps).
fn parsed<T>(r: &Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = Error>,
{
    let text: String = r.get(i)?;
    text.parse().map_err(|e: Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn mailbox_from_row(r: &Row<'_>) -> rusqlite::Result<Mailbox> {
    Ok(Mailbox {
        id: r.get(0)?,
        address: r.get(1)?,
        tier: parsed(r, 2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        origin: parsed(r, 5)?,
        remote: r.get(6)?,
        message_count: r.get(7)?,
        unread_count: r.get(8)?,
        bytes_used: r.get(9)?,
        smtp_user: r.get(10)?,
    })
}

pub(super) const SUMMARY_COLUMNS: &str =
    "id, mailbox_id, received_at, from_json, to_json, cc_json, \
     subject, snippet, size, has_attachments, seen";

/// A message's tags as a JSON array, sorted: the column after [`SUMMARY_COLUMNS`] in every
/// summary query (the message row is `m`).
pub(super) const TAGS_COLUMN: &str = "(SELECT json_group_array(name) FROM (SELECT t.name \
     FROM message_tag x JOIN tag t ON t.id = x.tag_id WHERE x.message_seq = m.seq \
     ORDER BY t.name))";

/// [`SUMMARY_COLUMNS`] of the message row `m`.
pub(super) fn prefixed_summary_columns() -> String {
    SUMMARY_COLUMNS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A summary from [`SUMMARY_COLUMNS`] and [`TAGS_COLUMN`] (columns 0 to 11).
pub(super) fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<MessageSummary> {
    let from: Option<String> = r.get(3)?;
    let tags: Option<String> = r.get(11)?;
    let to: String = r.get(4)?;
    let cc: String = r.get(5)?;
    Ok(MessageSummary {
        id: r.get(0)?,
        mailbox_id: r.get(1)?,
        received_at: to_rfc3339(r.get(2)?),
        from: from.and_then(|f| serde_json::from_str(&f).ok()),
        to: serde_json::from_str(&to).unwrap_or_default(),
        cc: serde_json::from_str(&cc).unwrap_or_default(),
        subject: r.get(6)?,
        snippet: r.get(7)?,
        size: r.get(8)?,
        has_attachments: r.get(9)?,
        seen: r.get(10)?,
        tags: tags
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A live mailbox by id, or by address when the key has an `@` (case-insensitive).
fn live_mailbox(conn: &Connection, key: &str, now: Millis) -> Result<Option<Mailbox>> {
    let (column, value) = if key.contains('@') {
        ("address", key.to_lowercase())
    } else {
        ("id", key.to_string())
    };
    let sql =
        format!("SELECT {MAILBOX_COLUMNS} FROM mailbox WHERE {column} = ?1 AND expires_at > ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![value, now], mailbox_from_row)
        .optional()?)
}

pub(crate) fn insert_mailbox(conn: &Connection, m: &NewMailbox) -> Result<Mailbox> {
    // An expired mailbox not yet swept must not keep its address from being reused: hidden
    // now (its address freed), freed by the writer, however big it is.
    let expired: Option<String> = conn
        .prepare_cached("SELECT id FROM mailbox WHERE address = ?1 AND expires_at <= ?2")?
        .query_row(params![m.address, m.created_at], |r| r.get(0))
        .optional()?;
    if let Some(id) = expired {
        super::purge::hide(conn, &id)?;
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO mailbox (id, address, tier, created_at, expires_at, origin, remote,
                 smtp_user)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            m.id,
            m.address,
            m.tier.as_str(),
            m.created_at,
            m.expires_at,
            m.origin.as_str(),
            m.remote,
            m.smtp_user
        ])?;
    if inserted == 0 {
        return Err(Error::AddressTaken(m.address.clone()));
    }
    Ok(Mailbox {
        id: m.id.clone(),
        address: m.address.clone(),
        tier: m.tier,
        created_at: m.created_at,
        expires_at: m.expires_at,
        origin: m.origin,
        remote: m.remote.clone(),
        smtp_user: m.smtp_user.clone(),
        message_count: 0,
        unread_count: 0,
        bytes_used: 0,
    })
}

/// What the writer needs of a live mailbox: its id, tier and bytes used.
fn live_mailbox_caps(
    conn: &Connection,
    key: &str,
    now: Millis,
) -> Result<Option<(String, Tier, u64)>> {
    let sql = if key.contains('@') {
        "SELECT id, tier, bytes_used FROM mailbox WHERE address = ?1 AND expires_at > ?2"
    } else {
        "SELECT id, tier, bytes_used FROM mailbox WHERE id = ?1 AND expires_at > ?2"
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params![key, now], |r| {
            Ok((r.get(0)?, parsed(r, 1)?, r.get(2)?))
        })
        .optional()?)
}

fn store_copy(
    conn: &Connection,
    copy: &DeliveryCopy,
    prepared: &PreparedMessage,
    raw: &[u8],
    envelope_from: &str,
    received_at: Millis,
    tiers: &Tiers,
) -> Result<DeliveryOutcome> {
    let parsed = &prepared.parsed;
    let size = raw.len() as u64;
    let (mailbox_id, tier, bytes_used, created_mailbox) = match &copy.target {
        RcptTarget::Mailbox(id) => match live_mailbox_caps(conn, id, received_at)? {
            Some((id, tier, used)) => (id, tier, used, None),
            None => return Ok(DeliveryOutcome::MailboxGone),
        },
        RcptTarget::CatchAll {
            address,
            tier,
            new_id,
            expires_at,
            smtp_user,
        } => match live_mailbox_caps(conn, address, received_at)? {
            Some((id, tier, used)) => (id, tier, used, None),
            None => {
                let m = insert_mailbox(
                    conn,
                    &NewMailbox {
                        id: new_id.clone(),
                        address: address.clone(),
                        tier: *tier,
                        created_at: received_at,
                        expires_at: *expires_at,
                        origin: Origin::Local,
                        remote: None,
                        smtp_user: smtp_user.clone(),
                    },
                )?;
                (m.id.clone(), m.tier, 0, Some(m))
            }
        },
    };
    if let Some(remote_message_id) = &copy.synced_from {
        if super::remotes::is_taken(conn, &mailbox_id, remote_message_id)? {
            return Ok(DeliveryOutcome::AlreadyStored);
        }
    }
    if bytes_used + size > tiers.get(tier).max_storage_bytes {
        return Ok(DeliveryOutcome::StorageFull);
    }
    let summary = MessageSummary {
        id: copy.message_id.clone(),
        mailbox_id: mailbox_id.clone(),
        received_at: to_rfc3339(received_at),
        from: parsed.from.clone(),
        to: parsed.to.clone(),
        cc: parsed.cc.clone(),
        subject: parsed.subject.clone(),
        snippet: parsed.snippet.clone(),
        size,
        has_attachments: parsed.attachments.iter().any(|a| !a.inline),
        seen: false,
        tags: prepared.tags.clone(),
    };
    conn.prepare_cached(
        "INSERT INTO message (id, mailbox_id, received_at, envelope_from, from_json, to_json,
             cc_json, subject, snippet, size, has_attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        summary.id,
        summary.mailbox_id,
        received_at,
        envelope_from,
        prepared.from_json,
        prepared.to_json,
        prepared.cc_json,
        summary.subject,
        summary.snippet,
        size,
        summary.has_attachments,
    ])?;
    let seq = conn.last_insert_rowid();
    let bcc = bcc_among(&copy.rcpt_to, &parsed.to, &parsed.cc);
    search::stage(conn, seq, &prepared.search, &bcc)?;
    super::tags::attach(conn, seq, &prepared.tags)?;
    conn.prepare_cached(
        "INSERT INTO message_body (message_seq, date, header_msg_id, reply_to_json, headers_json,
             text, html, remote_blocked, parse_note, html_remote, envelope_json, transcript_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        seq,
        parsed.date,
        parsed.message_id,
        prepared.reply_to_json,
        prepared.headers_json,
        parsed.text,
        copy.html,
        copy.remote_blocked,
        parsed.parse_note,
        copy.html_remote,
        copy.envelope_json,
        copy.transcript_json,
    ])?;
    conn.prepare_cached("INSERT INTO message_raw (message_seq, raw) VALUES (?1, ?2)")?
        .execute(params![seq, blob_param(raw)])?;
    fill_streamed_blob(conn, "message_raw", "raw", seq, raw)?;
    let mut insert_attachment = conn.prepare_cached(
        "INSERT INTO attachment (id, message_seq, position, filename, content_type, content_id,
             inline, size, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (position, (a, id)) in parsed
        .attachments
        .iter()
        .zip(&copy.attachment_ids)
        .enumerate()
    {
        insert_attachment.execute(params![
            id,
            seq,
            position,
            a.filename,
            a.content_type,
            a.content_id,
            a.inline,
            a.data.len(),
            blob_param(&a.data),
        ])?;
        fill_streamed_blob(
            conn,
            "attachment",
            "data",
            conn.last_insert_rowid(),
            &a.data,
        )?;
    }
    if let Some(remote_message_id) = &copy.synced_from {
        super::remotes::mark_taken(conn, &mailbox_id, remote_message_id, Some(&copy.message_id))?;
    }
    if prepared.auto_relay {
        super::relay::queue_job(conn, seq, received_at)?;
    }
    Ok(DeliveryOutcome::Stored(Box::new(Delivered {
        created_mailbox,
        summary,
    })))
}

/// Blobs larger than this are written in place with incremental blob I/O. A bound blob is
/// copied by SQLite, and again into the row's record, which would triple a big message's
/// memory (a 50 MiB message peaked at 213 MB before this).
const STREAMED_BLOB_BYTES: usize = 256 * 1024;

/// A blob column's value: the bytes, or for a big blob a zero-filled blob of its size that
/// [`fill_streamed_blob`] fills after the insert.
enum BlobParam<'a> {
    Inline(&'a [u8]),
    Streamed(usize),
}

fn blob_param(data: &[u8]) -> BlobParam<'_> {
    if data.len() > STREAMED_BLOB_BYTES {
        BlobParam::Streamed(data.len())
    } else {
        BlobParam::Inline(data)
    }
}

impl ToSql for BlobParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            BlobParam::Inline(data) => Ok(ToSqlOutput::Borrowed(ValueRef::Blob(data))),
            BlobParam::Streamed(len) => i32::try_from(*len)
                .map(ToSqlOutput::ZeroBlob)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e))),
        }
    }
}

/// Writes `data` into the zero-filled blob [`blob_param`] made for it (nothing for a small one).
fn fill_streamed_blob(
    conn: &Connection,
    table: &str,
    column: &str,
    rowid: i64,
    data: &[u8],
) -> Result<()> {
    if let BlobParam::Streamed(_) = blob_param(data) {
        conn.blob_open(rusqlite::MAIN_DB, table, column, rowid, false)?
            .write_all_at(data, 0)?;
    }
    Ok(())
}

impl Store {
    pub async fn create_mailbox(&self, m: NewMailbox) -> Result<Mailbox> {
        self.write(move |conn| insert_mailbox(conn, &m)).await
    }

    /// Deletes a mailbox and everything in it, then truncates the WAL; a big one is hidden at
    /// once and freed by the writer in chunks ([`super::purge`]). Returns its address, or
    /// `None` if it did not exist.
    pub async fn delete_mailbox(&self, id: String) -> Result<Option<String>> {
        let tuning = self.inner.tuning;
        let removed = self
            .write(move |conn| super::purge::remove(conn, &id, tuning))
            .await?;
        // A hidden one is checkpointed once it is freed; waiting here would wait for a chunk.
        if let Some(Removed::Deleted(_)) = removed {
            self.checkpoint().await?;
        }
        Ok(removed.map(|r| r.address().to_string()))
    }

    /// Deletes every mailbox whose expiry is at or before `now`, then truncates the WAL (big
    /// ones as [`Store::delete_mailbox`] does).
    /// Returns their ids and addresses.
    pub async fn delete_expired(&self, now: Millis) -> Result<Vec<(String, String)>> {
        let tuning = self.inner.tuning;
        let gone = self
            .write(move |conn| super::purge::remove_expired(conn, now, tuning))
            .await?;
        if gone.iter().any(|(_, r)| matches!(r, Removed::Deleted(_))) {
            self.checkpoint().await?;
        }
        Ok(gone
            .into_iter()
            .map(|(id, r)| (id, r.address().to_string()))
            .collect())
    }

    /// Stores every copy of one message in one transaction; the result is known committed.
    pub async fn deliver(
        &self,
        raw: Arc<Vec<u8>>,
        prepared: Arc<PreparedMessage>,
        envelope_from: String,
        received_at: Millis,
        copies: Vec<DeliveryCopy>,
        tiers: Tiers,
    ) -> Result<Vec<DeliveryOutcome>> {
        self.write(move |conn| {
            copies
                .iter()
                .map(|c| {
                    store_copy(
                        conn,
                        c,
                        &prepared,
                        &raw,
                        &envelope_from,
                        received_at,
                        &tiers,
                    )
                })
                .collect()
        })
        .await
    }

    /// Marks a message of a mailbox seen; false if it already was (or is not there).
    pub async fn mark_seen(&self, mailbox_id: String, message_id: String) -> Result<bool> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE message SET seen = 1 WHERE id = ?1 AND mailbox_id = ?2 AND seen = 0",
                )?
                .execute([message_id, mailbox_id])?
                > 0)
        })
        .await
    }

    /// Sets a live mailbox's expiry; returns it updated, or `None` if it is gone.
    pub async fn set_expiry(
        &self,
        id: String,
        expires_at: Millis,
        now: Millis,
    ) -> Result<Option<Mailbox>> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE mailbox SET expires_at = ?1 WHERE id = ?2 AND expires_at > ?3",
                )?
                .execute(params![expires_at, id, now])?;
            if changed == 0 {
                return Ok(None);
            }
            live_mailbox(conn, &id, now)
        })
        .await
    }

    /// Live mailboxes and the messages in them: the gauges of `/metrics`.
    pub async fn totals(&self, now: Millis) -> Result<(u64, u64)> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(message_count), 0) FROM mailbox WHERE expires_at > ?1",
                )?
                .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
        .await
    }

    /// Deletes one message for good (then truncates the WAL). False if it did not exist.
    pub async fn delete_message(&self, mailbox_id: String, message_id: String) -> Result<bool> {
        let deleted = self
            .write(move |conn| {
                Ok(conn
                    .prepare_cached("DELETE FROM message WHERE id = ?1 AND mailbox_id = ?2")?
                    .execute([message_id, mailbox_id])?
                    > 0)
            })
            .await?;
        if deleted {
            self.checkpoint().await?;
        }
        Ok(deleted)
    }

    /// A live mailbox's id, tier and bytes used, by id or address: what an RCPT check needs.
    pub async fn mailbox_caps(
        &self,
        key: String,
        now: Millis,
    ) -> Result<Option<(String, Tier, u64)>> {
        self.read(move |conn| live_mailbox_caps(conn, &key, now))
            .await
    }

    /// A live mailbox by id or address.
    pub async fn find_mailbox(&self, key: String, now: Millis) -> Result<Option<Mailbox>> {
        self.read(move |conn| live_mailbox(conn, &key, now)).await
    }

    /// Live mailboxes, newest first.
    pub async fn list_mailboxes(&self, now: Millis) -> Result<Vec<Mailbox>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MAILBOX_COLUMNS} FROM mailbox WHERE expires_at > ?1
                 ORDER BY created_at DESC, rowid DESC"
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map([now], mailbox_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    /// Live mailboxes whose expiry is within `lead` of `now`, and the earliest expiry beyond
    /// that: what the expiry warnings need. Mailboxes that live no longer than `lead` in all are
    /// left out (they would be announced as expiring at birth).
    pub async fn expiring(
        &self,
        now: Millis,
        lead: Millis,
    ) -> Result<(Vec<Mailbox>, Option<Millis>)> {
        self.read(move |conn| {
            let horizon = now.saturating_add(lead);
            let sql = format!(
                "SELECT {MAILBOX_COLUMNS} FROM mailbox
                  WHERE expires_at > ?1 AND expires_at <= ?2 AND expires_at - created_at > ?3
                  ORDER BY expires_at"
            );
            let closing = conn
                .prepare_cached(&sql)?
                .query_map(params![now, horizon, lead], mailbox_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = conn
                .prepare_cached(
                    "SELECT MIN(expires_at) FROM mailbox
                      WHERE expires_at > ?1 AND expires_at - created_at > ?2",
                )?
                .query_row(params![horizon, lead], |r| r.get(0))?;
            Ok((closing, next))
        })
        .await
    }

    /// The earliest expiry of any mailbox still in the store.
    pub async fn earliest_expiry(&self) -> Result<Option<Millis>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT MIN(expires_at) FROM mailbox WHERE NOT purging")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    /// One page of a mailbox's messages matching `filter` ([`Page`]: newest first unless
    /// asked otherwise, bounded by its cursors), and how many match in the whole mailbox.
    pub async fn list_messages(
        &self,
        mailbox_id: String,
        page: Page,
        filter: MessageFilter,
    ) -> Result<(u64, Vec<MessageSummary>)> {
        self.read(move |conn| {
            let window = page.window(conn, Some(&mailbox_id))?;
            if let Some(query) = &filter.query {
                let scope = Scope::Mailbox { id: &mailbox_id };
                return search::list(conn, scope, window, &filter, query, page.limit);
            }
            let (bounds, order) = (Window::bounds_sql(4), window.order_sql());
            let [after_seq, before_seq] = window.bounds();
            // instr() on lower(): a case-insensitive substring match (ASCII case folding in SQL;
            // the needle is lower-cased here). From matches the name or the address.
            let matching = "(?2 = '' OR instr(lower(m.subject), ?2) > 0)
                   AND (?3 = '' OR instr(lower(COALESCE(m.from_json, '')), ?3) > 0)";
            let columns = prefixed_summary_columns();
            let sql = format!(
                "SELECT {columns}, {TAGS_COLUMN} FROM message m WHERE m.mailbox_id = ?1 AND {matching}
                   AND {bounds} ORDER BY {order} LIMIT ?6"
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map(
                    params![
                        mailbox_id,
                        filter.subject,
                        filter.from,
                        after_seq,
                        before_seq,
                        page.limit
                    ],
                    summary_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total: u64 = if filter == MessageFilter::default() {
                conn.prepare_cached("SELECT message_count FROM mailbox WHERE id = ?1")?
                    .query_row([&mailbox_id], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0)
            } else {
                conn.prepare_cached(&format!(
                    "SELECT count(*) FROM message m WHERE m.mailbox_id = ?1 AND {matching}"
                ))?
                .query_row(params![mailbox_id, filter.subject, filter.from], |r| {
                    r.get(0)
                })?
            };
            Ok((total, rows))
        })
        .await
    }

    /// One page of the messages of every live mailbox matching `filter`, how many of them
    /// match, and how many live messages there are in all.
    pub async fn recent_messages(
        &self,
        now: Millis,
        page: Page,
        filter: MessageFilter,
    ) -> Result<RecentPage> {
        self.read(move |conn| {
            let count: u64 = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(message_count), 0) FROM mailbox WHERE expires_at > ?1",
                )?
                .query_row([now], |r| r.get(0))?;
            let window = page.window(conn, None)?;
            if filter != MessageFilter::default() {
                let query = filter.query.clone().unwrap_or_default();
                let (total, messages) = search::list(
                    conn,
                    Scope::Live { now },
                    window,
                    &filter,
                    &query,
                    page.limit,
                )?;
                return Ok(RecentPage {
                    count,
                    total,
                    messages,
                });
            }
            let (bounds, order) = (Window::bounds_sql(2), window.order_sql());
            let columns = prefixed_summary_columns();
            let sql = format!(
                "SELECT {columns}, {TAGS_COLUMN} FROM message m JOIN mailbox b ON b.id = m.mailbox_id
                 WHERE b.expires_at > ?1 AND {bounds} ORDER BY {order} LIMIT ?4"
            );
            let [after_seq, before_seq] = window.bounds();
            let messages = conn
                .prepare_cached(&sql)?
                .query_map(
                    params![now, after_seq, before_seq, page.limit],
                    summary_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(RecentPage {
                count,
                total: count,
                messages,
            })
        })
        .await
    }

    /// The whole message, or `None` if it is not in that mailbox.
    pub async fn message(
        &self,
        mailbox_id: String,
        message_id: String,
    ) -> Result<Option<MessageFull>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS}, {TAGS_COLUMN}, envelope_from, seq FROM message m
                 WHERE id = ?1 AND mailbox_id = ?2"
            );
            let Some((summary, envelope_from, seq)) = conn
                .prepare_cached(&sql)?
                .query_row([&message_id, &mailbox_id], |r| {
                    Ok((
                        summary_from_row(r)?,
                        r.get::<_, String>(12)?,
                        r.get::<_, i64>(13)?,
                    ))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let body = conn
                .prepare_cached(
                    "SELECT date, header_msg_id, reply_to_json, headers_json, text, html,
                            remote_blocked, parse_note, html_remote, envelope_json
                     FROM message_body WHERE message_seq = ?1",
                )?
                .query_row([seq], |r| {
                    let reply_to: String = r.get(2)?;
                    let headers: String = r.get(3)?;
                    let envelope = r
                        .get::<_, Option<String>>(9)?
                        .and_then(|j| serde_json::from_str::<Envelope>(&j).ok())
                        .unwrap_or_else(|| Envelope::sender_only(envelope_from.clone()));
                    Ok(MessageFull {
                        bcc: envelope.bcc(&summary.to, &summary.cc),
                        envelope,
                        summary: summary.clone(),
                        date: r.get::<_, Option<i64>>(0)?.map(to_rfc3339),
                        message_id: r.get(1)?,
                        reply_to: serde_json::from_str::<Vec<Address>>(&reply_to)
                            .unwrap_or_default(),
                        envelope_from: envelope_from.clone(),
                        headers: serde_json::from_str(&headers).unwrap_or_default(),
                        text: r.get(4)?,
                        html: r.get(5)?,
                        html_remote: r.get(8)?,
                        remote_content_blocked: r.get(6)?,
                        attachments: Vec::new(),
                        links: Vec::new(),
                        codes: Vec::new(),
                        parse_note: r.get(7)?,
                    })
                })?;
            let attachments = conn
                .prepare_cached(
                    "SELECT id, filename, content_type, size, content_id, inline
                     FROM attachment WHERE message_seq = ?1 ORDER BY position",
                )?
                .query_map([seq], |r| {
                    Ok(AttachmentInfo {
                        id: r.get(0)?,
                        filename: r.get(1)?,
                        content_type: r.get(2)?,
                        size: r.get(3)?,
                        content_id: r.get(4)?,
                        inline: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(MessageFull {
                attachments,
                ..body
            }))
        })
        .await
    }

    /// The transcript of the SMTP session that delivered a message (empty when it came
    /// without one), or `None` if the message is not in that mailbox.
    pub async fn transcript(
        &self,
        mailbox_id: String,
        message_id: String,
    ) -> Result<Option<Vec<TranscriptLine>>> {
        self.read(move |conn| {
            let json: Option<Option<String>> = conn
                .prepare_cached(
                    "SELECT b.transcript_json FROM message_body b
                     JOIN message m ON m.seq = b.message_seq
                     WHERE m.id = ?1 AND m.mailbox_id = ?2",
                )?
                .query_row([message_id, mailbox_id], |r| r.get(0))
                .optional()?;
            Ok(json.map(|j| {
                j.and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default()
            }))
        })
        .await
    }

    /// The original bytes of a message.
    pub async fn raw(&self, mailbox_id: String, message_id: String) -> Result<Option<Vec<u8>>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT r.raw FROM message_raw r JOIN message m ON m.seq = r.message_seq
                     WHERE m.id = ?1 AND m.mailbox_id = ?2",
                )?
                .query_row([message_id, mailbox_id], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    /// One attachment's bytes.
    pub async fn attachment(
        &self,
        mailbox_id: String,
        message_id: String,
        attachment_id: String,
    ) -> Result<Option<AttachmentData>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT a.filename, a.content_type, a.data FROM attachment a
                     JOIN message m ON m.seq = a.message_seq
                     WHERE a.id = ?1 AND m.id = ?2 AND m.mailbox_id = ?3",
                )?
                .query_row([attachment_id, message_id, mailbox_id], |r| {
                    Ok(AttachmentData {
                        filename: r.get(0)?,
                        content_type: r.get(1)?,
                        data: r.get(2)?,
                    })
                })
                .optional()?)
        })
        .await
    }
}

/// Run-time settings (see `crate::settings`): key → JSON value.
impl Store {
    pub fn stored_settings(&self) -> Result<Vec<(String, String)>> {
        self.read_blocking(|conn| {
            let mut stmt = conn.prepare("SELECT key, value FROM setting ORDER BY key")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub async fn save_settings(&self, changes: Vec<(String, String)>) -> Result<()> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in &changes {
                stmt.execute([key, value])?;
            }
            Ok(())
        })
        .await
    }
}

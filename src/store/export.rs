//! Reading a mailbox's raw messages in order, a page at a time (the mbox download).

use rusqlite::params;

use super::Store;
use crate::error::Result;

/// One message as an export needs it.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Where the next page starts.
    pub seq: i64,
    pub envelope_from: String,
    pub received_at: i64,
    pub raw: Vec<u8>,
}

impl Store {
    /// Up to `limit` messages of a mailbox after `after_seq`, oldest first, with their raw bytes.
    pub async fn raw_page(
        &self,
        mailbox_id: String,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RawRow>> {
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT m.seq, m.envelope_from, m.received_at, r.raw
                       FROM message m JOIN message_raw r ON r.message_seq = m.seq
                      WHERE m.mailbox_id = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3",
                )?
                .query_map(params![mailbox_id, after_seq, limit], |r| {
                    Ok(RawRow {
                        seq: r.get(0)?,
                        envelope_from: r.get(1)?,
                        received_at: r.get(2)?,
                        raw: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }
}

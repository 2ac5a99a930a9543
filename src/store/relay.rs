//! The automatic relay's durable queue (migration 11): one job per stored copy while automatic
//! relay is on, written in the copy's own transaction, worked by `relay::auto`.

use rusqlite::{params, Connection};

use super::search;
use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::ids;
use crate::query::Query;

/// Finished (sent or failed) jobs kept for the deliveries list; older ones are pruned.
const KEEP_FINISHED: i64 = 1000;

/// Where a relay job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayJobState {
    Pending,
    Sent,
    Failed,
}

impl RelayJobState {
    pub fn as_str(self) -> &'static str {
        match self {
            RelayJobState::Pending => "pending",
            RelayJobState::Sent => "sent",
            RelayJobState::Failed => "failed",
        }
    }
}

/// A pending job, with the message it is about.
#[derive(Debug, Clone)]
pub struct RelayJob {
    pub seq: i64,
    pub id: String,
    pub message_seq: i64,
    pub mailbox_id: String,
    pub message_id: String,
    pub attempts: u32,
    pub next_at: Millis,
}

/// One job as `GET /v1/relay/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayJobRow {
    pub id: String,
    pub mailbox_id: String,
    pub message_id: String,
    /// `pending`, `sent` or `failed`, as stored.
    pub state: String,
    pub attempts: u32,
    pub next_at: Millis,
    pub last_error: Option<String>,
    pub response: Option<String>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

/// The outcome of one attempt, to record on its job.
#[derive(Debug, Clone)]
pub struct RelayAttempt {
    pub state: RelayJobState,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    /// When the next attempt is due (only read while pending).
    pub next_at: Millis,
    pub error: Option<String>,
    pub response: Option<String>,
    pub at: Millis,
}

/// Queues a job for the message row `message_seq`, due at once (inside the writer's job, so it
/// commits with the message or not at all).
pub(super) fn queue_job(conn: &Connection, message_seq: i64, now: Millis) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO relay_job (id, message_seq, state, attempts, next_at, created_at)
         VALUES (?1, ?2, 'pending', 0, ?3, ?3)",
    )?
    .execute(params![ids::time_ordered_id("rly"), message_seq, now])?;
    Ok(())
}

impl Store {
    /// The first `limit` pending jobs of live mailboxes, earliest due first (a job of an
    /// expired mailbox waits for the delete that takes it along).
    pub async fn pending_relay_jobs(&self, now: Millis, limit: usize) -> Result<Vec<RelayJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT j.seq, j.id, j.message_seq, m.mailbox_id, m.id, j.attempts, j.next_at
                   FROM relay_job j
                   JOIN message m ON m.seq = j.message_seq
                   JOIN mailbox b ON b.id = m.mailbox_id
                  WHERE j.state = 'pending' AND b.expires_at > ?1
                  ORDER BY j.next_at, j.seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![now, limit], |r| {
                Ok(RelayJob {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    message_seq: r.get(2)?,
                    mailbox_id: r.get(3)?,
                    message_id: r.get(4)?,
                    attempts: r.get(5)?,
                    next_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Whether the message row `message_seq` matches `query`, by the search's own clauses.
    pub async fn message_matches(&self, message_seq: i64, query: Query) -> Result<bool> {
        self.read(move |conn| search::matches(conn, message_seq, &query))
            .await
    }

    /// Removes a job that has nothing to send (its message does not match, or names no
    /// recipient the relay may reach).
    pub async fn drop_relay_job(&self, seq: i64) -> Result<()> {
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM relay_job WHERE seq = ?1")?
                .execute([seq])?;
            Ok(())
        })
        .await
    }

    /// Records an attempt on job `seq`; only the newest finished jobs are kept.
    pub async fn record_relay_attempt(&self, seq: i64, a: RelayAttempt) -> Result<()> {
        self.write(move |conn| {
            let finished = a.state != RelayJobState::Pending;
            conn.prepare_cached(
                "UPDATE relay_job
                    SET state = ?2, attempts = ?3, next_at = ?4, last_error = ?5, response = ?6,
                        finished_at = CASE WHEN ?7 THEN ?8 END
                  WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                a.state.as_str(),
                a.attempts,
                a.next_at,
                a.error,
                a.response,
                finished,
                a.at
            ])?;
            if finished {
                conn.prepare_cached(
                    "DELETE FROM relay_job
                      WHERE state <> 'pending'
                        AND seq <= (SELECT seq FROM relay_job WHERE state <> 'pending'
                                     ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
                )?
                .execute([KEEP_FINISHED])?;
            }
            Ok(())
        })
        .await
    }

    /// The `limit` newest jobs, newest first.
    pub async fn relay_jobs(&self, limit: usize) -> Result<Vec<RelayJobRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT j.id, m.mailbox_id, m.id, j.state, j.attempts, j.next_at, j.last_error,
                        j.response, j.created_at, j.finished_at
                   FROM relay_job j JOIN message m ON m.seq = j.message_seq
                  ORDER BY j.seq DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(RelayJobRow {
                    id: r.get(0)?,
                    mailbox_id: r.get(1)?,
                    message_id: r.get(2)?,
                    state: r.get(3)?,
                    attempts: r.get(4)?,
                    next_at: r.get(5)?,
                    last_error: r.get(6)?,
                    response: r.get(7)?,
                    created_at: r.get(8)?,
                    finished_at: r.get(9)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

//! The webhook tables: registered webhooks and their durable delivery queue.

use std::sync::atomic::Ordering;

use rusqlite::{params, OptionalExtension, Row};

use super::Store;
use crate::clock::Millis;
use crate::error::{Error, Result};

/// Finished (delivered or failed) rows kept per webhook, for its deliveries list.
const KEEP_FINISHED: i64 = 100;

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub mailbox_id: Option<String>,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: Millis,
}

/// What became of a webhook insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookInsert {
    Inserted,
    /// The store already holds the most webhooks allowed.
    TooMany,
    /// The webhook's mailbox is gone (expired or deleted since it was looked up).
    MailboxGone,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One delivery row, as a webhook's deliveries list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`, as stored.
    pub state: String,
    pub attempts: u32,
    pub next_at: Millis,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

/// A delivery to queue for one webhook; its body is final (every attempt sends these bytes).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event: &'static str,
    pub body: Vec<u8>,
}

/// A pending delivery, with what is needed to send it.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub seq: i64,
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub next_at: Millis,
    pub url: String,
    pub secret: String,
}

/// The outcome of one attempt, to record on its row.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub state: DeliveryState,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    /// When the next attempt is due (only read while pending).
    pub next_at: Millis,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: Millis,
}

fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events_json: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        mailbox_id: r.get(2)?,
        // Written by us as a JSON array; an unreadable one would only match nothing.
        events: serde_json::from_str(&events_json).unwrap_or_default(),
        secret: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl Store {
    /// How many times the webhook table changed through this store (insert or delete): a
    /// copy of the webhooks read at generation `g` is current while this still returns `g`.
    /// Read it before reading the rows: a change committed meanwhile bumps it again after.
    pub fn webhooks_generation(&self) -> u64 {
        self.inner.webhooks_generation.load(Ordering::SeqCst)
    }

    fn webhooks_changed(&self) {
        self.inner
            .webhooks_generation
            .fetch_add(1, Ordering::SeqCst);
    }

    /// Inserts a webhook unless `max` exist already or its mailbox is no longer live at
    /// `hook.created_at` (both checked inside the write).
    pub async fn insert_webhook(&self, hook: Webhook, max: i64) -> Result<WebhookInsert> {
        let events_json = serde_json::to_string(&hook.events)
            .map_err(|e| Error::InvalidInput(format!("events: {e}")))?;
        let outcome = self
            .write(move |conn| {
                let count: i64 =
                    conn.query_row("SELECT COUNT(*) FROM webhook", [], |r| r.get(0))?;
                if count >= max {
                    return Ok(WebhookInsert::TooMany);
                }
                let inserted = conn.execute(
                    "INSERT INTO webhook (id, url, mailbox_id, events_json, secret, created_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6
                      WHERE ?3 IS NULL
                         OR EXISTS (SELECT 1 FROM mailbox WHERE id = ?3 AND expires_at > ?6)",
                    params![
                        hook.id,
                        hook.url,
                        hook.mailbox_id,
                        events_json,
                        hook.secret,
                        hook.created_at
                    ],
                )?;
                Ok(if inserted == 0 {
                    WebhookInsert::MailboxGone
                } else {
                    WebhookInsert::Inserted
                })
            })
            .await?;
        if outcome == WebhookInsert::Inserted {
            self.webhooks_changed();
        }
        Ok(outcome)
    }

    /// Every webhook, newest first.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT id, url, mailbox_id, events_json, secret, created_at
                   FROM webhook ORDER BY created_at DESC, id DESC",
            )?;
            let rows = st.query_map([], webhook_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Deletes a webhook and its deliveries; false if there was none with that id.
    pub async fn delete_webhook(&self, id: String) -> Result<bool> {
        let deleted = self
            .write(move |conn| Ok(conn.execute("DELETE FROM webhook WHERE id = ?1", [&id])? > 0))
            .await?;
        if deleted {
            self.webhooks_changed();
        }
        Ok(deleted)
    }

    /// A webhook's `limit` most recent deliveries, newest first; `None` if there is no such webhook.
    pub async fn deliveries_of(
        &self,
        id: String,
        limit: usize,
    ) -> Result<Option<Vec<DeliveryRow>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let exists = conn
                .query_row("SELECT 1 FROM webhook WHERE id = ?1", [&id], |_| Ok(()))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut st = conn.prepare_cached(
                "SELECT id, event_name, state, attempts, next_at, last_status, last_error,
                        created_at, finished_at
                   FROM webhook_delivery WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![id, limit], |r| {
                Ok(DeliveryRow {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    state: r.get(2)?,
                    attempts: r.get(3)?,
                    next_at: r.get(4)?,
                    last_status: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: r.get(7)?,
                    finished_at: r.get(8)?,
                })
            })?;
            Ok(Some(rows.collect::<rusqlite::Result<_>>()?))
        })
        .await
    }

    /// Queues deliveries, due at once, in one write. A delivery whose webhook is gone (deleted
    /// since the caller read the webhooks) is dropped.
    pub async fn queue_deliveries(&self, rows: Vec<NewDelivery>, now: Millis) -> Result<()> {
        self.write(move |conn| {
            let mut st = conn.prepare_cached(
                "INSERT INTO webhook_delivery
                     (id, webhook_id, event_name, body, state, attempts, next_at, created_at)
                 SELECT ?1, id, ?2, ?3, 'pending', 0, ?4, ?4 FROM webhook WHERE id = ?5",
            )?;
            for r in &rows {
                st.execute(params![r.id, r.event, r.body, now, r.webhook_id])?;
            }
            Ok(())
        })
        .await
    }

    /// The first `limit` pending deliveries, earliest due first.
    pub async fn pending_deliveries(&self, limit: usize) -> Result<Vec<PendingDelivery>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT d.seq, d.id, d.webhook_id, d.event_name, d.body, d.attempts, d.next_at,
                        w.url, w.secret
                   FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id
                  WHERE d.state = 'pending'
                  ORDER BY d.next_at, d.seq LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(PendingDelivery {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    webhook_id: r.get(2)?,
                    event: r.get(3)?,
                    body: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                    attempts: r.get(5)?,
                    next_at: r.get(6)?,
                    url: r.get(7)?,
                    secret: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Records an attempt on delivery `seq` of `webhook_id`. A finished row drops its body, and
    /// only the newest finished rows of the webhook are kept.
    pub async fn record_attempt(&self, seq: i64, webhook_id: String, a: Attempt) -> Result<()> {
        self.write(move |conn| {
            let finished = a.state != DeliveryState::Pending;
            // A finished row drops its body: no mail summary stays here longer than needed.
            conn.prepare_cached(
                "UPDATE webhook_delivery
                    SET state = ?2, attempts = ?3, next_at = ?4, last_status = ?5, last_error = ?6,
                        body = CASE WHEN ?7 THEN NULL ELSE body END,
                        finished_at = CASE WHEN ?7 THEN ?8 END
                  WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                a.state.as_str(),
                a.attempts,
                a.next_at,
                a.status,
                a.error,
                finished,
                a.at
            ])?;
            if finished {
                conn.prepare_cached(
                    "DELETE FROM webhook_delivery
                      WHERE webhook_id = ?1 AND state <> 'pending'
                        AND seq <= (SELECT seq FROM webhook_delivery
                                     WHERE webhook_id = ?1 AND state <> 'pending'
                                     ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                )?
                .execute(params![webhook_id, KEEP_FINISHED])?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(id: &str) -> Webhook {
        Webhook {
            id: id.into(),
            url: "http://h/".into(),
            mailbox_id: None,
            events: vec!["message.received".into()],
            secret: "s".into(),
            created_at: 1,
        }
    }

    #[tokio::test]
    async fn each_store_counts_its_own_webhook_changes_and_queries() {
        let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (
            Store::open(a_dir.path()).unwrap(),
            Store::open(b_dir.path()).unwrap(),
        );
        let queries = a.queries();
        assert_eq!(
            a.insert_webhook(hook("w1"), 1).await.unwrap(),
            WebhookInsert::Inserted
        );
        assert_eq!(
            a.insert_webhook(hook("w2"), 1).await.unwrap(),
            WebhookInsert::TooMany
        );
        assert_eq!(a.webhooks_generation(), 1, "only a change counts");
        assert_eq!(
            b.webhooks_generation(),
            0,
            "another store's change is not this one's"
        );
        assert_eq!(a.queries() - queries, 2);

        assert!(!a.delete_webhook("w2".into()).await.unwrap());
        assert_eq!(a.webhooks_generation(), 1);
        assert!(a.delete_webhook("w1".into()).await.unwrap());
        assert_eq!(a.webhooks_generation(), 2);
        assert!(a.webhooks().await.unwrap().is_empty());
        assert_eq!(a.queries() - queries, 5);
        a.close();
        b.close();
    }
}

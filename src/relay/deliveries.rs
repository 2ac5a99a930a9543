//! The automatic relay's queue as the API shows it (`GET /v1/relay/deliveries`).

use serde::Serialize;

use crate::clock::to_rfc3339;
use crate::engine::Engine;
use crate::error::Result;
use crate::store::RelayJobRow;

/// One automatic relay job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayDelivery {
    pub id: String,
    pub mailbox_id: String,
    pub message_id: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The relay's reply, once sent.
    pub response: Option<String>,
    /// When the next attempt is due; only while `pending`.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl From<RelayJobRow> for RelayDelivery {
    fn from(r: RelayJobRow) -> RelayDelivery {
        RelayDelivery {
            next_attempt_at: (r.state == "pending").then(|| to_rfc3339(r.next_at)),
            id: r.id,
            mailbox_id: r.mailbox_id,
            message_id: r.message_id,
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            response: r.response,
            created_at: to_rfc3339(r.created_at),
            finished_at: r.finished_at.map(to_rfc3339),
        }
    }
}

/// The `limit` newest automatic relay jobs, newest first.
pub async fn list(engine: &Engine, limit: usize) -> Result<Vec<RelayDelivery>> {
    let rows = engine.store().relay_jobs(limit).await?;
    Ok(rows.into_iter().map(RelayDelivery::from).collect())
}

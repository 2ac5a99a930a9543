//! The engine as the SMTP sessions' [`Mailroom`]: recipients are the engine's policy, delivery
//! goes through ingest, the counters into the engine's metrics,
//! the fault questions to its fault state.

use std::sync::atomic::Ordering::Relaxed;

use super::Mailroom;
use crate::engine::Engine;
use crate::engine::{FaultAction, FaultContext, FaultStage, RcptDecision, Recipient};
use crate::error::Result;
use crate::ingest::IngestOutcome;
use crate::metrics::Rejection;
use crate::model::{Envelope, Refusal, TranscriptLine};

impl Mailroom for Engine {
    async fn check_recipient(&self, address: &str) -> Result<RcptDecision> {
        Engine::check_recipient(self, address).await
    }

    async fn deliver(
        &self,
        envelope: Envelope,
        transcript: Vec<TranscriptLine>,
        recipients: Vec<Recipient>,
        raw: Vec<u8>,
    ) -> Result<IngestOutcome> {
        crate::ingest::deliver(self, &envelope, &transcript, recipients, raw).await
    }

    fn count_session(&self) {
        self.metrics().smtp_sessions.fetch_add(1, Relaxed);
    }

    fn count_rejection(&self, why: Rejection) {
        self.metrics().reject(why);
    }

    fn fault(&self, stage: FaultStage, ctx: &FaultContext<'_>) -> Option<FaultAction> {
        self.fault_state()
            .decide(stage, ctx, crate::clock::now_ms())
    }

    fn record_refusal(&self, refusal: Refusal) {
        Engine::record_refusal(self, refusal);
    }
}

//! The engine as the SMTP sessions' [`Mailroom`]: logins and recipients are the engine's
//! policy, delivery goes through ingest, the counters into the engine's metrics, the fault
//! questions to its fault state.

use std::sync::atomic::Ordering::Relaxed;

use super::Mailroom;
use crate::credentials::Credentials;
use crate::engine::Engine;
use crate::engine::{
    AuthPolicy, AuthVerdict, FaultAction, FaultContext, FaultStage, RcptDecision, Recipient,
};
use crate::error::Result;
use crate::ingest::IngestOutcome;
use crate::metrics::Rejection;
use crate::model::{Envelope, Refusal, TranscriptLine};

impl Mailroom for Engine {
    async fn check_recipient(
        &self,
        address: &str,
        smtp_user: Option<&str>,
    ) -> Result<RcptDecision> {
        Engine::check_recipient(self, address, smtp_user).await
    }

    fn auth_policy(&self) -> AuthPolicy {
        Engine::auth_policy(self)
    }

    async fn authenticate(&self, user: &str, password: Option<&str>) -> AuthVerdict {
        if let Credentials::Any = self.credentials() {
            return self.check_login(user, password); // nothing slow to check
        }
        // bcrypt takes tens to hundreds of milliseconds on purpose: off the async workers.
        let (engine, user, password) = (self.clone(), user.to_string(), password.map(String::from));
        tokio::task::spawn_blocking(move || engine.check_login(&user, password.as_deref()))
            .await
            .unwrap_or(AuthVerdict::Refused)
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

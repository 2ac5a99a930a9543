//! What an SMTP session asks of the rest of the system: how is AUTH offered, is this login
//! good, is a recipient wanted, store this message, count this. The session holds protocol only; the policy and the store are behind
//! [`Mailroom`]. The engine implements it (`engine_mailroom.rs`); session tests and the fuzzer
//! use the in-memory [`MemorySink`](super::MemorySink).

use std::future::Future;

use crate::engine::{
    AuthPolicy, AuthVerdict, FaultAction, FaultContext, FaultStage, RcptDecision, Recipient,
};
use crate::error::Result;
use crate::ingest::IngestOutcome;
use crate::metrics::Rejection;
use crate::model::{Envelope, Refusal, TranscriptLine};

/// Where a [`Session`](super::Session) sends its questions and its mail.
///
/// `Send + Sync`, and every future `Send`: the server runs each session on its own task.
pub trait Mailroom: Send + Sync {
    /// Whether mail to `address` (lower-case) is wanted here, and under which caps, from a
    /// session logged in as `smtp_user` (if it is).
    fn check_recipient(
        &self,
        address: &str,
        smtp_user: Option<&str>,
    ) -> impl Future<Output = Result<RcptDecision>> + Send;

    /// How AUTH is offered to a session now (it can change with LAN mode).
    fn auth_policy(&self) -> AuthPolicy;

    /// Checks a login (`password` is `None` for CRAM-MD5). May take a while (bcrypt); it must
    /// not hold up other sessions.
    fn authenticate(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> impl Future<Output = AuthVerdict> + Send;

    /// Stores one message for the recipients accepted at RCPT, with its envelope and the
    /// session's transcript so far; returns once it is kept. An error that
    /// [`crate::store::is_disk_full`] recognises is answered with 452 4.3.1, any other with 451.
    fn deliver(
        &self,
        envelope: Envelope,
        transcript: Vec<TranscriptLine>,
        recipients: Vec<Recipient>,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<IngestOutcome>> + Send;

    /// A client connected and got its greeting.
    fn count_session(&self);

    /// A recipient or a message was refused, and why.
    fn count_rejection(&self, why: Rejection);

    /// Faults on demand: what to do at `stage` instead of (or before) the session's own reply;
    /// `None` while faults are off.
    fn fault(&self, stage: FaultStage, ctx: &FaultContext<'_>) -> Option<FaultAction>;

    /// Keeps a refused attempt for `GET /v1/refusals`.
    fn record_refusal(&self, refusal: Refusal);
}

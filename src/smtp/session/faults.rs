//! Faults on demand, the session's side: at each stage the session asks its mailroom
//! ([`Mailroom::fault`]) and acts on the answer: a reply in place of its own, a delay before the
//! reply goes out, or a cut in the middle of DATA. The policy (which rule, greylist, rate
//! windows) is the engine's (`engine/faults.rs`); here is only what the protocol does with it.

use std::time::Duration;

use super::{Flow, Session};
use crate::engine::{FaultContext, FaultEffect, FaultStage};
use crate::metrics::Rejection;
use crate::smtp::Mailroom;

/// What faults left for the rest of the session to do.
#[derive(Debug, Default)]
pub(super) struct SessionFaults {
    /// Waited before the pending replies are written.
    hold: Duration,
    /// Bytes of the message still read before the connection is cut without a reply.
    cut_after: Option<u64>,
    /// The greeting was replaced by a refusal: close once it is sent.
    refused_at_connect: bool,
}

impl SessionFaults {
    /// How the connection goes on after the greeting.
    pub(super) fn greeting_flow(&self) -> Flow {
        if self.refused_at_connect {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// The delay to wait before the pending replies go out (once).
    pub(super) fn take_hold(&mut self) -> Option<Duration> {
        let hold = std::mem::take(&mut self.hold);
        (!hold.is_zero()).then_some(hold)
    }

    /// Counts `bytes` more of the message; true when a cut is due: the byte count is reached,
    /// or the message ended first (it is never stored either way).
    pub(super) fn cut_due(&mut self, bytes: usize, message_ended: bool) -> bool {
        let Some(left) = self.cut_after.as_mut() else {
            return false;
        };
        *left = left.saturating_sub(bytes as u64);
        if *left == 0 || message_ended {
            self.cut_after = None;
            return true;
        }
        false
    }

    /// A transaction ended (reset, cut, or a new one): no cut carries over.
    pub(super) fn end_transaction(&mut self) {
        self.cut_after = None;
    }
}

impl<M: Mailroom> Session<M> {
    /// Asks about faults at `stage` (`rcpt`: the recipient being asked about; else the accepted
    /// ones count). `Some(flow)` when a fault answered instead of the stage: its reply is queued
    /// and the caller returns `flow`. A delay or a cut to come is noted and `None` returned.
    pub(super) fn fault_at(&mut self, stage: FaultStage, rcpt: Option<&str>) -> Option<Flow> {
        let recipients: Vec<&str> = match rcpt {
            Some(r) => vec![r],
            None => self.recipients.iter().map(|r| r.address()).collect(),
        };
        let ctx = FaultContext {
            peer: self.peer.ip(),
            helo: self.envelope.helo.as_deref(),
            mail_from: self.mail_from.as_deref(),
            recipients: &recipients,
            auth_user: self.envelope.auth_user.as_deref(),
        };
        let action = self.mailroom.fault(stage, &ctx)?;
        self.faults.hold += action.delay;
        match action.effect? {
            FaultEffect::DisconnectAfter(bytes) => {
                self.faults.cut_after = Some(bytes);
                None
            }
            FaultEffect::Reply { code, text } => {
                tracing::info!(peer = %self.peer, ?stage, code, "smtp: refused by a fault on demand");
                if stage == FaultStage::Connect {
                    self.output.clear();
                    self.faults.refused_at_connect = true;
                }
                let reply = format!("{code} {text}");
                self.reply(&reply);
                self.rejected(Rejection::Fault, rcpt, &reply);
                // 421 says the service is closing the channel (RFC 5321 3.8).
                Some(if code == 421 {
                    Flow::Close
                } else {
                    Flow::Continue
                })
            }
        }
    }

    /// The delay faults put before the pending replies, taken once (tests read it instead of
    /// waiting; [`super::run`] sleeps it).
    pub fn take_fault_delay(&mut self) -> Option<Duration> {
        self.faults.take_hold()
    }

    /// Whether the greeting was refused by a fault, so the connection closes after it.
    pub fn greeting_flow(&self) -> Flow {
        self.faults.greeting_flow()
    }
}

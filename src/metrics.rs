//! Counters for `/metrics` (Prometheus text format). Plain atomics: bumped on hot paths.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Why an SMTP message or recipient was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    UnknownRecipient,
    TooBig,
    MailboxFull,
    TooManyRecipients,
    StoreFailure,
    /// Refused by a fault on demand (`/v1/faults`), a mid-DATA disconnect included.
    Fault,
}

const REJECTIONS: [(Rejection, &str); 6] = [
    (Rejection::UnknownRecipient, "unknown_recipient"),
    (Rejection::TooBig, "too_big"),
    (Rejection::MailboxFull, "mailbox_full"),
    (Rejection::TooManyRecipients, "too_many_recipients"),
    (Rejection::StoreFailure, "store_failure"),
    (Rejection::Fault, "fault"),
];

/// The engine's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub messages_received: AtomicU64,
    pub bytes_received: AtomicU64,
    rejected: [AtomicU64; REJECTIONS.len()],
    pub smtp_sessions: AtomicU64,
    pub sweeps: AtomicU64,
    pub sweep_micros_total: AtomicU64,
    pub sweep_micros_last: AtomicU64,
    pub mailboxes_expired: AtomicU64,
    pub sse_clients: AtomicI64,
    /// Webhook deliveries answered with 2xx.
    pub webhook_delivered: AtomicU64,
    /// Webhook attempts that failed (non-2xx, network error or timeout), retried or not.
    pub webhook_failed_attempts: AtomicU64,
    /// Webhook deliveries given up after their last attempt (state `failed`).
    pub webhook_given_up: AtomicU64,
}

impl Metrics {
    pub fn reject(&self, why: Rejection) {
        if let Some(i) = REJECTIONS.iter().position(|(r, _)| *r == why) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus exposition of every counter, plus the gauges and the store's query
    /// count passed in.
    pub fn render(&self, mailboxes_live: u64, messages_stored: u64, store_queries: u64) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: u64| vec![(String::new(), v as f64)];
        metric(
            "mailiy_messages_received_total",
            "counter",
            "Messages stored (one per recipient mailbox).",
            &one(self.messages_received.load(Relaxed)),
        );
        metric(
            "mailiy_bytes_received_total",
            "counter",
            "Raw bytes of stored messages.",
            &one(self.bytes_received.load(Relaxed)),
        );
        let rejected: Vec<(String, f64)> = REJECTIONS
            .iter()
            .zip(&self.rejected)
            .map(|((_, label), n)| (format!("{{reason=\"{label}\"}}"), n.load(Relaxed) as f64))
            .collect();
        metric(
            "mailiy_messages_rejected_total",
            "counter",
            "SMTP refusals by reason.",
            &rejected,
        );
        metric(
            "mailiy_smtp_sessions_total",
            "counter",
            "SMTP connections accepted.",
            &one(self.smtp_sessions.load(Relaxed)),
        );
        metric(
            "mailiy_mailboxes_live",
            "gauge",
            "Mailboxes not yet expired.",
            &one(mailboxes_live),
        );
        metric(
            "mailiy_messages_stored",
            "gauge",
            "Messages in live mailboxes.",
            &one(messages_stored),
        );
        metric(
            "mailiy_mailboxes_expired_total",
            "counter",
            "Mailboxes deleted by expiry.",
            &one(self.mailboxes_expired.load(Relaxed)),
        );
        metric(
            "mailiy_expiry_sweeps_total",
            "counter",
            "Expiry sweeps run.",
            &one(self.sweeps.load(Relaxed)),
        );
        metric(
            "mailiy_expiry_sweep_seconds_total",
            "counter",
            "Time spent in expiry sweeps.",
            &[(
                String::new(),
                self.sweep_micros_total.load(Relaxed) as f64 / 1e6,
            )],
        );
        metric(
            "mailiy_expiry_sweep_last_seconds",
            "gauge",
            "Duration of the last expiry sweep.",
            &[(
                String::new(),
                self.sweep_micros_last.load(Relaxed) as f64 / 1e6,
            )],
        );
        metric(
            "mailiy_sse_clients",
            "gauge",
            "Connected event-stream clients.",
            &[(String::new(), self.sse_clients.load(Relaxed) as f64)],
        );
        metric(
            "mailiy_webhook_deliveries_total",
            "counter",
            "Webhook deliveries answered with 2xx.",
            &one(self.webhook_delivered.load(Relaxed)),
        );
        metric(
            "mailiy_webhook_failures_total",
            "counter",
            "Webhook delivery attempts that failed (retried or not).",
            &one(self.webhook_failed_attempts.load(Relaxed)),
        );
        metric(
            "mailiy_webhook_given_up_total",
            "counter",
            "Webhook deliveries given up after the last attempt.",
            &one(self.webhook_given_up.load(Relaxed)),
        );
        metric(
            "mailiy_store_queries_total",
            "counter",
            "Store reads and writes run.",
            &one(store_queries),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_reasons() {
        let m = Metrics::default();
        m.reject(Rejection::UnknownRecipient);
        m.reject(Rejection::UnknownRecipient);
        m.messages_received.fetch_add(3, Relaxed);
        let text = m.render(2, 3, 0);
        assert!(text.contains("mailiy_messages_rejected_total{reason=\"unknown_recipient\"} 2"));
        assert!(text.contains("mailiy_messages_received_total 3"));
        assert!(text.contains("# TYPE mailiy_mailboxes_live gauge\nmailiy_mailboxes_live 2"));
    }
}

//! The one write path for mail: recipient policy, then raw bytes -> parse -> sanitize -> store,
//! then the `message.received` event (only after the commit).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::clock::now_ms;
use crate::config::Tier;
use crate::engine::{Engine, Recipient};
use crate::error::Result;
use crate::events::EventKind;
use crate::ids;
use crate::mime::{self, ParsedMessage};
use crate::model::{attachments_url_base, transcript_for_copy, Envelope, TranscriptLine};
use crate::sanitize::{SanitizeOptions, Sanitizer};
use crate::store::{Delivered, DeliveryCopy, DeliveryOutcome, PreparedMessage, RcptTarget};

/// Messages up to this size are parsed and sanitized on the session's own task.
const INLINE_PREPARE_BYTES: usize = 8 * 1024;

/// What became of one message across its recipients.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Ids of the stored copies.
    pub stored: Vec<String>,
    pub storage_full: usize,
    pub mailbox_gone: usize,
    /// Copies of a remote message that this mailbox already had (sync).
    pub already_stored: usize,
}

/// Parses, sanitizes and stores one message for its recipients, each copy with the envelope
/// and the session's transcript. Returns once committed.
pub async fn deliver(
    engine: &Engine,
    envelope: &Envelope,
    transcript: &[TranscriptLine],
    recipients: Vec<Recipient>,
    raw: Vec<u8>,
) -> Result<IngestOutcome> {
    deliver_copies(engine, envelope, transcript, recipients, raw, None).await
}

/// Stores a message taken from a remote endpoint in its local mailbox, by the same path as
/// SMTP mail (so the viewer, sanitizer, events and webhooks treat it alike), at most once per
/// `remote_message_id`.
pub async fn deliver_synced(
    engine: &Engine,
    mailbox: Recipient,
    remote_message_id: String,
    envelope_from: String,
    raw: Vec<u8>,
) -> Result<IngestOutcome> {
    deliver_copies(
        engine,
        &Envelope::sender_only(envelope_from),
        &[],
        vec![mailbox],
        raw,
        Some(remote_message_id),
    )
    .await
}

async fn deliver_copies(
    engine: &Engine,
    envelope: &Envelope,
    transcript: &[TranscriptLine],
    recipients: Vec<Recipient>,
    raw: Vec<u8>,
    synced_from: Option<String>,
) -> Result<IngestOutcome> {
    let received_at = now_ms();
    let raw = Arc::new(raw);
    let default_ttl = |tier: Tier| i64::from(engine.default_ttl_for(tier)) * 60_000;
    let targets: Vec<(Recipient, i64)> = recipients
        .into_iter()
        .map(|r| {
            let ttl = match &r {
                Recipient::CatchAll { tier, .. } => default_ttl(*tier),
                Recipient::Mailbox { .. } => 0,
            };
            (r, received_at + ttl)
        })
        .collect();
    let own_envelopes: Vec<(Envelope, Vec<TranscriptLine>)> = targets
        .iter()
        .map(|(recipient, _)| {
            let own = envelope.for_copy(recipient.address());
            let lines = transcript_for_copy(transcript, &own.rcpt_to);
            (own, lines)
        })
        .collect();
    let prepare = {
        let (raw, targets, synced_from) = (raw.clone(), targets.clone(), synced_from.clone());
        let engine = engine.clone();
        move || prepare(engine.sanitizer(), &raw, targets, synced_from)
    };
    // Small messages are parsed right here: the work is bounded by their size and cheaper than
    // the hop to a blocking thread. Larger ones go to the blocking pool.
    let prepared = if raw.len() <= INLINE_PREPARE_BYTES {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(prepare)).map_err(|_| ())
    } else {
        tokio::task::spawn_blocking(prepare).await.map_err(|_| ())
    };
    let (mut prepared, mut copies) = match prepared {
        Ok(p) => p,
        Err(_) => {
            // A panic in parsing or sanitizing: the message is still kept, raw, with a note.
            tracing::error!(
                size = raw.len(),
                "parser panicked; storing the raw message only"
            );
            let parsed = unparsed(&raw);
            let copies = copies_for(engine.sanitizer(), &parsed, targets, synced_from);
            (PreparedMessage::new(parsed), copies)
        }
    };
    prepared.tags = crate::tags::from_headers(
        prepared
            .parsed
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(crate::tags::HEADER))
            .map(|h| h.value.as_str()),
        engine.config().tags,
    );
    // Queued with the message, in its transaction: a 250 never loses its relay.
    prepared.auto_relay = engine.auto_relay_on();
    // Copies come in the order of their targets; each keeps only its own recipients.
    for (copy, (own, lines)) in copies.iter_mut().zip(&own_envelopes) {
        copy.set_envelope(own, lines);
    }
    let outcomes = engine
        .store()
        .deliver(
            raw.clone(),
            Arc::new(prepared),
            envelope.mail_from.clone(),
            received_at,
            copies,
            engine.config().tiers.clone(),
        )
        .await?;
    let mut result = IngestOutcome::default();
    for outcome in outcomes {
        match outcome {
            DeliveryOutcome::Stored(d) => {
                let Delivered {
                    created_mailbox,
                    summary,
                } = *d;
                if let Some(m) = created_mailbox {
                    engine.mailbox_created(&m);
                }
                tracing::debug!(mailbox = %summary.mailbox_id, message = %summary.id, size = raw.len(), "message stored");
                result.stored.push(summary.id.clone());
                let m = engine.metrics();
                m.messages_received.fetch_add(1, Relaxed);
                m.bytes_received.fetch_add(raw.len() as u64, Relaxed);
                engine.events().publish(EventKind::MessageReceived {
                    mailbox_id: summary.mailbox_id.clone(),
                    message: summary,
                });
            }
            DeliveryOutcome::StorageFull => result.storage_full += 1,
            DeliveryOutcome::MailboxGone => result.mailbox_gone += 1,
            DeliveryOutcome::AlreadyStored => result.already_stored += 1,
        }
    }
    Ok(result)
}

/// Parses and renders a message once and makes each target's copy (a recipient and its
/// mailbox's expiry): all the store needs, computed outside the writer, so that reading a
/// message later parses and sanitizes nothing. Never fails and never
/// panics on hostile bytes; the fuzzer (`fuzz/fuzz_targets/mime_ingest.rs`) drives it.
pub fn prepare(
    sanitizer: &Sanitizer,
    raw: &[u8],
    targets: Vec<(Recipient, i64)>,
    synced_from: Option<String>,
) -> (PreparedMessage, Vec<DeliveryCopy>) {
    let parsed = mime::parse(raw);
    let copies = copies_for(sanitizer, &parsed, targets, synced_from);
    (PreparedMessage::new(parsed), copies)
}

fn copies_for(
    sanitizer: &Sanitizer,
    parsed: &ParsedMessage,
    targets: Vec<(Recipient, i64)>,
    synced_from: Option<String>,
) -> Vec<DeliveryCopy> {
    targets
        .into_iter()
        .map(|(r, e)| copy_for(sanitizer, parsed, r, e, synced_from.clone()))
        .collect()
}

/// One recipient's copy: fresh ids, and HTML sanitized with `cid:` pointing at its attachments
/// (once as shown by default, once more with remote content allowed when the first blocked
/// some).
fn copy_for(
    sanitizer: &Sanitizer,
    parsed: &ParsedMessage,
    recipient: Recipient,
    expires_at: i64,
    synced_from: Option<String>,
) -> DeliveryCopy {
    let message_id = ids::time_ordered_id("msg");
    let attachment_ids: Vec<String> = parsed
        .attachments
        .iter()
        .map(|_| ids::time_ordered_id("att"))
        .collect();
    let base = attachments_url_base(recipient.address(), &message_id);
    let cid_url = |cid: &str| {
        parsed
            .attachments
            .iter()
            .position(|a| a.content_id.as_deref() == Some(cid))
            .map(|i| format!("{base}{}", attachment_ids[i]))
    };
    let sanitize = |html: &str, allow_remote: bool| {
        sanitizer.sanitize(
            html,
            &SanitizeOptions {
                allow_remote,
                cid_url: &cid_url,
            },
        )
    };
    let sanitized = parsed.html.as_deref().map(|html| sanitize(html, false));
    let remote_blocked = sanitized.as_ref().is_some_and(|s| s.remote_content_blocked);
    // Only when something was blocked does the remote view differ; otherwise `html` serves it.
    let html_remote = parsed
        .html
        .as_deref()
        .filter(|_| remote_blocked)
        .map(|html| sanitize(html, true).html);
    let html = sanitized.map(|s| s.html);
    DeliveryCopy {
        target: target_of(recipient, expires_at),
        message_id,
        attachment_ids,
        remote_blocked,
        html,
        html_remote,
        synced_from,
        envelope_json: None,
        transcript_json: None,
        rcpt_to: Vec::new(),
    }
}

fn target_of(recipient: Recipient, expires_at: i64) -> RcptTarget {
    match recipient {
        Recipient::Mailbox { id, .. } => RcptTarget::Mailbox(id),
        Recipient::CatchAll {
            address,
            tier,
            smtp_user,
        } => RcptTarget::CatchAll {
            address,
            tier,
            smtp_user,
            new_id: ids::new_id("mbx"),
            expires_at,
        },
    }
}

/// What is shown of a message the parser could not read: its start as text, and a note.
fn unparsed(raw: &[u8]) -> ParsedMessage {
    const SHOWN: usize = 1024 * 1024;
    ParsedMessage {
        text: Some(String::from_utf8_lossy(&raw[..raw.len().min(SHOWN)]).into_owned()),
        parse_note: Some("the message could not be parsed; its raw source is kept".into()),
        ..Default::default()
    }
}

//! The objects of the API (`shared/API.md`), as the store reads them.

use serde::{Deserialize, Serialize};

use crate::clock::{to_rfc3339, Millis};
use crate::config::{Tier, TierLimits};
use crate::mime::{Address, Header};

/// Where a mailbox lives: here, or on a remote Mailiy account (a local mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Local,
    Remote,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Local => "local",
            Origin::Remote => "remote",
        }
    }
}

impl std::str::FromStr for Origin {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> crate::error::Result<Origin> {
        match s {
            "local" => Ok(Origin::Local),
            "remote" => Ok(Origin::Remote),
            _ => Err(crate::error::Error::InvalidInput(format!(
                "unknown mailbox origin {s:?}"
            ))),
        }
    }
}

/// A disposable mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: String,
    pub address: String,
    pub tier: Tier,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub origin: Origin,
    pub remote: Option<String>,
    pub message_count: u64,
    pub unread_count: u64,
    pub bytes_used: u64,
    /// The SMTP user whose inbox this is (made by its first mail), if any.
    pub smtp_user: Option<String>,
}

/// The API form of a mailbox.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxView {
    pub id: String,
    pub address: String,
    pub tier: Tier,
    pub created_at: String,
    pub expires_at: String,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    pub message_count: u64,
    pub unread_count: u64,
    pub bytes_used: u64,
    pub limits: TierLimits,
    /// The SMTP user whose mail made this mailbox (an inbox per app); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_user: Option<String>,
}

impl Mailbox {
    pub fn view(&self, limits: TierLimits) -> MailboxView {
        MailboxView {
            id: self.id.clone(),
            address: self.address.clone(),
            tier: self.tier,
            created_at: to_rfc3339(self.created_at),
            expires_at: to_rfc3339(self.expires_at),
            origin: self.origin,
            remote: self.remote.clone(),
            message_count: self.message_count,
            unread_count: self.unread_count,
            bytes_used: self.bytes_used,
            limits,
            smtp_user: self.smtp_user.clone(),
        }
    }
}

/// A message in a list: what lists and live pushes carry (never the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSummary {
    pub id: String,
    pub mailbox_id: String,
    pub received_at: String,
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    pub snippet: String,
    pub size: u64,
    pub has_attachments: bool,
    pub seen: bool,
    /// Its tags, sorted (from `X-Tags` on arrival, or set through the API).
    pub tags: Vec<String>,
}

/// Attachment metadata (the bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentInfo {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub content_id: Option<String>,
    pub inline: bool,
}

/// The whole message as `GET …/messages/:mid` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageFull {
    #[serde(flatten)]
    pub summary: MessageSummary,
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub reply_to: Vec<Address>,
    pub envelope_from: String,
    /// The SMTP envelope it came with (for synced mail and mail stored before envelopes were
    /// kept: the sender alone).
    pub envelope: Envelope,
    /// Envelope recipients named in no To or Cc header, computed on read.
    pub bcc: Vec<String>,
    pub headers: Vec<Header>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// `html` with remote content allowed, rendered at ingest; only when something remote was
    /// blocked. Served instead of `html` when the reader asks for remote content.
    #[serde(skip)]
    pub html_remote: Option<String>,
    pub remote_content_blocked: bool,
    pub attachments: Vec<AttachmentInfo>,
    pub links: Vec<String>,
    pub codes: Vec<String>,
    /// Set when the message could not be fully parsed; the raw source is always available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_note: Option<String>,
}

/// The API path under which a message's attachments are served (`cid:` images point here):
/// `/v1/mailbox/{address}/messages/{message_id}/attachments/`, the address percent-encoded.
pub fn attachments_url_base(address: &str, message_id: &str) -> String {
    format!(
        "/v1/mailbox/{}/messages/{message_id}/attachments/",
        percent_encoding::utf8_percent_encode(address, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// An attachment's bytes with what a download needs.
#[derive(Debug, Clone)]
pub struct AttachmentData {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message's SMTP envelope, as its session saw it. Kept with each stored copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub mail_from: String,
    /// The addresses accepted at RCPT for this transaction, lower-cased, in the order given;
    /// each stored copy keeps only its own ([`Envelope::for_copy`]).
    pub rcpt_to: Vec<String>,
    /// The mailbox each of `rcpt_to` was delivered to (itself, or the inbox of the SMTP user
    /// it was routed to): not stored, only what narrows each copy to its own recipients.
    #[serde(skip)]
    pub delivered_to: Vec<String>,
    /// The name the client gave in HELO or EHLO.
    pub helo: Option<String>,
    /// The client's address, `ip:port`.
    pub client: Option<String>,
    /// The user the session authenticated as.
    pub auth_user: Option<String>,
    /// The TLS the session ran over, if any.
    pub tls: Option<TlsInfo>,
}

/// What a TLS session negotiated, as rustls names it (`TLSv1_3`, `TLS13_AES_256_GCM_SHA384`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
}

impl Envelope {
    /// A sender alone: mail that came by sync or before envelopes were kept.
    pub fn sender_only(mail_from: String) -> Envelope {
        Envelope {
            mail_from,
            ..Envelope::default()
        }
    }

    /// The envelope as the copy for `mailbox` (an address) keeps it: only the recipients
    /// delivered there. Another mailbox's copy never learns who else got the message in the
    /// envelope (a Bcc stays blind), and a Bcc recipient's own copy says it was one.
    pub fn for_copy(&self, mailbox: &str) -> Envelope {
        let mut own = self.clone();
        if self.delivered_to.len() == self.rcpt_to.len() {
            own.rcpt_to = self
                .rcpt_to
                .iter()
                .zip(&self.delivered_to)
                .filter(|(_, to)| to.eq_ignore_ascii_case(mailbox))
                .map(|(r, _)| r.clone())
                .collect();
        }
        own.delivered_to.clear();
        own
    }

    /// The envelope recipients that no To or Cc header names: the message's Bcc.
    pub fn bcc(&self, to: &[Address], cc: &[Address]) -> Vec<String> {
        bcc_among(&self.rcpt_to, to, cc)
    }
}

/// Who spoke a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
}

/// One line of an SMTP session's transcript: a command or a reply, never message content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Milliseconds since the client connected.
    pub t: u64,
    pub direction: Direction,
    pub text: String,
}

/// The envelope recipients `rcpt_to` that no To or Cc header names.
pub fn bcc_among(rcpt_to: &[String], to: &[Address], cc: &[Address]) -> Vec<String> {
    let named = |r: &str| {
        to.iter()
            .chain(cc)
            .any(|a| a.address.eq_ignore_ascii_case(r))
    };
    rcpt_to.iter().filter(|r| !named(r)).cloned().collect()
}

/// A transcript as one copy keeps it: `RCPT` commands naming anyone but `own` (the copy's
/// envelope recipients) say only that there was another recipient, so the session that
/// delivered a message does not tell one mailbox who else got it.
pub fn transcript_for_copy(lines: &[TranscriptLine], own: &[String]) -> Vec<TranscriptLine> {
    lines
        .iter()
        .map(|l| {
            let rcpt = l.direction == Direction::Client
                && l.text
                    .get(..5)
                    .is_some_and(|c| c.eq_ignore_ascii_case("RCPT "));
            let named = |l: &TranscriptLine| {
                let lower = l.text.to_lowercase();
                own.iter().any(|o| lower.contains(&format!("<{o}>")))
            };
            if rcpt && !named(l) {
                TranscriptLine {
                    text: "RCPT TO:<…> (another recipient)".into(),
                    ..l.clone()
                }
            } else {
                l.clone()
            }
        })
        .collect()
}

/// A refused SMTP attempt, as `GET /v1/refusals` lists it: no message content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    #[serde(skip)]
    pub at: Millis,
    pub time: String,
    /// The client's address, `ip:port`.
    pub client: String,
    pub mail_from: Option<String>,
    /// Whom it refused: at RCPT the one recipient, at the end of DATA every recipient of the
    /// transaction, at MAIL nobody.
    pub recipients: Vec<String>,
    pub code: u16,
    /// The whole reply line.
    pub reply: String,
    /// The session's latest lines, up to and with the refusal.
    pub transcript: Vec<TranscriptLine>,
}

impl Refusal {
    /// Whether `address` (lower-case) appears anywhere in it: sender, recipient or transcript.
    pub fn names(&self, address: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(address);
        self.recipients.iter().any(|r| has(r))
            || self.mail_from.as_deref().is_some_and(has)
            || self.transcript.iter().any(|l| has(&l.text))
    }
}

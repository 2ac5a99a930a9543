//! The objects of the API (`shared/API.md`), as the store reads them.

use serde::Serialize;

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

//! Turns raw RFC 822 bytes into the parts the store keeps and the API shows.
//!
//! Owned by the MIME/sanitizer work; the signatures below are the contract the rest of the
//! engine codes against.

use serde::Serialize;

/// A mailbox address as shown to users: display name (decoded) and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: Option<String>,
    pub address: String,
}

/// One header field, decoded for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// An attachment or inline part with its decoded bytes.
#[derive(Debug, Clone)]
pub struct ParsedAttachment {
    /// Safe for a download header and a file system: see [`safe_filename`].
    pub filename: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub data: Vec<u8>,
}

/// Everything the engine stores about a message besides its raw bytes.
#[derive(Debug, Clone, Default)]
pub struct ParsedMessage {
    pub subject: String,
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub reply_to: Vec<Address>,
    /// The `Date:` header as Unix milliseconds, when it could be read.
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub headers: Vec<Header>,
    pub text: Option<String>,
    /// Unsanitized: pass it through [`crate::sanitize`] before anyone sees it.
    pub html: Option<String>,
    pub attachments: Vec<ParsedAttachment>,
    pub snippet: String,
    /// Why the parse was partial or failed; `None` when it went normally.
    pub parse_note: Option<String>,
}

/// Parses a message. Never fails: what cannot be read is described in `parse_note`.
pub fn parse(raw: &[u8]) -> ParsedMessage {
    let _ = raw;
    ParsedMessage {
        parse_note: Some("parser not built yet".into()),
        ..Default::default()
    }
}

/// A filename with no path, no control or bidi characters, bounded length, never empty.
pub fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

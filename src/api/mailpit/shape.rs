//! Mailpit's JSON shapes, made from ours: the list item, the full message, attachments.

use serde_json::{json, Value};

use crate::mime::Address;
use crate::model::{AttachmentInfo, MessageFull, MessageSummary};

/// `{Name, Address}` (Mailpit always sends both, empty when unknown).
pub fn address(a: &Address) -> Value {
    json!({"Name": a.name.clone().unwrap_or_default(), "Address": a.address})
}

fn addresses(list: &[Address]) -> Vec<Value> {
    list.iter().map(address).collect()
}

fn from(a: Option<&Address>) -> Value {
    a.map(address)
        .unwrap_or_else(|| json!({"Name": "", "Address": ""}))
}

/// A list item: Mailpit's `MessageSummary`. The list row keeps no Bcc, Reply-To or
/// Message-ID (the full message has them), so they are empty here; `Attachments` counts 1
/// when the message has any.
pub fn summary(m: &MessageSummary) -> Value {
    json!({
        "ID": m.id,
        "MessageID": "",
        "Read": m.seen,
        "From": from(m.from.as_ref()),
        "To": addresses(&m.to),
        "Cc": addresses(&m.cc),
        "Bcc": [],
        "ReplyTo": [],
        "Subject": m.subject,
        "Created": m.received_at,
        "Username": "",
        "Tags": m.tags,
        "Size": m.size,
        "Attachments": u8::from(m.has_attachments),
        "Snippet": m.snippet,
    })
}

/// One attachment: `PartID` is our attachment id (what `…/part/{PartID}` takes); the
/// checksum is the SHA-256 of its bytes when they were read.
pub fn attachment(a: &AttachmentInfo, sha256: Option<String>) -> Value {
    json!({
        "PartID": a.id,
        "FileName": a.filename,
        "ContentType": a.content_type,
        "ContentID": a.content_id.clone().unwrap_or_default(),
        "Size": a.size,
        "Checksums": {"MD5": "", "SHA1": "", "SHA256": sha256.unwrap_or_default()},
    })
}

/// The full message, Mailpit's `Message`; `checksums` in the order of its attachments.
pub fn message(m: &MessageFull, checksums: &[Option<String>]) -> Value {
    let header = |name: &str| {
        m.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.clone())
            .unwrap_or_default()
    };
    let parts = |inline: bool| -> Vec<Value> {
        m.attachments
            .iter()
            .zip(checksums.iter().cloned().chain(std::iter::repeat(None)))
            .filter(|(a, _)| a.inline == inline)
            .map(|(a, sum)| attachment(a, sum))
            .collect()
    };
    let bcc: Vec<Value> = m
        .bcc
        .iter()
        .map(|a| json!({"Name": "", "Address": a}))
        .collect();
    json!({
        "ID": m.summary.id,
        "MessageID": m.message_id.clone().unwrap_or_default(),
        "From": from(m.summary.from.as_ref()),
        "To": addresses(&m.summary.to),
        "Cc": addresses(&m.summary.cc),
        "Bcc": bcc,
        "ReplyTo": addresses(&m.reply_to),
        "ReturnPath": m.envelope_from,
        "Subject": m.summary.subject,
        "ListUnsubscribe": {
            "Header": header("List-Unsubscribe"),
            "HeaderPost": header("List-Unsubscribe-Post"),
            "Links": [],
            "Errors": "",
        },
        "Date": m.date.clone().unwrap_or_else(|| m.summary.received_at.clone()),
        "Tags": m.summary.tags,
        "Username": "",
        "Text": m.text.clone().unwrap_or_default(),
        "HTML": m.html.clone().unwrap_or_default(),
        "Size": m.summary.size,
        "Inline": parts(true),
        "Attachments": parts(false),
    })
}

/// Mailpit's list object: counts of the scope and of the query, the page, every tag.
pub struct Page {
    pub total: u64,
    pub unread: u64,
    pub matched: u64,
    pub matched_unread: u64,
    pub start: u64,
    pub tags: Vec<String>,
    pub messages: Vec<MessageSummary>,
}

impl Page {
    pub fn to_json(&self) -> Value {
        let messages: Vec<Value> = self.messages.iter().map(summary).collect();
        json!({
            "total": self.total,
            "unread": self.unread,
            "count": messages.len(),
            "messages_count": self.matched,
            "messages_unread": self.matched_unread,
            "start": self.start,
            "tags": self.tags,
            "messages": messages,
        })
    }
}

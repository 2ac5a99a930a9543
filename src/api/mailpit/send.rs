//! `POST /api/v1/send`: Mailpit's JSON message, made into MIME here and stored through the
//! one ingest path (parsed, sanitized, indexed, announced as SMTP mail is). Stored once, as
//! Mailpit stores it: at the root in its first recipient's mailbox (made on the fly), under a
//! mailbox prefix in that mailbox.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{body, MailpitError, MailpitResult, Scope};
use crate::api::AppState;
use crate::engine::Recipient;
use crate::model::Envelope;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/send", post(send))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Person {
    email: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attachment {
    content: String,
    filename: String,
    #[serde(default)]
    content_type: String,
    #[serde(default, rename = "ContentID")]
    content_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SendRequest {
    from: Option<Person>,
    to: Vec<Person>,
    cc: Vec<Person>,
    bcc: Vec<String>,
    reply_to: Vec<Person>,
    subject: String,
    text: String,
    #[serde(rename = "HTML")]
    html: String,
    headers: std::collections::BTreeMap<String, String>,
    tags: Vec<String>,
    attachments: Vec<Attachment>,
}

async fn send(State(s): State<AppState>, scope: Scope, bytes: Bytes) -> MailpitResult<Json<Value>> {
    let req: SendRequest = body(&bytes)?;
    let from = req
        .from
        .as_ref()
        .filter(|f| is_address(&f.email))
        .ok_or_else(|| MailpitError::bad_request("From.Email is not a valid address"))?;
    let mut rcpt: Vec<String> = req
        .to
        .iter()
        .chain(&req.cc)
        .map(|p| p.email.trim().to_lowercase())
        .chain(req.bcc.iter().map(|a| a.trim().to_lowercase()))
        .collect();
    rcpt.dedup();
    if let Some(bad) = rcpt.iter().find(|a| !is_address(a)) {
        return Err(MailpitError::bad_request(format!(
            "{bad:?} is not a valid address"
        )));
    }
    if rcpt.is_empty() {
        return Err(MailpitError::bad_request("no recipients"));
    }
    let raw = mime(&req, from)?;
    let mut recipients = Vec::new();
    match scope.mailbox() {
        Some(m) => recipients.push(Recipient::Mailbox {
            id: m.id.clone(),
            address: m.address.clone(),
        }),
        // Mailpit keeps one message however many recipients: its first recipient's mailbox
        // (made on the fly) holds it.
        None => {
            let m = s.engine.mailbox_or_new(&rcpt[0]).await?;
            recipients.push(Recipient::Mailbox {
                id: m.id,
                address: m.address,
            });
        }
    }
    let mut envelope = Envelope::sender_only(from.email.clone());
    envelope.rcpt_to = recipients.iter().map(|r| r.address().to_string()).collect();
    envelope.delivered_to = envelope.rcpt_to.clone();
    let outcome = crate::ingest::deliver(&s.engine, &envelope, &[], recipients, raw).await?;
    let id = outcome
        .stored
        .first()
        .cloned()
        .ok_or_else(|| MailpitError::bad_request("the mailbox is full or gone"))?;
    Ok(Json(json!({"ID": id})))
}

fn is_address(a: &str) -> bool {
    let a = a.trim();
    a.len() <= 254
        && a.rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// A header value: one line (CR, LF and other controls become spaces), RFC 2047 when not
/// ASCII.
fn encoded(value: &str) -> String {
    let line: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.is_ascii() {
        line
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(line)
        )
    }
}

fn person(p: &Person) -> String {
    if p.name.trim().is_empty() {
        return format!("<{}>", p.email.trim());
    }
    let name = encoded(p.name.trim());
    let name = if name.starts_with("=?") {
        name
    } else {
        format!("\"{}\"", name.replace(['"', '\\'], ""))
    };
    format!("{name} <{}>", p.email.trim())
}

fn base64_lines(data: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(text.len() + text.len() / 76 * 2 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

fn text_part(content_type: &str, text: &str) -> String {
    format!(
        "Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        base64_lines(text.as_bytes())
    )
}

fn multipart(kind: &str, boundary: &str, parts: &[String]) -> String {
    let mut out = format!("Content-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\n");
    for p in parts {
        out.push_str(&format!("--{boundary}\r\n{p}\r\n"));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

/// A header name a client may set: a token, and none of the ones this builder writes.
fn allowed_header(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && ![
            "from",
            "to",
            "cc",
            "bcc",
            "reply-to",
            "subject",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            "x-tags",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
}

fn mime(req: &SendRequest, from: &Person) -> MailpitResult<Vec<u8>> {
    let list = |people: &[Person]| people.iter().map(person).collect::<Vec<_>>().join(", ");
    let mut head = format!("From: {}\r\n", person(from));
    if !req.to.is_empty() {
        head.push_str(&format!("To: {}\r\n", list(&req.to)));
    }
    if !req.cc.is_empty() {
        head.push_str(&format!("Cc: {}\r\n", list(&req.cc)));
    }
    if !req.reply_to.is_empty() {
        head.push_str(&format!("Reply-To: {}\r\n", list(&req.reply_to)));
    }
    head.push_str(&format!("Subject: {}\r\n", encoded(&req.subject)));
    let has_message_id = req
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("message-id"));
    if !has_message_id {
        head.push_str(&format!(
            "Message-ID: <{}@mailiy.localhost>\r\n",
            crate::ids::time_ordered_id("send")
        ));
    }
    if !req.tags.is_empty() {
        let tags: Vec<String> = req
            .tags
            .iter()
            .map(|t| encoded(&t.replace(',', " ")))
            .collect();
        head.push_str(&format!("{}: {}\r\n", crate::tags::HEADER, tags.join(", ")));
    }
    for (name, value) in &req.headers {
        if !allowed_header(name) {
            return Err(MailpitError::bad_request(format!(
                "header {name:?} cannot be set"
            )));
        }
        head.push_str(&format!("{name}: {}\r\n", encoded(value)));
    }
    head.push_str("MIME-Version: 1.0\r\n");
    let boundary = crate::ids::time_ordered_id("b");
    let mut bodies = Vec::new();
    if !req.text.is_empty() || req.html.is_empty() {
        bodies.push(text_part("text/plain", &req.text));
    }
    if !req.html.is_empty() {
        bodies.push(text_part("text/html", &req.html));
    }
    let body = if bodies.len() == 2 {
        multipart("alternative", &format!("{boundary}-alt"), &bodies)
    } else {
        bodies.remove(0)
    };
    if req.attachments.is_empty() {
        return Ok(format!("{head}{body}").into_bytes());
    }
    let mut parts = vec![body];
    for a in &req.attachments {
        let data = base64::engine::general_purpose::STANDARD
            .decode(a.content.trim())
            .map_err(|_| {
                MailpitError::bad_request(format!("attachment {:?} is not base64", a.filename))
            })?;
        let content_type = if a.content_type.trim().is_empty() {
            "application/octet-stream".to_string()
        } else {
            encoded(a.content_type.trim())
        };
        let filename = encoded(&a.filename).replace('"', "");
        let (disposition, cid) = if a.content_id.trim().is_empty() {
            ("attachment", String::new())
        } else {
            (
                "inline",
                format!("Content-ID: <{}>\r\n", encoded(a.content_id.trim())),
            )
        };
        parts.push(format!(
            "Content-Type: {content_type}; name=\"{filename}\"\r\n\
             Content-Disposition: {disposition}; filename=\"{filename}\"\r\n{cid}\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            base64_lines(&data)
        ));
    }
    Ok(format!("{head}{}", multipart("mixed", &boundary, &parts)).into_bytes())
}

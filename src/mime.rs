//! Turns raw RFC 822 bytes into the parts the store keeps and the API shows.
//!
//! Owned by the MIME/sanitizer work; the signatures below are the contract the rest of the
//! engine codes against.
//!
//! Everything here is bounded: mail is hostile input (50,000 headers, 300 kB subjects,
//! 10,000 attachments, 10,000-deep multiparts), so every list and string taken from the
//! message has a cap, and hitting a cap is reported in [`ParsedMessage::parse_note`]
//! instead of failing. Nothing is ever decompressed: attachment bytes are only the
//! transfer-decoded (base64 / quoted-printable) content.

use std::borrow::Cow;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

/// Most raw bytes shown as text when the message cannot be parsed as MIME.
pub const MAX_RAW_FALLBACK_BYTES: usize = 1024 * 1024;
/// Most characters kept of the subject.
pub const MAX_SUBJECT_CHARS: usize = 1000;
/// Most header fields listed in [`ParsedMessage::headers`].
pub const MAX_HEADERS: usize = 1000;
/// Most bytes kept of one header value (cut on a character boundary).
pub const MAX_HEADER_VALUE_BYTES: usize = 64 * 1024;
/// Most addresses kept per address field (To, Cc, Reply-To).
pub const MAX_ADDRESSES: usize = 1000;
/// Most characters kept of a display name, an address or a Message-ID.
pub const MAX_ADDRESS_CHARS: usize = 998;
/// Most attachments kept; further ones are counted in the parse note.
pub const MAX_ATTACHMENTS: usize = 1000;
/// Longest filename [`safe_filename`] returns, in bytes.
pub const MAX_FILENAME_BYTES: usize = 200;
/// Most characters in [`ParsedMessage::snippet`].
pub const SNIPPET_CHARS: usize = 200;

/// A mailbox address as shown to users: display name (decoded) and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Decoded display name, without control or bidi-override characters.
    pub name: Option<String>,
    /// The address as written (may be empty for malformed entries that still had a name).
    pub address: String,
}

/// One header field, decoded for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Header {
    /// Field name as written.
    pub name: String,
    /// Decoded value (RFC 2047 words decoded, folding removed), bounded.
    pub value: String,
}

/// An attachment or inline part with its decoded bytes.
#[derive(Debug, Clone)]
pub struct ParsedAttachment {
    /// Safe for a download header and a file system: see [`safe_filename`].
    pub filename: String,
    /// Lowercase `type/subtype`, only token characters; `application/octet-stream` if unknown.
    pub content_type: String,
    /// Content-ID without the angle brackets.
    pub content_id: Option<String>,
    /// Shown inside the body (inline disposition, or a Content-ID the HTML refers to).
    pub inline: bool,
    /// Transfer-decoded bytes; never decompressed.
    pub data: Vec<u8>,
}

/// Everything the engine stores about a message besides its raw bytes.
#[derive(Debug, Clone, Default)]
pub struct ParsedMessage {
    /// Decoded subject, "" when absent.
    pub subject: String,
    /// First address of the first `From:` header.
    pub from: Option<Address>,
    /// `To:` addresses, groups flattened.
    pub to: Vec<Address>,
    /// `Cc:` addresses, groups flattened.
    pub cc: Vec<Address>,
    /// `Reply-To:` addresses, groups flattened.
    pub reply_to: Vec<Address>,
    /// The `Date:` header as Unix milliseconds, when it could be read.
    pub date: Option<i64>,
    /// Message-ID without the angle brackets.
    pub message_id: Option<String>,
    /// Top-level header fields in order, bounded by [`MAX_HEADERS`].
    pub headers: Vec<Header>,
    /// The text/plain body (derived from the HTML body when there is no text part).
    pub text: Option<String>,
    /// Unsanitized: pass it through [`crate::sanitize`] before anyone sees it.
    pub html: Option<String>,
    /// Attachments and inline parts, bounded by [`MAX_ATTACHMENTS`].
    pub attachments: Vec<ParsedAttachment>,
    /// Up to [`SNIPPET_CHARS`] characters of body text, whitespace collapsed.
    pub snippet: String,
    /// Why the parse was partial or failed; `None` when it went normally.
    pub parse_note: Option<String>,
}

/// Parses a message. Never fails: what cannot be read is described in `parse_note`.
pub fn parse(raw: &[u8]) -> ParsedMessage {
    // mail-parser promises not to panic, but this runs on hostile bytes inside the SMTP
    // path: a panic must cost one message's parse, never the receiver.
    match catch_unwind(AssertUnwindSafe(|| parse_mime(raw))) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => raw_fallback(
            raw,
            "the message could not be parsed as MIME; showing raw text",
        ),
        Err(_) => raw_fallback(
            raw,
            "the MIME parser failed on this message; showing raw text",
        ),
    }
}

/// What the user still gets when MIME parsing gave nothing: the bytes as text.
fn raw_fallback(raw: &[u8], note: &str) -> ParsedMessage {
    let shown = &raw[..raw.len().min(MAX_RAW_FALLBACK_BYTES)];
    let text = String::from_utf8_lossy(shown).into_owned();
    let mut note = note.to_string();
    if raw.len() > MAX_RAW_FALLBACK_BYTES {
        note.push_str(&format!(
            " (first {MAX_RAW_FALLBACK_BYTES} of {} bytes)",
            raw.len()
        ));
    }
    ParsedMessage {
        snippet: snippet_of(&text),
        text: (!raw.is_empty()).then_some(text),
        parse_note: Some(note),
        ..Default::default()
    }
}

fn parse_mime(raw: &[u8]) -> Option<ParsedMessage> {
    let mut message = MessageParser::default().parse(raw)?;
    let mut notes: Vec<String> = Vec::new();

    let subject = message
        .subject()
        .map(|s| clean_display(s, MAX_SUBJECT_CHARS))
        .unwrap_or_default();
    if message
        .subject()
        .is_some_and(|s| s.chars().nth(MAX_SUBJECT_CHARS).is_some())
    {
        notes.push(format!("subject cut to {MAX_SUBJECT_CHARS} characters"));
    }

    let from = message.from().and_then(|a| a.iter().find_map(to_address));
    let to = address_list(message.to(), "To", &mut notes);
    let cc = address_list(message.cc(), "Cc", &mut notes);
    let reply_to = address_list(message.reply_to(), "Reply-To", &mut notes);

    let date = message
        .date()
        .filter(|d| d.is_valid() && (1..=12).contains(&d.month) && (1..=31).contains(&d.day))
        .map(|d| d.to_timestamp().saturating_mul(1000));

    let message_id = message
        .message_id()
        .map(|id| {
            clean_display(
                id.trim().trim_start_matches('<').trim_end_matches('>'),
                MAX_ADDRESS_CHARS,
            )
        })
        .filter(|id| !id.is_empty());

    let headers = display_headers(&message, raw, &mut notes);

    // body_text(0) derives text from an HTML-only message (mail-parser's cheap converter);
    // body_html(0) would also synthesize HTML from text, which we do not want: the UI shows
    // the text tab for text-only mail.
    let text = message.body_text(0).map(Cow::into_owned);
    let html = message
        .html_body
        .first()
        .and_then(|&id| message.parts.get(id as usize))
        .and_then(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        });

    let cid_refs = html.as_deref().map(cid_references).unwrap_or_default();
    let total_attachments = message.attachments.len();
    let mut attachments = Vec::with_capacity(total_attachments.min(MAX_ATTACHMENTS));
    let kept: Vec<usize> = message
        .attachments
        .iter()
        .take(MAX_ATTACHMENTS)
        .map(|&id| id as usize)
        .collect();
    for id in kept {
        if let Some(part) = message.parts.get_mut(id) {
            attachments.push(to_attachment(part, &cid_refs));
        }
    }
    if total_attachments > MAX_ATTACHMENTS {
        notes.push(format!(
            "only the first {MAX_ATTACHMENTS} of {total_attachments} attachments were kept"
        ));
    }
    if message.parts.iter().any(|p| p.is_encoding_problem) {
        notes.push("some parts had encoding errors and were decoded on a best-effort basis".into());
    }

    let snippet = match (&text, &html) {
        (Some(t), _) => snippet_of(t),
        (None, Some(h)) => snippet_of(&strip_tags(h)),
        (None, None) => String::new(),
    };

    Some(ParsedMessage {
        subject,
        from,
        to,
        cc,
        reply_to,
        date,
        message_id,
        headers,
        text,
        html,
        attachments,
        snippet,
        parse_note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

fn to_address(addr: &mail_parser::Addr<'_>) -> Option<Address> {
    let name = addr
        .name
        .as_deref()
        .map(|n| clean_display(n.trim(), MAX_ADDRESS_CHARS))
        .filter(|n| !n.is_empty());
    let address = addr
        .address
        .as_deref()
        .map(|a| clean_display(a.trim(), MAX_ADDRESS_CHARS))
        .unwrap_or_default();
    if name.is_none() && address.is_empty() {
        return None;
    }
    Some(Address { name, address })
}

fn address_list(
    field: Option<&mail_parser::Address<'_>>,
    label: &str,
    notes: &mut Vec<String>,
) -> Vec<Address> {
    let Some(field) = field else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut total = 0usize;
    for addr in field.iter() {
        total += 1;
        if out.len() < MAX_ADDRESSES {
            out.extend(to_address(addr));
        }
    }
    if total > MAX_ADDRESSES {
        notes.push(format!(
            "only the first {MAX_ADDRESSES} of {total} {label} addresses were kept"
        ));
    }
    out
}

/// The top-level headers, decoded where mail-parser decoded them and raw otherwise.
fn display_headers(
    message: &mail_parser::Message<'_>,
    raw: &[u8],
    notes: &mut Vec<String>,
) -> Vec<Header> {
    let all = message.headers();
    let mut out = Vec::with_capacity(all.len().min(MAX_HEADERS));
    let mut cut_values = 0usize;
    for h in all.iter().take(MAX_HEADERS) {
        let mut value = BoundedString::new(MAX_HEADER_VALUE_BYTES);
        match &h.value {
            HeaderValue::Text(t) => value.push(t),
            HeaderValue::TextList(list) => {
                for (i, t) in list.iter().enumerate() {
                    if i > 0 {
                        value.push(", ");
                    }
                    value.push(t);
                    if value.full {
                        break;
                    }
                }
            }
            HeaderValue::Address(a) => {
                for (i, addr) in a.iter().enumerate() {
                    if i > 0 {
                        value.push(", ");
                    }
                    match (addr.name.as_deref(), addr.address.as_deref()) {
                        (Some(n), Some(a)) => {
                            value.push(n);
                            value.push(" <");
                            value.push(a);
                            value.push(">");
                        }
                        (Some(n), None) => value.push(n),
                        (None, Some(a)) => value.push(a),
                        (None, None) => {}
                    }
                    if value.full {
                        break;
                    }
                }
            }
            // Dates, content types, Received and raw fields: show what was written,
            // unfolded, rather than a reconstruction.
            _ => {
                let start = (h.offset_start as usize).min(raw.len());
                let end = (h.offset_end as usize).clamp(start, raw.len());
                let slice = &raw[start..end];
                let slice = &slice[..slice.len().min(MAX_HEADER_VALUE_BYTES + 4)];
                value.push(String::from_utf8_lossy(slice).trim());
            }
        }
        if value.full {
            cut_values += 1;
        }
        out.push(Header {
            name: clean_display(h.name.as_str(), MAX_ADDRESS_CHARS),
            value: clean_display(&value.s, usize::MAX),
        });
    }
    if all.len() > MAX_HEADERS {
        notes.push(format!(
            "only the first {MAX_HEADERS} of {} header fields are listed",
            all.len()
        ));
    }
    if cut_values > 0 {
        notes.push(format!(
            "{cut_values} header value(s) cut to {MAX_HEADER_VALUE_BYTES} bytes"
        ));
    }
    out
}

/// A string that stops growing at a byte cap, cutting on a character boundary.
struct BoundedString {
    s: String,
    cap: usize,
    full: bool,
}

impl BoundedString {
    fn new(cap: usize) -> Self {
        Self {
            s: String::new(),
            cap,
            full: false,
        }
    }

    fn push(&mut self, t: &str) {
        if self.full {
            return;
        }
        let room = self.cap - self.s.len();
        if t.len() <= room {
            self.s.push_str(t);
        } else {
            self.s.push_str(&t[..floor_char_boundary(t, room)]);
            self.full = true;
        }
    }
}

fn to_attachment(
    part: &mut mail_parser::MessagePart<'_>,
    cid_refs: &HashSet<String>,
) -> ParsedAttachment {
    let is_message = matches!(part.body, PartType::Message(_));
    let content_type = if is_message {
        "message/rfc822".to_string()
    } else {
        part.content_type()
            .map(|ct| {
                let subtype = ct.c_subtype.as_deref().unwrap_or("");
                format!("{}/{}", ct.c_type, subtype).to_ascii_lowercase()
            })
            .filter(|ct| is_valid_content_type(ct))
            .unwrap_or_else(|| "application/octet-stream".to_string())
    };
    let content_id = part
        .content_id()
        .map(|id| {
            clean_display(
                id.trim().trim_start_matches('<').trim_end_matches('>'),
                MAX_ADDRESS_CHARS,
            )
        })
        .filter(|id| !id.is_empty());
    let disposition_inline = part
        .content_disposition()
        .is_some_and(|cd| cd.c_type.eq_ignore_ascii_case("inline"));
    let referenced = content_id
        .as_ref()
        .is_some_and(|id| cid_refs.contains(&id.to_ascii_lowercase()));
    let mut filename = safe_filename(part.attachment_name().unwrap_or(""));
    if filename == "attachment" {
        if is_message {
            filename = "message".into();
        }
        filename.push_str(default_extension(&content_type));
    }
    ParsedAttachment {
        filename,
        content_type,
        content_id,
        inline: disposition_inline || referenced,
        // Nothing here inflates compressed data.
        data: take_contents(part),
    }
}

/// The part's transfer-decoded bytes (for message/rfc822, the nested message's bytes). Bytes
/// the parser decoded are moved out, not copied, so a big base64 attachment is held once.
fn take_contents(part: &mut mail_parser::MessagePart<'_>) -> Vec<u8> {
    match &mut part.body {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            std::mem::take(bytes).into_owned()
        }
        _ => part.contents().to_vec(),
    }
}

/// `type/subtype` made only of RFC 2045 token characters, so it is safe in a header.
fn is_valid_content_type(ct: &str) -> bool {
    let Some((t, s)) = ct.split_once('/') else {
        return false;
    };
    let token = |x: &str| {
        !x.is_empty()
            && x.len() <= 127
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    token(t) && token(s)
}

fn default_extension(content_type: &str) -> &'static str {
    match content_type {
        "message/rfc822" => ".eml",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        _ => ".bin",
    }
}

/// Lowercased `cid:` references found in the HTML, to tell inline images from attachments.
fn cid_references(html: &str) -> HashSet<String> {
    let mut refs = HashSet::new();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i + 4 <= bytes.len() && refs.len() < MAX_ATTACHMENTS * 4 {
        if bytes[i..i + 4].eq_ignore_ascii_case(b"cid:") {
            let start = i + 4;
            let mut end = start;
            while end < bytes.len() && !b"\"'<> \t\r\n)".contains(&bytes[end]) && end - start < 1000
            {
                end += 1;
            }
            // The slice ends at an ASCII delimiter or at a cap; keep to a char boundary.
            let end = floor_char_boundary(html, end).max(start);
            refs.insert(percent_decode(&html[start..end]).to_ascii_lowercase());
            i = end.max(start);
        } else {
            i += 1;
        }
    }
    refs
}

/// Decodes `%XX` escapes, leaving malformed ones as written; invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Largest index `<= i` that is a char boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Bidi overrides/isolates and zero-width characters that can disguise what text says.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061C}'
        | '\u{FEFF}')
}

/// Display text: control characters (except tab) and bidi overrides removed, bounded.
fn clean_display(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|&c| c == '\t' || !c.is_control())
        .filter(|&c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .take(max_chars)
        .collect()
}

/// Cheap tag stripper for snippets only (never for display of HTML).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(4096));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
        if out.len() > 64 * 1024 {
            break;
        }
    }
    out
}

fn snippet_of(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || is_invisible_format(c) {
            pending_space = count > 0;
            continue;
        }
        if pending_space {
            if count + 1 >= SNIPPET_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
        if count >= SNIPPET_CHARS {
            break;
        }
    }
    out
}

/// A filename with no path, no control or bidi characters, bounded length, never empty.
///
/// Keeps the last path component, drops control, bidi and zero-width characters, replaces
/// characters Windows refuses (`<>:"|?*`) with `_`, trims leading dots and trailing
/// dots/spaces, defuses reserved DOS device names (`CON`, `NUL`, `COM1`…), and cuts to
/// [`MAX_FILENAME_BYTES`] on a character boundary while keeping a short extension.
/// Returns `"attachment"` when nothing usable is left.
pub fn safe_filename(name: &str) -> String {
    // Control characters are removed before splitting so that "a/\0/b" cannot hide a slash.
    let cleaned: String = name
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .collect();
    let last = cleaned.rsplit(['/', '\\']).next().unwrap_or_default();
    // Runs of whitespace collapse to one space, so "doc.pdf      .exe" cannot hide ".exe".
    let mut replaced = String::with_capacity(last.len());
    for c in last.chars() {
        if c.is_whitespace() {
            if !replaced.ends_with(' ') {
                replaced.push(' ');
            }
        } else if "<>:\"|?*".contains(c) {
            replaced.push('_');
        } else {
            replaced.push(c);
        }
    }
    let mut name = trim_name(&replaced).to_string();

    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_ascii_uppercase();
    let reserved = matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" | "CLOCK$"
    ) || ((stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.chars().count() == 4
        && stem
            .chars()
            .nth(3)
            .is_some_and(|c| c.is_ascii_digit() || "¹²³".contains(c)));
    if reserved {
        name.insert(0, '_');
    }

    if name.len() > MAX_FILENAME_BYTES {
        // Keep a short extension so the file still opens with the right program.
        let ext = name
            .rfind('.')
            .map(|i| &name[i..])
            .filter(|e| e.len() <= 16 && e.len() > 1)
            .unwrap_or("");
        let keep = floor_char_boundary(&name, MAX_FILENAME_BYTES - ext.len());
        name = format!("{}{}", trim_name(&name[..keep]), ext);
        name = trim_name(&name).to_string();
    }
    if name.is_empty() {
        return "attachment".into();
    }
    name
}

/// Leading dots (hidden files, `..`) and whitespace, trailing dots and spaces (Windows).
fn trim_name(s: &str) -> &str {
    s.trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The hostile and real corpus, copied into the repository.
    pub(crate) fn corpus_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
    }

    fn collect_eml(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                collect_eml(&p, out);
            } else if p.extension().is_some_and(|e| e == "eml") {
                out.push(p);
            }
        }
    }

    /// Every .eml under `root/group`; fails when fewer than `minimum` exist, so a missing
    /// corpus can never make a test pass silently.
    pub(crate) fn corpus_files(root: &Path, group: &str, minimum: usize) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect_eml(&root.join(group), &mut files);
        assert!(
            files.len() >= minimum,
            "found {} .eml files under {}/{group}, expected at least {minimum}",
            files.len(),
            root.display()
        );
        files
    }

    #[test]
    fn corpus_parses_within_bounds() {
        let root = corpus_root();
        for (group, minimum) in [("real", 200), ("mime", 50), ("xss", 250)] {
            for path in corpus_files(&root, group, minimum) {
                let raw = std::fs::read(&path).expect("corpus file readable");
                let name = path.display();
                let p = parse(&raw);
                assert!(p.headers.len() <= MAX_HEADERS, "{name}");
                assert!(
                    p.headers
                        .iter()
                        .all(|h| h.value.len() <= MAX_HEADER_VALUE_BYTES),
                    "{name}"
                );
                assert!(p.subject.chars().count() <= MAX_SUBJECT_CHARS, "{name}");
                assert!(
                    !p.subject.chars().any(|c| c.is_control() && c != '\t'),
                    "{name}"
                );
                assert!(
                    p.to.len() <= MAX_ADDRESSES && p.attachments.len() <= MAX_ATTACHMENTS,
                    "{name}"
                );
                assert!(p.snippet.chars().count() <= SNIPPET_CHARS, "{name}");
                for a in &p.attachments {
                    assert_eq!(
                        safe_filename(&a.filename),
                        a.filename,
                        "{name}: not idempotent"
                    );
                    assert!(
                        is_valid_content_type(&a.content_type),
                        "{name}: {}",
                        a.content_type
                    );
                    assert!(
                        a.content_id.as_ref().is_none_or(|c| !c.starts_with('<')),
                        "{name}"
                    );
                }
            }
        }
    }

    #[test]
    fn filename_traversal() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(
            safe_filename("..\\..\\windows\\system32\\cmd.exe"),
            "cmd.exe"
        );
        assert_eq!(safe_filename(".."), "attachment");
        assert_eq!(safe_filename("/"), "attachment");
        assert_eq!(safe_filename(".bashrc"), "bashrc");
        assert_eq!(safe_filename("C:evil.txt"), "C_evil.txt");
    }

    #[test]
    fn filename_controls_and_bidi() {
        assert_eq!(safe_filename("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(safe_filename("a\u{200B}b\u{2066}c\u{2069}.txt"), "abc.txt");
        assert_eq!(
            safe_filename("a\0b\r\nContent-Type: x.txt"),
            "abContent-Type_ x.txt"
        );
        assert_eq!(safe_filename("x/\0/y.txt"), "y.txt");
    }

    #[test]
    fn filename_reserved_names() {
        assert_eq!(safe_filename("CON"), "_CON");
        assert_eq!(safe_filename("nul.txt"), "_nul.txt");
        assert_eq!(safe_filename("com1.tar.gz"), "_com1.tar.gz");
        assert_eq!(safe_filename("LPT9"), "_LPT9");
        assert_eq!(safe_filename("console.txt"), "console.txt");
        assert_eq!(safe_filename("report. . ."), "report");
        assert_eq!(safe_filename("doc.pdf \u{3000}     .exe"), "doc.pdf .exe");
    }

    #[test]
    fn filename_length_and_empty() {
        let long = format!("{}.pdf", "é".repeat(50_000));
        let f = safe_filename(&long);
        assert!(f.len() <= MAX_FILENAME_BYTES, "{}", f.len());
        assert!(f.ends_with(".pdf"));
        let f = safe_filename(&"a".repeat(100_000));
        assert_eq!(f.len(), MAX_FILENAME_BYTES);
        assert_eq!(safe_filename(""), "attachment");
        assert_eq!(safe_filename("   "), "attachment");
        assert_eq!(safe_filename("\u{202E}"), "attachment");
    }

    #[test]
    fn empty_and_headerless_input_fall_back_to_raw() {
        let p = parse(b"");
        assert!(p.parse_note.is_some());
        assert_eq!(p.subject, "");
        let p = parse(b"x");
        assert!(p.parse_note.is_some() || p.text.is_some());
    }

    #[test]
    fn simple_message() {
        let raw = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\r\n\
To: a@example.test, Group: b@example.test, c@example.test;\r\n\
Cc: d@example.test\r\n\
Reply-To: r@example.test\r\n\
Subject: Hello\x07 =?utf-8?b?V29ybGQ=?=\r\n\
Date: Sun, 23 Aug 2026 12:00:00 +0000\r\n\
Message-ID: <abc@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hi   there</p><img src=\"cid:img1@x\">\r\n\
--b\r\n\
Content-Type: image/png; name=\"../pic.png\"\r\n\
Content-ID: <img1@x>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b\r\n\
Content-Type: application/zip\r\n\
Content-Disposition: attachment\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
UEsDBA==\r\n\
--b--\r\n";
        let p = parse(raw);
        assert_eq!(p.subject, "Hello World");
        let from = p.from.unwrap();
        assert_eq!(from.name.as_deref(), Some("Jörg"));
        assert_eq!(from.address, "j@example.test");
        assert_eq!(p.to.len(), 3);
        assert_eq!(p.cc.len(), 1);
        assert_eq!(p.reply_to[0].address, "r@example.test");
        assert_eq!(p.date, Some(1_787_486_400_000));
        assert_eq!(p.message_id.as_deref(), Some("abc@example.test"));
        assert!(p.headers.iter().any(|h| h.name == "Subject"));
        assert!(p.html.as_deref().unwrap().contains("cid:img1@x"));
        assert!(p.text.as_deref().unwrap().contains("Hi"));
        assert_eq!(p.snippet, "Hi there");
        assert_eq!(p.attachments.len(), 2);
        let img = &p.attachments[0];
        assert_eq!(img.filename, "pic.png");
        assert_eq!(img.content_type, "image/png");
        assert_eq!(img.content_id.as_deref(), Some("img1@x"));
        assert!(img.inline);
        assert_eq!(&img.data[..4], b"\x89PNG");
        let zip = &p.attachments[1];
        assert_eq!(zip.filename, "attachment.bin");
        assert!(!zip.inline);
        assert_eq!(zip.data, b"PK\x03\x04");
    }

    #[test]
    fn text_only_message_has_no_synthesized_html() {
        let p = parse(b"Subject: t\r\nContent-Type: text/plain\r\n\r\nplain <b>body</b>\r\n");
        assert!(p.html.is_none());
        assert_eq!(p.text.as_deref().map(str::trim), Some("plain <b>body</b>"));
    }

    #[test]
    fn nested_message_is_an_attachment() {
        let raw = b"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--z\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\n\r\ninner body\r\n--z--\r\n";
        let p = parse(raw);
        let att = p
            .attachments
            .iter()
            .find(|a| a.content_type == "message/rfc822")
            .unwrap();
        assert_eq!(att.filename, "message.eml");
        assert!(String::from_utf8_lossy(&att.data).contains("inner body"));
    }

    #[test]
    fn huge_header_counts_are_bounded() {
        let mut raw = String::new();
        for i in 0..5000 {
            raw.push_str(&format!("X-H{i}: v\r\n"));
        }
        raw.push_str(&format!("Subject: {}\r\n\r\nbody\r\n", "s".repeat(300_000)));
        let p = parse(raw.as_bytes());
        assert_eq!(p.headers.len(), MAX_HEADERS);
        assert_eq!(p.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(p.parse_note.unwrap().contains("header"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b%2"), "a@b%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}

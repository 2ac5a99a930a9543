//! Checks on a stored message: one delivery, then the message, its raw bytes and its
//! attachments through the API (shared by the real, mime and xss corpora).

use super::delivery::{deliver, stuff_normalized, END_OF_DATA};
use super::files::rel;
use super::http::Http;
use crate::common::*;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// A single SMTP reply (or a parse plus the API checks) slower than this counts as a hang.
const HANG_SECS: f64 = 30.0;
/// Attachments downloaded per message (all of them get their metadata checked). Keeps the
/// 10,000-attachment cases from dominating the run time.
const MAX_DOWNLOADS_PER_MESSAGE: usize = 300;

/// The message that appeared in `mailbox` since the ids in `seen` (exactly one is expected).
fn new_message(http: &Http, mailbox: &str, seen: &mut HashSet<String>) -> Result<Value, String> {
    let list = http.json(&format!("/v1/mailbox/{}/messages?limit=20", enc(mailbox)))?;
    let list = list.as_array().ok_or("message list is not an array")?;
    let fresh: Vec<&Value> = list
        .iter()
        .filter(|m| m["id"].as_str().is_some_and(|id| !seen.contains(id)))
        .collect();
    match fresh.as_slice() {
        [one] => {
            seen.insert(one["id"].as_str().unwrap_or_default().to_string());
            Ok((*one).clone())
        }
        [] => Err("250 was given but the message is not listed".into()),
        more => {
            for m in more {
                seen.insert(m["id"].as_str().unwrap_or_default().to_string());
            }
            Err(format!(
                "one delivery, {} new messages listed: {:?}",
                more.len(),
                more.iter().map(|m| &m["subject"]).collect::<Vec<_>>()
            ))
        }
    }
}

/// Bidi controls and marks: they reorder how a filename is shown (`exe.txt` shown for `txt.exe`).
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What is wrong with a filename shown to users or used for saving (empty when it is safe).
pub(super) fn filename_problems(what: &str, name: &str) -> Vec<String> {
    let mut p = Vec::new();
    if name.contains('/') || name.contains('\\') {
        p.push(format!("{what} {name:?} has a path separator"));
    }
    if name.chars().any(char::is_control) {
        p.push(format!("{what} {name:?} has a control character"));
    }
    if name.chars().any(is_bidi) {
        p.push(format!("{what} {name:?} has a bidi control character"));
    }
    if name == "." || name == ".." {
        p.push(format!("{what} {name:?} is a directory name"));
    }
    p
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The filenames a `Content-Disposition` value carries: `filename="…"` and `filename*=…''…`.
pub(super) fn disposition_filenames(cd: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in split_params(cd) {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k == "filename" {
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .map(|x| x.replace("\\\"", "\"").replace("\\\\", "\\"))
                .unwrap_or_else(|| v.to_string());
            out.push(("Content-Disposition filename".into(), v));
        } else if k == "filename*" {
            let enc = v.rsplit_once('\'').map(|(_, e)| e).unwrap_or(v);
            let d = String::from_utf8_lossy(&percent_decode(enc)).into_owned();
            out.push(("Content-Disposition filename*".into(), d));
        }
    }
    out
}

/// Splits header parameters at `;` outside quotes.
fn split_params(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            out.push(String::new());
            continue;
        }
        out.last_mut().expect("non-empty").push(c);
    }
    out
}

/// Raw bytes and attachments of a stored message, through the API. `prefix` is
/// `/v1/mailbox/ADDR/messages/MID`.
fn check_message_api(
    http: &Http,
    prefix: &str,
    summary: &Value,
    full: &Value,
    want_nosniff: bool,
    counts: &mut Counts,
) -> Vec<String> {
    let mut p = Vec::new();
    match http.get(&format!("{prefix}/raw")) {
        Err(e) => p.push(e),
        Ok(r) if r.status != 200 => p.push(format!("GET raw -> {}", r.status)),
        Ok(r) => {
            if summary["size"].as_u64() != Some(r.body.len() as u64) {
                p.push(format!(
                    "raw is {} bytes but the summary size is {}",
                    r.body.len(),
                    summary["size"]
                ));
            }
        }
    }
    let atts = match full.get("attachments") {
        Some(Value::Array(a)) => a.as_slice(),
        other => {
            p.push(format!(
                "full message: attachments is {other:?}, not an array"
            ));
            &[]
        }
    };
    counts.attachments += atts.len();
    for (k, a) in atts.iter().enumerate() {
        match &a["filename"] {
            Value::String(f) => p.extend(filename_problems("API filename", f)),
            Value::Null => {}
            other => p.push(format!("attachment filename is not a string: {other}")),
        }
        let Some(aid) = a["id"].as_str() else {
            p.push(format!("attachment without an id: {a}"));
            continue;
        };
        if k >= MAX_DOWNLOADS_PER_MESSAGE {
            continue;
        }
        counts.downloaded += 1;
        let r = match http.get(&format!("{prefix}/attachments/{aid}")) {
            Ok(r) => r,
            Err(e) => {
                p.push(e);
                continue;
            }
        };
        if r.status != 200 {
            p.push(format!("attachment {aid} -> {}", r.status));
            continue;
        }
        let cd = r.header("content-disposition").unwrap_or_default();
        if !cd.to_ascii_lowercase().starts_with("attachment") {
            p.push(format!(
                "attachment {aid}: Content-Disposition {cd:?} does not start with attachment"
            ));
        }
        for (what, name) in disposition_filenames(cd) {
            p.extend(filename_problems(&what, &name));
        }
        if let Some(size) = a["size"].as_u64() {
            if size != r.body.len() as u64 {
                p.push(format!(
                    "attachment {aid}: size {size} in the API, {} bytes downloaded",
                    r.body.len()
                ));
            }
        }
        if want_nosniff
            && !r
                .header("x-content-type-options")
                .is_some_and(|v| v.eq_ignore_ascii_case("nosniff"))
        {
            p.push(format!(
                "attachment {aid}: no X-Content-Type-Options: nosniff"
            ));
        }
    }
    p
}

/// Attachments listed by the API, and how many of them were downloaded and checked.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) attachments: usize,
    pub(super) downloaded: usize,
}

pub(super) struct Timing {
    case: String,
    smtp: f64,
    api: f64,
}

pub(super) fn report_timings(out: &mut String, timings: &mut [Timing]) {
    timings.sort_by(|a, b| (b.smtp + b.api).total_cmp(&(a.smtp + a.api)));
    let _ = writeln!(out, "slowest 5 (smtp delivery / API checks):");
    for t in timings.iter().take(5) {
        let _ = writeln!(out, "  {:>6.2} s  {:>6.2} s  {}", t.smtp, t.api, t.case);
    }
}

/// Delivers one case and runs the common checks on it; returns the full message when stored.
#[allow(clippy::too_many_arguments)]
pub(super) fn deliver_and_check(
    server: &Server,
    http: &Http,
    mailbox: &str,
    seen: &mut HashSet<String>,
    path: &Path,
    raw_mode: bool,
    may_refuse: bool,
    want_nosniff: bool,
    problems: &mut Vec<String>,
    timings: &mut Vec<Timing>,
    counts: &mut Counts,
) -> Option<(Value, Value)> {
    let name = rel(path);
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let payload = if raw_mode {
        stuff_raw(&bytes)
    } else {
        stuff_normalized(&bytes)
    };
    let o = deliver(server.smtp, mailbox, &payload);
    let t_api = Instant::now();
    let mut found = None;
    if o.secs > HANG_SECS {
        problems.push(format!(
            "delivery took {:.1} s (over {HANG_SECS} s)",
            o.secs
        ));
    }
    match (o.stage, o.code) {
        (END_OF_DATA, 250) => match new_message(http, mailbox, seen) {
            Err(e) => problems.push(e),
            Ok(summary) => {
                let mid = summary["id"].as_str().unwrap_or_default().to_string();
                let prefix = format!("/v1/mailbox/{}/messages/{mid}", enc(mailbox));
                match http.get(&prefix) {
                    Err(e) => problems.push(e),
                    Ok(r) if r.status != 200 => problems.push(format!(
                        "GET full message -> {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                    )),
                    Ok(r) => match r.json() {
                        Ok(full) if full.is_object() => {
                            problems.extend(check_message_api(
                                http,
                                &prefix,
                                &summary,
                                &full,
                                want_nosniff,
                                counts,
                            ));
                            found = Some((summary, full));
                        }
                        Ok(other) => {
                            problems.push(format!("full message is not an object: {other}"))
                        }
                        Err(e) => problems.push(format!("GET full message: {e}")),
                    },
                }
            }
        },
        (END_OF_DATA, c) if may_refuse && (500..600).contains(&c) => {}
        (stage, c) => problems.push(format!(
            "{stage} answered {c}; expected 250 after the final dot{}\n{}",
            if may_refuse { " (or 5xx)" } else { "" },
            o.transcript.trim_end()
        )),
    }
    let api = t_api.elapsed().as_secs_f64();
    if api > HANG_SECS {
        problems.push(format!("API checks took {api:.1} s (over {HANG_SECS} s)"));
    }
    timings.push(Timing {
        case: name,
        smtp: o.secs,
        api,
    });
    found
}

pub(super) fn failure_list(failures: &[(String, Vec<String>)]) -> String {
    let mut s = format!("{} failing case(s):\n", failures.len());
    for (case, problems) in failures {
        let _ = writeln!(s, "--- {case}");
        for p in problems {
            let _ = writeln!(s, "    {}", p.replace('\n', "\n    "));
        }
    }
    s
}

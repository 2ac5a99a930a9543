//! The `expect_stored` text of an smtp case: what it asks for, and whether the store holds it.

use super::delivery::stuff_normalized;
use super::files::{files, rel, smtp_root};
use super::http::{global_messages, Http};
use super::smtp::SMTP_RCPT;
use crate::common::*;
use std::path::Path;

/// What an smtp case's `expect_stored` text asks for.
#[derive(Debug, Default, PartialEq)]
pub(super) struct StoredExpect {
    /// Allowed numbers of stored messages.
    counts: Vec<usize>,
    /// No stored message may come from an address containing this (lower case).
    never_from: Vec<String>,
    /// The stored message's raw bytes must end with the case's DATA section, un-stuffed.
    body_unstuffed: bool,
    /// No stored message may have a header line with this name (lower case).
    no_header: Vec<String>,
}

/// Understands the shapes the corpus uses ("0", "10", "0 or 1", "exactly 1", "0 or 1 message;
/// never one from X", "1 (body un-stuffed)", "0 or 1 without an X-Injected header line") and
/// refuses anything else, so no case passes on a text nobody interpreted.
pub(super) fn parse_expect_stored(text: &str) -> Result<StoredExpect, String> {
    let bad = |why: &str| Err(format!("expect_stored {text:?} not understood: {why}"));
    let mut e = StoredExpect::default();
    for (i, clause) in text.split(';').enumerate() {
        let clause = clause.trim().to_lowercase();
        let words: Vec<&str> = clause.split_whitespace().collect();
        match words.as_slice() {
            ["never", "one" | "a" | "any", "from", addr]
            | ["never", "a" | "any", "message", "from", addr] => {
                e.never_from.push(addr.to_string());
                continue;
            }
            _ if i > 0 => return bad(&format!("clause {clause:?}")),
            _ => {}
        }
        let mut w = words.as_slice();
        if let ["exactly", rest @ ..] = w {
            w = rest;
        }
        loop {
            match w {
                [n, rest @ ..] if n.parse::<usize>().is_ok() => {
                    e.counts.push(n.parse().expect("checked"));
                    w = rest;
                }
                _ => return bad("expected a number"),
            }
            match w {
                ["or", rest @ ..] => w = rest,
                _ => break,
            }
        }
        if let ["message" | "messages", rest @ ..] = w {
            w = rest;
        }
        match w {
            [] => {}
            ["(body", "un-stuffed)"] => e.body_unstuffed = true,
            ["without", "a" | "an", name, "header", "line" | "lines"] => {
                e.no_header.push(name.to_string())
            }
            rest => return bad(&format!("unknown qualifier {:?}", rest.join(" "))),
        }
    }
    if e.counts.is_empty() {
        return bad("no count");
    }
    Ok(e)
}

/// The DATA section of a recorded session, un-stuffed: what the stored message must end with.
pub(super) fn unstuffed_data(session: &[u8]) -> Option<Vec<u8>> {
    let start = if session.starts_with(b"DATA\r\n") {
        6
    } else {
        find(session, b"\r\nDATA\r\n")? + 8
    };
    let end = start + find(&session[start..], b"\r\n.\r\n")? + 2;
    let mut out = Vec::new();
    for line in session[start..end].split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    Some(out)
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header block of a raw message (up to the first empty line, CRLF or LF).
pub(super) fn header_block(raw: &[u8]) -> &[u8] {
    let a = find(raw, b"\r\n\r\n").unwrap_or(raw.len());
    let b = find(raw, b"\n\n").unwrap_or(raw.len());
    &raw[..a.min(b)]
}

/// Counts what the case stored and checks it against its `expect_stored`.
pub(super) fn stored_checks(
    http: &Http,
    case: &Path,
    before: u64,
    expect: Option<&StoredExpect>,
) -> Result<(u64, Vec<String>), String> {
    let mut p = Vec::new();
    let (after, newest) = global_messages(http)?;
    let stored = after.checked_sub(before).ok_or_else(|| {
        format!("the message count went down during the case ({before} -> {after})")
    })?;
    let in_box = http
        .json(&format!(
            "/v1/mailbox/{}/messages?limit=1000",
            enc(SMTP_RCPT)
        ))?
        .as_array()
        .map_or(0, Vec::len) as u64;
    if in_box != stored {
        p.push(format!(
            "{stored} message(s) stored in total but {in_box} in {SMTP_RCPT}: stored elsewhere?"
        ));
    }
    let boxes = http.json("/v1/mailbox")?;
    let nboxes = boxes.as_array().map_or(0, Vec::len);
    if nboxes != 1 {
        p.push(format!(
            "{nboxes} live mailboxes after the case (only {SMTP_RCPT} was created)"
        ));
    }
    let Some(e) = expect else {
        return Ok((stored, p));
    };
    if !e.counts.contains(&(stored as usize)) {
        p.push(format!(
            "stored {stored} message(s); expect_stored allows {:?}",
            e.counts
        ));
    }
    let wanted_body = if e.body_unstuffed {
        let session = std::fs::read(case).map_err(|x| x.to_string())?;
        match unstuffed_data(&session) {
            Some(b) => Some(b),
            None => {
                p.push("body un-stuffed: no DATA section found in the .smtp file".into());
                None
            }
        }
    } else {
        None
    };
    for m in newest.iter().take(stored as usize) {
        let (Some(mbox), Some(mid)) = (m["mailboxId"].as_str(), m["id"].as_str()) else {
            p.push(format!("summary without mailboxId/id: {m}"));
            continue;
        };
        let prefix = format!("/v1/mailbox/{mbox}/messages/{mid}");
        let raw = match http.get(&format!("{prefix}/raw")) {
            Ok(r) if r.status == 200 => r.body,
            Ok(r) => {
                p.push(format!("GET raw -> {}", r.status));
                continue;
            }
            Err(x) => {
                p.push(x);
                continue;
            }
        };
        let head = String::from_utf8_lossy(header_block(&raw)).to_lowercase();
        for x in &e.never_from {
            let from = m["from"]["address"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            if from.contains(x.as_str()) {
                p.push(format!(
                    "a stored message is from {from:?} (never from {x})"
                ));
            }
            if head.contains(x.as_str()) {
                p.push(format!(
                    "a stored message's header block names {x}: {:?}",
                    String::from_utf8_lossy(header_block(&raw))
                ));
            }
        }
        if !e.no_header.is_empty() {
            let full = http.json(&prefix)?;
            for h in &e.no_header {
                let prefix_colon = format!("{h}:");
                if head
                    .split(['\r', '\n'])
                    .any(|l| l.trim_start().starts_with(&prefix_colon))
                {
                    p.push(format!(
                        "the stored raw message has a {h} header line: {:?}",
                        String::from_utf8_lossy(header_block(&raw))
                    ));
                }
                let parsed = full["headers"].as_array().is_some_and(|hs| {
                    hs.iter().any(|x| {
                        x["name"]
                            .as_str()
                            .is_some_and(|n| n.trim().eq_ignore_ascii_case(h))
                    })
                });
                if parsed {
                    p.push(format!("the parsed headers include {h}"));
                }
            }
        }
        if let Some(want) = &wanted_body {
            if !raw.ends_with(want) {
                p.push(format!(
                    "body not un-stuffed correctly: raw ends with {:?}, expected it to end with {:?}",
                    String::from_utf8_lossy(&raw[raw.len().saturating_sub(want.len() + 20)..]),
                    String::from_utf8_lossy(want)
                ));
            }
        }
    }
    Ok((stored, p))
}

#[test]
fn corpus_expect_stored_interpreter() {
    let p = |s: &str| parse_expect_stored(s);
    assert_eq!(p("0").unwrap().counts, vec![0]);
    assert_eq!(p("10").unwrap().counts, vec![10]);
    assert_eq!(p("exactly 1").unwrap().counts, vec![1]);
    assert_eq!(p("0 or 1").unwrap().counts, vec![0, 1]);
    let e = p("0 or 1 message; never one from ceo@spoofed-bank.test").unwrap();
    assert_eq!(
        (e.counts, e.never_from),
        (vec![0, 1], vec!["ceo@spoofed-bank.test".into()])
    );
    assert!(p("1 (body un-stuffed)").unwrap().body_unstuffed);
    let e = p("0 or 1 without an X-Injected header line").unwrap();
    assert_eq!(e.no_header, vec!["x-injected".to_string()]);
    for bad in [
        "",
        "some",
        "1 maybe",
        "0 or",
        "1; sometimes more",
        "at most 2",
    ] {
        assert!(p(bad).is_err(), "{bad:?} should not be understood");
    }
    // Every expect_stored in the corpus is understood (or absent).
    for f in files(&smtp_root(), "json") {
        if f.file_name().is_some_and(|n| n == "MANIFEST.json") {
            continue;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        if let Some(s) = v["expect_stored"].as_str() {
            p(s).unwrap_or_else(|e| panic!("{}: {e}", rel(&f)));
        }
    }
    assert_eq!(
        unstuffed_data(b"EHLO x\r\nDATA\r\nA: b\r\n\r\n..x\r\n...\r\nend\r\n.\r\nQUIT\r\n")
            .unwrap(),
        b"A: b\r\n\r\n.x\r\n..\r\nend\r\n".to_vec()
    );
    assert_eq!(
        stuff_raw(b".a\r\n.b\n.c"),
        b"..a\r\n..b\n.c\r\n.\r\n".to_vec()
    );
    assert_eq!(
        stuff_normalized(b".a\n.b\r.c"),
        b"..a\r\n..b\r\n..c\r\n.\r\n".to_vec()
    );
}

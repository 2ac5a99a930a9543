//! What each smtp case's `expect` text says beyond its JSON checks and `expect_stored`, and a
//! test that no case goes unchecked.

use super::expect_stored::{find, unstuffed_data};
use super::files::{files, rel, smtp_root};
use super::http::{global_messages, Http};
use super::smtp::SMTP_RCPT;
use crate::common::*;
use std::path::Path;

/// One promise of a case's human `expect` text, as a check. Segment numbers are those of the
/// replay result (`nowait` entries are glued to the next one).
enum Want {
    /// Every reply to segment i has one of these codes (`x` is any digit), and there is one.
    Codes(usize, &'static [&'static str]),
    /// Segment i got exactly these replies, in this order.
    Replies(usize, &'static [&'static str]),
    /// The server closed the connection after segment i's replies.
    ClosedAfter(usize),
    /// A stored message's raw bytes are exactly the session's DATA section, un-stuffed.
    RawIsData,
    /// A stored message's raw bytes contain this text (e.g. smuggled commands kept as text).
    RawContains(&'static str),
    /// The stored message as the API shows it: its subject and its sender's display name.
    Shown {
        subject: &'static str,
        from_name: &'static str,
    },
    /// The recipient mailbox keeps this tier whatever the message's headers claim.
    TierStays(&'static str),
}

use Want::*;

const ANY_5XX: &[&str] = &["5xx", "421"];
const SMUGGLED: Want = RawContains("MAIL FROM:<ceo@spoofed-bank.test>");
const IN_ORDER: &[&str] = &["250", "250", "354", "250", "250"];

/// Every SMTP case whose `expect` text promises more than its JSON checks and `expect_stored`
/// hold, with those promises. Cases absent here are fully checked by JSON (see
/// [`MACHINE_CHECKED`]); a test keeps both lists equal to the corpus.
const EXPECTATIONS: &[(&str, &[Want])] = &[
    // Source route accepted and ignored; the other odd senders 250 or 501; <postmaster> is a
    // name this server has no mailbox for (550); upper case matches.
    (
        "addresses/comments-routes-literals",
        &[
            Codes(1, &["250"]),
            Codes(3, &["250", "501"]),
            Codes(5, &["250", "501"]),
            Codes(7, &["250", "501"]),
            Codes(9, &["250", "501"]),
            Codes(11, &["250", "501"]),
            Codes(14, &["250", "550"]),
            Codes(15, &["250", "550"]),
            Codes(16, &["250"]),
        ],
    ),
    // The mailbox rule (docs/smtp.md, Recipients): the exact address, case-insensitive; no
    // +tag, no trailing dot, no punycode alias.
    (
        "addresses/punycode-and-case",
        &[
            Replies(2, &["550"]),
            Replies(3, &["250"]),
            Replies(4, &["550"]),
            Replies(5, &["550"]),
        ],
    ),
    (
        "addresses/relay-attempts",
        &[
            Codes(3, &["5xx"]),
            Codes(4, &["5xx"]),
            Codes(5, &["5xx"]),
            Codes(6, &["5xx"]),
        ],
    ),
    (
        "addresses/smtputf8-idn",
        &[
            Replies(2, &["550"]),
            Replies(3, &["550"]),
            Shown {
                subject: "SMTPUTF8 \u{2713} h\u{e9}llo \u{65e5}\u{672c}\u{8a9e}",
                from_name: "\u{7528}\u{6237}",
            },
        ],
    ),
    (
        "addresses/utf8-without-smtputf8",
        &[Codes(1, &["250", "553", "501"])],
    ),
    ("bytes/8bit-data-without-8bitmime", &[RawIsData]),
    ("bytes/binary-garbage-64k", &[Codes(0, ANY_5XX)]),
    (
        "bytes/http-request",
        &[Codes(0, ANY_5XX), Codes(1, ANY_5XX)],
    ),
    (
        "bytes/invalid-utf8-mail-from",
        &[Codes(1, &["250", "501", "553"])],
    ),
    (
        "bytes/nul-in-ehlo",
        &[Codes(0, &["250", "501", "500"]), Replies(1, &["250"])],
    ),
    ("bytes/tls-clienthello-plaintext", &[Codes(0, ANY_5XX)]),
    (
        "misc/helo-variants",
        &[
            Codes(2, &["250", "501"]),
            Codes(3, &["250", "501"]),
            Codes(4, &["250", "501"]),
            Replies(5, &["250"]),
        ],
    ),
    (
        "misc/help-noop-rset-args",
        &[
            Replies(1, &["214"]),
            Codes(2, &["214", "502", "501", "504"]),
            Codes(3, &["250", "500", "501"]),
            Codes(4, &["250", "501"]),
            Replies(5, &["250"]),
        ],
    ),
    (
        "misc/many-sessions-sequential",
        &[
            Replies(1, IN_ORDER),
            Replies(2, IN_ORDER),
            Replies(3, IN_ORDER),
            Replies(4, IN_ORDER),
            Replies(5, IN_ORDER),
            Replies(6, IN_ORDER),
            Replies(7, IN_ORDER),
            Replies(8, IN_ORDER),
            Replies(9, IN_ORDER),
            Replies(10, IN_ORDER),
        ],
    ),
    ("overlong/command-line-1mb", &[Replies(2, &["250"])]),
    ("overlong/data-over-cap-6mb", &[Replies(5, &["221"])]),
    ("overlong/ehlo-100k", &[Replies(1, &["250"])]),
    ("overlong/no-newline-2mb", &[Codes(1, ANY_5XX)]),
    ("params/body-params", &[RawIsData]),
    (
        "params/size-declared-over-cap",
        &[Codes(1, &["250", "552"]), Codes(2, &["552", "503"])],
    ),
    // AUTH is on by default (`--smtp-auth any`): LOGIN and CRAM-MD5 challenge (334), the binary
    // answer is 501 (not base64), the `*` cancels (501); no login is gained.
    (
        "pipelining/auth-garbage",
        &[
            Codes(2, &["334"]),
            Codes(3, &["501"]),
            Codes(4, &["334"]),
            Codes(5, &["501"]),
        ],
    ),
    // STARTTLS is offered: its 220 is the only reply, the MAIL and RCPT behind it are dropped.
    ("pipelining/starttls-injection", &[Replies(1, &["220"])]),
    ("sequence/commands-inside-data", &[RawIsData]),
    (
        "sequence/quit-half-close",
        &[Replies(1, &["221"]), ClosedAfter(1)],
    ),
    (
        "sequence/spoofed-internal-headers",
        &[RawIsData, TierStays("anon")],
    ),
    (
        "smuggling/bare-cr-commands",
        &[Replies(0, &[]), Replies(1, &["50x"])],
    ),
    (
        "smuggling/bare-cr-in-mail-from",
        &[
            Replies(1, &["501"]),
            Replies(2, &["503"]),
            Replies(3, &["503"]),
        ],
    ),
    ("smuggling/smuggle-cr-dot-cr-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-cr-dot-crlf-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-cr-dot-crlf-split", &[SMUGGLED]),
    ("smuggling/smuggle-cr-dot-lf-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-crlf-dot-cr-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-crlf-dot-cr-split", &[SMUGGLED]),
    ("smuggling/smuggle-crlf-space-dot-crlf-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-lf-dot-crlf-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-lf-dot-crlf-split", &[SMUGGLED]),
    ("smuggling/smuggle-lf-dot-lf-oneshot", &[SMUGGLED]),
    ("smuggling/smuggle-lf-dot-lf-split", &[SMUGGLED]),
];

/// Cases whose `expect` text their JSON checks and `expect_stored` already hold entirely (the
/// "memory bounded" ones are also under the per-group memory bound in `smtp_group`, and
/// `rcpt-10000-unique` with catch-all on is in `tests/hardening.rs`).
const MACHINE_CHECKED: &[&str] = &[
    "bytes/invalid-utf8-rcpt",
    "bytes/nul-in-rcpt",
    "overlong/body-line-3mb",
    "params/size-garbage",
    "pipelining/early-talker",
    "pipelining/everything-one-write",
    "pipelining/rcpt-10000-same",
    "pipelining/rcpt-10000-unique",
    "pipelining/unknown-command-flood",
    "sequence/data-abort-close",
    "sequence/data-without-mail",
    "sequence/data-without-rcpt",
    "sequence/dot-stuffing",
    "sequence/headers-only-no-body",
];

fn code_matches(pattern: &str, code: &str) -> bool {
    pattern.len() == code.len()
        && pattern
            .chars()
            .zip(code.chars())
            .all(|(p, c)| p == 'x' || p == c)
}

/// The promises of `EXPECTATIONS` for case `id` that the replay result or the store break.
pub(super) fn expectation_problems(
    http: &Http,
    id: &str,
    case: &Path,
    result: Option<&Value>,
    stored: u64,
) -> Vec<String> {
    let Some((_, wants)) = EXPECTATIONS.iter().find(|(c, _)| *c == id) else {
        return Vec::new();
    };
    let mut p = Vec::new();
    let Some(result) = result else {
        return vec!["no replay result to check the expectations on".into()];
    };
    let segment = |i: usize| result["segments"].get(i).cloned().unwrap_or(Value::Null);
    let codes = |i: usize| -> Vec<String> {
        segment(i)["codes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect()
    };
    let newest = if stored > 0 {
        global_messages(http).map(|(_, m)| m).unwrap_or_default()
    } else {
        Vec::new()
    };
    let stored_raw = || -> Vec<Vec<u8>> {
        newest
            .iter()
            .take(stored as usize)
            .filter_map(|m| {
                let r = http
                    .get(&format!(
                        "/v1/mailbox/{}/messages/{}/raw",
                        m["mailboxId"].as_str()?,
                        m["id"].as_str()?
                    ))
                    .ok()?;
                (r.status == 200).then_some(r.body)
            })
            .collect()
    };
    for want in wants.iter() {
        match want {
            Codes(i, allowed) => {
                let got = codes(*i);
                if got.is_empty()
                    || !got
                        .iter()
                        .all(|c| allowed.iter().any(|a| code_matches(a, c)))
                {
                    p.push(format!(
                        "segment {i}: replies {got:?}, expected only {allowed:?}"
                    ));
                }
            }
            Replies(i, want) => {
                let got = codes(*i);
                let same = got.len() == want.len()
                    && got.iter().zip(want.iter()).all(|(c, w)| code_matches(w, c));
                if !same {
                    p.push(format!("segment {i}: replies {got:?}, expected {want:?}"));
                }
            }
            ClosedAfter(i) => {
                if segment(*i)["closed"] != true {
                    p.push(format!(
                        "the server did not close the connection after segment {i}"
                    ));
                }
            }
            RawIsData => {
                let data = std::fs::read(case).ok().and_then(|s| unstuffed_data(&s));
                for raw in stored_raw() {
                    if data.as_deref() != Some(raw.as_slice()) {
                        p.push(format!(
                            "stored raw bytes differ from the DATA section sent: {:?}",
                            String::from_utf8_lossy(&raw[..raw.len().min(200)])
                        ));
                    }
                }
            }
            RawContains(text) => {
                for raw in stored_raw() {
                    if find(&raw, text.as_bytes()).is_none() {
                        p.push(format!("the stored message does not hold {text:?} as text"));
                    }
                }
            }
            Shown { subject, from_name } => {
                let Some(m) = newest.first() else {
                    p.push("no stored message to show".into());
                    continue;
                };
                if m["subject"] != *subject || m["from"]["name"] != *from_name {
                    p.push(format!(
                        "shown as subject {} from {}; expected {subject:?} from {from_name:?}",
                        m["subject"], m["from"]
                    ));
                }
            }
            TierStays(tier) => match http.json(&format!("/v1/mailbox/{}", enc(SMTP_RCPT))) {
                Ok(m) if m["tier"] == *tier => {}
                Ok(m) => p.push(format!("the mailbox's tier became {}", m["tier"])),
                Err(e) => p.push(e),
            },
        }
    }
    p
}

#[test]
fn corpus_every_smtp_case_has_its_expectation_checked() {
    let cases: Vec<String> = files(&smtp_root(), "smtp")
        .iter()
        .map(|f| {
            rel(f)
                .trim_start_matches("smtp/")
                .trim_end_matches(".smtp")
                .to_string()
        })
        .collect();
    let listed: Vec<&str> = EXPECTATIONS
        .iter()
        .map(|(c, _)| *c)
        .chain(MACHINE_CHECKED.iter().copied())
        .collect();
    for c in &cases {
        assert_eq!(
            listed.iter().filter(|l| **l == c.as_str()).count(),
            1,
            "{c}: decide how its expect text is checked (EXPECTATIONS or MACHINE_CHECKED)"
        );
    }
    for l in &listed {
        assert!(
            cases.iter().any(|c| c == l),
            "{l} is listed but not in the corpus"
        );
    }
    assert!(
        code_matches("5xx", "552") && code_matches("50x", "501") && !code_matches("5xx", "421")
    );
}

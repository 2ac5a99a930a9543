//! Text → [`Query`]: a hand-written scanner, so every error can say what and where.

use time::macros::format_description;
use time::{Date, PrimitiveDateTime, Time};

use super::{Field, Query, Term, TermKind};
use crate::clock::{parse_rfc3339, Millis};
use crate::error::{Error, Result};

/// Parses a query. Positions in errors count characters from 1.
pub fn parse(input: &str) -> Result<Query> {
    let chars: Vec<char> = input.chars().collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let negated = matches!(chars[i], '!' | '-');
        if negated {
            i += 1;
            if i == chars.len() || chars[i].is_whitespace() {
                return Err(invalid(
                    format!("nothing to negate after '{}'", chars[start]),
                    start,
                ));
            }
        }
        let (kind, next) = term(&chars, i)?;
        terms.push(Term { negated, kind });
        i = next;
    }
    Ok(Query { terms })
}

fn invalid(message: String, at: usize) -> Error {
    Error::InvalidQuery {
        message,
        position: at + 1,
    }
}

/// One term starting at `i` (after any negation); returns it and where the next one may start.
fn term(chars: &[char], i: usize) -> Result<(TermKind, usize)> {
    if chars[i] == '"' {
        let (value, next) = quoted(chars, i)?;
        return Ok((
            TermKind::Text {
                value,
                phrase: true,
            },
            next,
        ));
    }
    let word_end = (i..chars.len())
        .find(|&j| chars[j].is_whitespace())
        .unwrap_or(chars.len());
    let colon = (i..word_end).find(|&j| chars[j] == ':');
    let operator = colon.filter(|&c| {
        c > i
            && chars[i..c]
                .iter()
                .all(|ch| ch.is_ascii_alphabetic() || *ch == '-')
            // "https://…" is a word, not an operator.
            && !chars[c + 1..].starts_with(&['/', '/'])
    });
    let Some(colon) = operator else {
        let value: String = chars[i..word_end].iter().collect();
        return Ok((
            TermKind::Text {
                value,
                phrase: false,
            },
            word_end,
        ));
    };
    let name: String = chars[i..colon].iter().collect::<String>().to_lowercase();
    let value_at = colon + 1;
    let (value, phrase, next) = if chars.get(value_at) == Some(&'"') {
        let (v, next) = quoted(chars, value_at)?;
        (v, true, next)
    } else {
        (chars[value_at..word_end].iter().collect(), false, word_end)
    };
    if value.trim().is_empty() {
        return Err(invalid(format!("'{name}:' needs a value"), i));
    }
    // An unknown operator is reported where it starts, a bad value where the value does.
    let at = if OPERATORS.contains(&name.as_str()) {
        value_at
    } else {
        i
    };
    let kind = operator_term(&name, value, phrase).map_err(|e| invalid(e, at))?;
    Ok((kind, next))
}

const OPERATORS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "addressed",
    "subject",
    "message-id",
    "tag",
    "mailbox",
    "is",
    "has",
    "larger",
    "smaller",
    "before",
    "after",
];

/// The term an operator and its value make, or what is wrong with them.
fn operator_term(name: &str, value: String, phrase: bool) -> Result<TermKind, String> {
    let field = |field| {
        Ok(TermKind::Field {
            field,
            value: value.clone(),
            phrase,
        })
    };
    let lower = value.to_lowercase();
    match name {
        "from" => field(Field::From),
        "to" => field(Field::To),
        "cc" => field(Field::Cc),
        "bcc" => field(Field::Bcc),
        "reply-to" => field(Field::ReplyTo),
        "addressed" => field(Field::Addressed),
        "subject" => field(Field::Subject),
        "message-id" => Ok(TermKind::MessageId(
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string(),
        )),
        "tag" => Ok(TermKind::Tag(value)),
        "mailbox" => Ok(TermKind::Mailbox(lower)),
        "is" => match lower.as_str() {
            "read" | "seen" => Ok(TermKind::Read(true)),
            "unread" | "unseen" => Ok(TermKind::Read(false)),
            _ => Err(format!("'is:' takes read or unread, not '{value}'")),
        },
        "has" => match lower.as_str() {
            "attachment" | "attachments" => Ok(TermKind::HasAttachment),
            "code" | "codes" => Ok(TermKind::HasCode),
            "link" | "links" => Ok(TermKind::HasLink),
            _ => Err(format!(
                "'has:' takes attachment, code or link, not '{value}'"
            )),
        },
        "larger" | "smaller" => {
            let bytes = size(&lower).ok_or_else(|| {
                format!("'{name}:' takes a size such as 500, 10k or 2M, not '{value}'")
            })?;
            Ok(if name == "larger" {
                TermKind::Larger(bytes)
            } else {
                TermKind::Smaller(bytes)
            })
        }
        "before" | "after" => {
            let at = date(&value).ok_or_else(|| {
                format!("'{name}:' takes a date (2024-05-31) or an RFC 3339 time, not '{value}'")
            })?;
            Ok(if name == "before" {
                TermKind::Before(at)
            } else {
                TermKind::After(at)
            })
        }
        _ => Err(format!("unknown operator '{name}:'")),
    }
}

/// A quoted string starting at the quote at `i`: its content and the index after the closing
/// quote. `\"` inside stands for a quote.
fn quoted(chars: &[char], i: usize) -> Result<(String, usize)> {
    let mut value = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if chars.get(j + 1) == Some(&'"') => {
                value.push('"');
                j += 2;
            }
            '"' => return Ok((value, j + 1)),
            c => {
                value.push(c);
                j += 1;
            }
        }
    }
    Err(invalid("unclosed quote".into(), i))
}

/// Bytes in `500`, `10k`, `10kb`, `2M`, `1.5mb`, `3KiB`: decimal units as Mailpit reads
/// them (k = 1,000), binary ones with an `i` (KiB = 1,024).
fn size(s: &str) -> Option<u64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiple: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * multiple;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `2024-05-31` (midnight UTC) or an RFC 3339 time, as Unix milliseconds.
fn date(s: &str) -> Option<Millis> {
    if let Some(ms) = parse_rfc3339(s) {
        return Some(ms);
    }
    let day = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    let t = PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_utc();
    t.unix_timestamp().checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(q: &str) -> Term {
        let mut parsed = parse(q).expect("parses");
        assert_eq!(parsed.terms.len(), 1, "{q}");
        parsed.terms.remove(0)
    }

    fn kind(q: &str) -> TermKind {
        one(q).kind
    }

    fn error(q: &str) -> String {
        parse(q).expect_err(q).to_string()
    }

    fn field(field: Field, value: &str, phrase: bool) -> TermKind {
        TermKind::Field {
            field,
            value: value.into(),
            phrase,
        }
    }

    #[test]
    fn words_and_phrases() {
        let q = parse("  hello \"big world\"  Müller ").expect("parses");
        let texts: Vec<_> = q.terms.iter().map(|t| t.kind.clone()).collect();
        assert_eq!(
            texts,
            vec![
                TermKind::Text {
                    value: "hello".into(),
                    phrase: false
                },
                TermKind::Text {
                    value: "big world".into(),
                    phrase: true
                },
                TermKind::Text {
                    value: "Müller".into(),
                    phrase: false
                },
            ]
        );
        assert!(parse("").expect("empty").terms.is_empty());
        assert_eq!(
            kind(r#""say \"hi\"""#),
            TermKind::Text {
                value: "say \"hi\"".into(),
                phrase: true
            }
        );
    }

    #[test]
    fn address_and_subject_fields() {
        assert_eq!(
            kind("from:alice@x.test"),
            field(Field::From, "alice@x.test", false)
        );
        assert_eq!(kind("to:bob"), field(Field::To, "bob", false));
        assert_eq!(kind("cc:carol"), field(Field::Cc, "carol", false));
        assert_eq!(kind("bcc:dave"), field(Field::Bcc, "dave", false));
        assert_eq!(kind("reply-to:erin"), field(Field::ReplyTo, "erin", false));
        assert_eq!(
            kind("addressed:frank"),
            field(Field::Addressed, "frank", false)
        );
        assert_eq!(
            kind("subject:\"your code\""),
            field(Field::Subject, "your code", true)
        );
        // Operator names are case-insensitive, values keep their case.
        assert_eq!(kind("FROM:Alice"), field(Field::From, "Alice", false));
    }

    #[test]
    fn other_operators() {
        assert_eq!(
            kind("message-id:<abc.1@x.test>"),
            TermKind::MessageId("abc.1@x.test".into())
        );
        assert_eq!(kind("tag:urgent"), TermKind::Tag("urgent".into()));
        assert_eq!(
            kind("mailbox:Box@X.test"),
            TermKind::Mailbox("box@x.test".into())
        );
        assert_eq!(kind("is:read"), TermKind::Read(true));
        assert_eq!(kind("is:UNREAD"), TermKind::Read(false));
        assert_eq!(kind("has:attachment"), TermKind::HasAttachment);
        assert_eq!(kind("has:attachments"), TermKind::HasAttachment);
        assert_eq!(kind("has:code"), TermKind::HasCode);
        assert_eq!(kind("has:link"), TermKind::HasLink);
        assert_eq!(kind("larger:10k"), TermKind::Larger(10_000));
        assert_eq!(kind("smaller:2M"), TermKind::Smaller(2_000_000));
        assert_eq!(kind("larger:3KiB"), TermKind::Larger(3072));
        assert_eq!(kind("larger:1.5mb"), TermKind::Larger(1_500_000));
        assert_eq!(kind("smaller:500"), TermKind::Smaller(500));
        assert_eq!(kind("after:2024-05-31"), TermKind::After(1_717_113_600_000));
        assert_eq!(
            kind("before:2024-05-31T12:00:00Z"),
            TermKind::Before(1_717_156_800_000)
        );
    }

    #[test]
    fn negation() {
        for q in ["-from:alice", "!from:alice"] {
            assert_eq!(
                one(q),
                Term {
                    negated: true,
                    kind: field(Field::From, "alice", false)
                }
            );
        }
        assert!(one("-\"a phrase\"").negated);
        assert!(one("!is:read").negated);
        assert!(!one("x-ray").negated);
    }

    #[test]
    fn words_with_colons_that_are_not_operators() {
        for q in ["10:30", "1a:x", "héllo:x"] {
            assert!(matches!(kind(q), TermKind::Text { .. }), "{q}");
        }
        assert_eq!(
            kind("https://x.test/a"),
            TermKind::Text {
                value: "https://x.test/a".into(),
                phrase: false
            }
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(error("frm:alice"), "unknown operator 'frm:' at 1");
        assert_eq!(error("hello  -frm:x"), "unknown operator 'frm:' at 9");
        assert_eq!(error("from:"), "'from:' needs a value at 1");
        assert_eq!(error("a \"open"), "unclosed quote at 3");
        assert_eq!(error("subject:\"open"), "unclosed quote at 9");
        assert_eq!(error("x -"), "nothing to negate after '-' at 3");
        assert_eq!(
            error("is:maybe"),
            "'is:' takes read or unread, not 'maybe' at 4"
        );
        assert_eq!(
            error("has:pony"),
            "'has:' takes attachment, code or link, not 'pony' at 5"
        );
        assert_eq!(
            error("larger:big"),
            "'larger:' takes a size such as 500, 10k or 2M, not 'big' at 8"
        );
        assert_eq!(
            error("Ä after:yesterday"),
            "'after:' takes a date (2024-05-31) or an RFC 3339 time, not 'yesterday' at 9"
        );
    }
}

//! The spam check: the raw message goes to a SpamAssassin `spamd` (`--spamassassin HOST:PORT`)
//! over its protocol (SPAMC/1.5, the REPORT command), and its verdict comes back with each
//! rule hit, its score and its description.

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::check_config::SpamCheckConfig;

/// One rule spamd hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpamRule {
    pub name: String,
    pub score: f64,
    pub description: String,
}

/// The result of one spam check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpamCheck {
    /// False when no `--spamassassin` is set: nothing was asked.
    pub enabled: bool,
    pub spamd: Option<String>,
    pub score: f64,
    pub threshold: f64,
    pub is_spam: bool,
    pub rules: Vec<SpamRule>,
    /// Why there is no verdict (spamd unreachable, too slow, message too large, …).
    pub error: Option<String>,
}

impl SpamCheck {
    fn empty(enabled: bool, spamd: Option<String>) -> SpamCheck {
        SpamCheck {
            enabled,
            spamd,
            score: 0.0,
            threshold: 0.0,
            is_spam: false,
            rules: Vec::new(),
            error: None,
        }
    }
}

/// Asks spamd about `raw`.
pub async fn check(raw: &[u8], cfg: &SpamCheckConfig) -> SpamCheck {
    let Some(addr) = &cfg.spamd else {
        return SpamCheck::empty(false, None);
    };
    let mut out = SpamCheck::empty(true, Some(addr.to_string()));
    if raw.len() > cfg.max_size {
        out.error = Some(format!(
            "the message is {} bytes, over --spamassassin-max-size ({} bytes): not checked",
            raw.len(),
            cfg.max_size
        ));
        return out;
    }
    let answer = tokio::time::timeout(cfg.timeout, ask(&addr.0, raw, cfg.max_answer)).await;
    match answer {
        Err(_) => {
            out.error = Some(format!(
                "spamd at {addr} did not answer in {} s (--spamassassin-timeout)",
                cfg.timeout.as_secs()
            ))
        }
        Ok(Err(e)) => out.error = Some(format!("spamd at {addr}: {e}")),
        Ok(Ok(bytes)) => match parse(&String::from_utf8_lossy(&bytes)) {
            Ok(v) => {
                out.score = v.score;
                out.threshold = v.threshold;
                out.is_spam = v.is_spam;
                out.rules = v.rules;
            }
            Err(e) => out.error = Some(format!("spamd at {addr}: {e}")),
        },
    }
    out
}

async fn ask(addr: &str, raw: &[u8], max_answer: usize) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!("REPORT SPAMC/1.5\r\nContent-length: {}\r\n\r\n", raw.len());
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(raw).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    // One byte past the cap tells a cut answer from one that fits exactly.
    let cap = u64::try_from(max_answer)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    stream.take(cap).read_to_end(&mut answer).await?;
    if answer.len() > max_answer {
        return Err(std::io::Error::other(format!(
            "its answer is over --spamassassin-max-answer ({max_answer} bytes)"
        )));
    }
    Ok(answer)
}

/// spamd's verdict, as read from its answer.
#[derive(Debug, PartialEq)]
struct Verdict {
    is_spam: bool,
    score: f64,
    threshold: f64,
    rules: Vec<SpamRule>,
}

/// Reads `SPAMD/1.1 0 EX_OK`, the `Spam: True ; 1000.0 / 5.0` header, and REPORT's table.
fn parse(answer: &str) -> Result<Verdict, String> {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .or_else(|| answer.split_once("\n\n"))
        .unwrap_or((answer, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    let mut words = status.split_whitespace();
    if !words.next().is_some_and(|w| w.starts_with("SPAMD/")) {
        return Err(format!(
            "not a spamd answer: {:?}",
            status.chars().take(80).collect::<String>()
        ));
    }
    if words.next() != Some("0") {
        return Err(format!("spamd refused: {}", status.trim()));
    }
    let spam = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("spam"))
        .map(|(_, v)| v.trim())
        .ok_or("no Spam header in its answer")?;
    // "True ; 1000.0 / 5.0"
    let (flag, scores) = spam.split_once(';').ok_or("unreadable Spam header")?;
    let (score, threshold) = scores.split_once('/').ok_or("unreadable Spam header")?;
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| "unreadable score".to_string())
    };
    Ok(Verdict {
        is_spam: matches!(flag.trim().to_ascii_lowercase().as_str(), "true" | "yes"),
        score: num(score)?,
        threshold: num(threshold)?,
        rules: report_rules(body),
    })
}

/// The rule table of a REPORT: after the `---- ----` line, `pts NAME description` lines, a
/// long description going on in indented lines.
fn report_rules(body: &str) -> Vec<SpamRule> {
    let mut rules: Vec<SpamRule> = Vec::new();
    let mut in_table = false;
    for line in body.lines() {
        if !in_table {
            in_table = line.trim_start().starts_with("----");
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        match first.parse::<f64>() {
            Ok(score) => {
                let Some(name) = parts.next() else { continue };
                rules.push(SpamRule {
                    name: name.to_string(),
                    score,
                    description: parts.collect::<Vec<_>>().join(" "),
                });
            }
            Err(_) => {
                if let Some(last) = rules.last_mut() {
                    if !last.description.is_empty() {
                        last.description.push(' ');
                    }
                    last.description.push_str(line.trim());
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report() {
        let answer =
            "SPAMD/1.1 0 EX_OK\r\nContent-length: 400\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n\
            Spam detection software has identified this incoming email as possible spam.\n\n\
            Content analysis details:   (1000.0 points, 5.0 required)\n\n \
            pts rule name              description\n\
            ---- ---------------------- --------------------------------------------------\n\
            1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email\n\
            -0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n\
            \x20                           and goes on here\n\n";
        let v = parse(answer).unwrap();
        assert!(v.is_spam);
        assert_eq!((v.score, v.threshold), (1000.0, 5.0));
        assert_eq!(v.rules.len(), 2);
        assert_eq!(v.rules[0].name, "GTUBE");
        assert_eq!(v.rules[1].score, -0.0);
        assert!(v.rules[1]
            .description
            .ends_with("via SMTP and goes on here"));
    }

    #[test]
    fn refusals_are_errors() {
        assert!(parse("SPAMD/1.0 76 Bad header line")
            .unwrap_err()
            .contains("refused"));
        assert!(parse("HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}

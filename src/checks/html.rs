//! The HTML check: which caniemail features the message's original HTML uses, where, how well
//! each email client family supports each, and a weighted score.
//!
//! Support per client is the latest version caniemail tested of each family and platform
//! (Mailpit lists every version; the latest is what a reader's client runs). The score is
//! weighted as Mailpit weights it: a feature's share of unsupported (or partial) clients times
//! the share of the message's tags that use it, and the worst feature sets the total.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::caniemail::{support_of, Support, CANIEMAIL, VERSION};
use super::scan::{cut, scan, Bounds};
use crate::check_config::HtmlCheckConfig;

/// A place a feature is used: its line in the HTML and the text there.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub line: usize,
    pub snippet: String,
}

/// How one client (family and platform, latest version tested) supports a feature.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSupport {
    pub family: String,
    pub family_name: String,
    pub platform: String,
    pub platform_name: String,
    pub version: String,
    pub support: Support,
    /// caniemail's notes for this result, by number.
    pub notes: Vec<String>,
    #[serde(skip)]
    pub note_numbers: Vec<String>,
}

/// Percentages of clients (unknown ones left out).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Score {
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// One feature the message uses.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub slug: String,
    pub title: String,
    pub category: String,
    pub description: String,
    pub url: String,
    #[serde(skip)]
    pub tags: Vec<String>,
    #[serde(skip)]
    pub keywords: String,
    #[serde(skip)]
    pub notes_by_number: BTreeMap<String, String>,
    /// Uses in the message.
    pub found: usize,
    /// The first few uses.
    pub places: Vec<Place>,
    pub score: Score,
    pub clients: Vec<ClientSupport>,
}

/// The result of one HTML check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HtmlCheck {
    /// False when the message has no HTML part (nothing was checked).
    pub has_html: bool,
    /// The caniemail data: npm package version and its last update.
    pub data_version: String,
    pub data_updated: String,
    /// Start tags read.
    pub nodes: usize,
    /// Features looked for.
    pub tests: usize,
    /// The message's weighted score.
    pub total: Score,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// Why only part of the HTML was checked, when so.
    pub limited: Option<String>,
}

impl HtmlCheck {
    /// The answer for a message without HTML.
    pub fn without_html() -> HtmlCheck {
        HtmlCheck {
            has_html: false,
            data_version: VERSION.trim().to_string(),
            data_updated: CANIEMAIL.last_update_date.clone(),
            nodes: 0,
            tests: 0,
            total: Score {
                supported: 100.0,
                ..Score::default()
            },
            findings: Vec::new(),
            limited: None,
        }
    }
}

/// Checks `html`, within `limits`.
pub fn check(html: &str, limits: &HtmlCheckConfig) -> HtmlCheck {
    let started = Instant::now();
    let mut limited = None;
    let part = cut(html, limits.max_bytes);
    if part.len() < html.len() {
        limited = Some(format!(
            "only the first {} of {} bytes were checked (--html-check-max-bytes)",
            part.len(),
            html.len()
        ));
    }
    let html = part;
    let uses = scan(
        html,
        &Bounds {
            max_nodes: limits.max_nodes,
            deadline: started + limits.timeout,
        },
    );
    limited = limited.or(uses.stopped);
    let lines = LineIndex::new(html);
    let nodes = uses.nodes.max(1) as f32;
    let mut findings: Vec<Finding> = uses
        .by_slug
        .iter()
        .filter_map(|(slug, offsets)| finding(slug, offsets, html, &lines, limits.max_places))
        .collect();
    let weight = |f: &Finding, pct: f32| pct * (f.found as f32 / nodes).min(1.0);
    findings.sort_by(|a, b| {
        let wa = weight(a, a.score.unsupported + a.score.partial);
        let wb = weight(b, b.score.unsupported + b.score.partial);
        wb.total_cmp(&wa).then_with(|| a.slug.cmp(&b.slug))
    });
    let partial = findings
        .iter()
        .map(|f| weight(f, f.score.partial))
        .fold(0.0, f32::max);
    let unsupported = findings
        .iter()
        .map(|f| weight(f, f.score.unsupported))
        .fold(0.0, f32::max);
    HtmlCheck {
        has_html: true,
        data_version: VERSION.trim().to_string(),
        data_updated: CANIEMAIL.last_update_date.clone(),
        nodes: uses.nodes,
        tests: CANIEMAIL
            .data
            .data
            .iter()
            .filter(|f| f.category != "others")
            .count(),
        total: Score {
            supported: round((100.0 - partial - unsupported).max(0.0)),
            partial: round(partial),
            unsupported: round(unsupported),
        },
        findings,
        limited,
    }
}

fn finding(
    slug: &str,
    offsets: &[usize],
    html: &str,
    lines: &LineIndex,
    max_places: usize,
) -> Option<Finding> {
    let f = CANIEMAIL.feature(slug)?;
    let notes_by_number: BTreeMap<String, String> = f
        .notes_by_num
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let names = &CANIEMAIL.nicenames;
    let mut clients = Vec::new();
    for (family, platforms) in &f.stats.0 {
        for (platform, versions) in &platforms.0 {
            let Some((version, value)) = versions.0.last() else {
                continue;
            };
            let (support, note_numbers) = support_of(value);
            clients.push(ClientSupport {
                family_name: names
                    .family
                    .get(family)
                    .cloned()
                    .unwrap_or_else(|| family.clone()),
                platform_name: names
                    .platform
                    .get(platform)
                    .cloned()
                    .unwrap_or_else(|| platform.clone()),
                family: family.clone(),
                platform: platform.clone(),
                version: version.clone(),
                support,
                notes: note_numbers
                    .iter()
                    .filter_map(|n| notes_by_number.get(n).cloned())
                    .collect(),
                note_numbers,
            });
        }
    }
    let count = |s: Support| clients.iter().filter(|c| c.support == s).count() as f32;
    let (y, p, n) = (
        count(Support::Yes),
        count(Support::Partial),
        count(Support::No),
    );
    let known = (y + p + n).max(1.0);
    Some(Finding {
        slug: f.slug.clone(),
        title: f.title.clone(),
        category: f.category.clone(),
        description: f.description.clone().unwrap_or_default(),
        url: f.url.clone(),
        tags: f.tags.clone(),
        keywords: f.keywords.clone().unwrap_or_default(),
        notes_by_number,
        found: offsets.len(),
        places: offsets
            .iter()
            .take(max_places)
            .map(|&at| lines.place(html, at))
            .collect(),
        score: Score {
            supported: round(y / known * 100.0),
            partial: round(p / known * 100.0),
            unsupported: round(n / known * 100.0),
        },
        clients,
    })
}

/// One decimal: stable across platforms and readable.
fn round(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}

/// Longest snippet shown for a place, in characters.
const SNIPPET_CHARS: usize = 80;

/// Byte offset -> line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(s: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            s.bytes()
                .enumerate()
                .filter(|(_, c)| *c == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    fn place(&self, s: &str, at: usize) -> Place {
        let line = self.starts.partition_point(|&st| st <= at);
        let end = s[at..].find('\n').map_or(s.len(), |e| at + e);
        let snippet: String = s[at..end].trim_end().chars().take(SNIPPET_CHARS).collect();
        Place { line, snippet }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> HtmlCheckConfig {
        HtmlCheckConfig {
            max_bytes: 1 << 20,
            max_nodes: 10_000,
            timeout: Duration::from_secs(5),
            max_places: 2,
        }
    }

    #[test]
    fn findings_have_places_clients_and_a_score() {
        let html = "<html><body>\n<div style=\"display: flex\">x</div>\n<p>a</p>\n</body></html>";
        let c = check(html, &limits());
        let flex = c
            .findings
            .iter()
            .find(|f| f.slug == "css-display-flex")
            .unwrap();
        assert_eq!(flex.found, 1);
        assert_eq!(flex.places[0].line, 2);
        assert!(flex.places[0].snippet.starts_with("display: flex"));
        assert!(flex
            .clients
            .iter()
            .any(|c| c.family == "outlook" && c.support == Support::No));
        assert!(flex.score.unsupported > 0.0);
        assert!(c.total.unsupported > 0.0 && c.total.supported < 100.0);
        assert!(c.limited.is_none());
    }

    #[test]
    fn a_large_part_is_cut_and_says_so() {
        let mut l = limits();
        l.max_bytes = 100;
        let c = check(&"<p>é</p>".repeat(100), &l);
        assert!(c.limited.unwrap().contains("--html-check-max-bytes"));
    }
}

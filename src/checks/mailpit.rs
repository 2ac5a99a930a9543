//! The checks' results in Mailpit's JSON shapes (`HTMLCheckResponse`, `LinkCheckResponse`,
//! `SpamAssassinResponse` of Mailpit's v1 API), for the Mailpit-compatible routes
//! (`/api/v1/message/{ID}/html-check`, `…/link-check`, `…/sa-check`).
//!
//! Where we differ: an HTML warning's `Results` hold the latest version tested of each client
//! (Mailpit lists every version), clients whose support caniemail does not know are left out
//! (Mailpit counts them as partial), and `Description` is caniemail's Markdown as it is.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::caniemail::{Support, CANIEMAIL};
use super::html::HtmlCheck;
use super::links::LinkCheck;
use super::spam::SpamCheck;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheckResponse {
    pub warnings: Vec<HtmlCheckWarning>,
    pub platforms: BTreeMap<String, Vec<String>>,
    pub total: HtmlCheckTotal,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheckWarning {
    pub slug: String,
    pub title: String,
    pub description: String,
    #[serde(rename = "URL")]
    pub url: String,
    pub category: String,
    pub tags: Vec<String>,
    pub keywords: String,
    pub results: Vec<HtmlCheckResult>,
    pub notes_by_number: BTreeMap<String, String>,
    pub score: HtmlCheckScore,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheckResult {
    pub name: String,
    pub platform: String,
    pub family: String,
    pub version: String,
    pub support: &'static str,
    pub note_number: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheckScore {
    pub found: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheckTotal {
    pub tests: usize,
    pub nodes: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// `HTMLCheckResponse`.
pub fn html_check(c: &HtmlCheck) -> HtmlCheckResponse {
    let warnings = c
        .findings
        .iter()
        .map(|f| HtmlCheckWarning {
            slug: f.slug.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            url: f.url.clone(),
            category: f.category.clone(),
            tags: f.tags.clone(),
            keywords: f.keywords.clone(),
            results: f
                .clients
                .iter()
                .filter_map(|r| {
                    let support = match r.support {
                        Support::Yes => "yes",
                        Support::No => "no",
                        Support::Partial => "partial",
                        Support::Unknown => return None,
                    };
                    Some(HtmlCheckResult {
                        name: format!("{} {} ({})", r.family_name, r.platform_name, r.version),
                        platform: r.platform.clone(),
                        family: r.family.clone(),
                        version: r.version.clone(),
                        support,
                        note_number: r.note_numbers.first().cloned().unwrap_or_default(),
                    })
                })
                .collect(),
            notes_by_number: f.notes_by_number.clone(),
            score: HtmlCheckScore {
                found: f.found,
                supported: f.score.supported,
                partial: f.score.partial,
                unsupported: f.score.unsupported,
            },
        })
        .collect();
    HtmlCheckResponse {
        warnings,
        platforms: platforms(),
        total: HtmlCheckTotal {
            tests: c.tests,
            nodes: c.nodes,
            supported: c.total.supported,
            partial: c.total.partial,
            unsupported: c.total.unsupported,
        },
    }
}

/// Every platform caniemail tested, each with the client families tested on it.
fn platforms() -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &CANIEMAIL.data.data {
        for (family, platforms) in &f.stats.0 {
            let name = CANIEMAIL
                .nicenames
                .family
                .get(family)
                .cloned()
                .unwrap_or_else(|| family.clone());
            for (platform, _) in &platforms.0 {
                map.entry(platform.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    map.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LinkCheckResponse {
    pub errors: usize,
    pub links: Vec<MailpitLink>,
}

#[derive(Debug, Serialize)]
pub struct MailpitLink {
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(rename = "StatusCode")]
    pub status_code: u16,
    #[serde(rename = "Status")]
    pub status: String,
}

/// `LinkCheckResponse`. Our check always follows redirects (within its cap); with `follow`
/// false (Mailpit's default) a redirected link is shown by its first answer, as Mailpit shows
/// it. A link without an answer has status code 0 and its error as status; `Errors` counts
/// those and every 4xx and 5xx, as Mailpit counts.
pub fn link_check(c: &LinkCheck, follow: bool) -> LinkCheckResponse {
    let links: Vec<MailpitLink> = c
        .links
        .iter()
        .map(|l| match (l.redirects.first(), follow) {
            (Some(first), false) => MailpitLink {
                url: l.url.clone(),
                status_code: first.status,
                status: redirect_reason(first.status).into(),
            },
            _ => MailpitLink {
                url: l.url.clone(),
                status_code: if l.error.is_some() {
                    0
                } else {
                    l.status.unwrap_or(0)
                },
                status: match &l.error {
                    Some(e) => e.clone(),
                    None => l.status_text.clone(),
                },
            },
        })
        .collect();
    LinkCheckResponse {
        errors: links
            .iter()
            .filter(|l| l.status_code == 0 || l.status_code >= 400)
            .count(),
        links,
    }
}

fn redirect_reason(code: u16) -> &'static str {
    match code {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Redirect",
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpamAssassinResponse {
    pub error: String,
    pub is_spam: bool,
    pub rules: Vec<MailpitRule>,
    pub score: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MailpitRule {
    pub name: String,
    pub score: f64,
    pub description: String,
}

/// `SpamAssassinResponse`; when the check is off, `Error` says so (as Mailpit's route answers
/// only when SpamAssassin is on, its clients read `Error` first).
pub fn spam_check(c: &SpamCheck) -> SpamAssassinResponse {
    let error = match (&c.error, c.enabled) {
        (Some(e), _) => e.clone(),
        (None, false) => "SpamAssassin is not enabled (--spamassassin HOST:PORT)".into(),
        (None, true) => String::new(),
    };
    SpamAssassinResponse {
        error,
        is_spam: c.is_spam,
        rules: c
            .rules
            .iter()
            .map(|r| MailpitRule {
                name: r.name.clone(),
                score: r.score,
                description: r.description.clone(),
            })
            .collect(),
        score: c.score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_config::HtmlCheckConfig;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn html_check_in_mailpit_shape() {
        let cfg = HtmlCheckConfig {
            max_bytes: 1 << 20,
            max_nodes: 1000,
            timeout: Duration::from_secs(5),
            max_places: 3,
        };
        let c = crate::checks::html::check("<div style=\"display:flex\"></div>", &cfg);
        let v = serde_json::to_value(html_check(&c)).unwrap();
        let w = v["Warnings"].as_array().unwrap();
        let flex = w.iter().find(|w| w["Slug"] == "css-display-flex").unwrap();
        assert_eq!(flex["Score"]["Found"], 1);
        assert!(flex["URL"]
            .as_str()
            .unwrap()
            .starts_with("https://www.caniemail.com/"));
        let r = &flex["Results"][0];
        for k in [
            "Name",
            "Platform",
            "Family",
            "Version",
            "Support",
            "NoteNumber",
        ] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
        assert!(v["Platforms"]["ios"].as_array().unwrap().len() > 3);
        for k in ["Tests", "Nodes", "Supported", "Partial", "Unsupported"] {
            assert!(v["Total"].get(k).is_some(), "Total.{k}");
        }
    }

    #[test]
    fn link_check_follows_or_shows_the_first_answer() {
        use crate::checks::links::{Hop, LinkKind, LinkResult};
        let link = LinkResult {
            url: "http://a.test/r".into(),
            kind: LinkKind::Link,
            ok: true,
            status: Some(200),
            status_text: "OK".into(),
            method: Some("HEAD"),
            final_url: Some("http://a.test/ok".into()),
            redirects: vec![Hop {
                url: "http://a.test/r".into(),
                status: 302,
            }],
            error: None,
            credentials_removed: false,
            ms: 1,
        };
        let mut gone = link.clone();
        gone.redirects.clear();
        gone.error = Some("address 10.0.0.1 not allowed".into());
        let c = LinkCheck {
            allow: "public".into(),
            found: 2,
            checked: 2,
            errors: 1,
            links: vec![link, gone],
            limited: None,
        };
        let v = serde_json::to_value(link_check(&c, true)).unwrap();
        assert_eq!(v["Links"][0]["StatusCode"], 200);
        assert_eq!(v["Links"][1]["StatusCode"], 0);
        assert!(v["Links"][1]["Status"]
            .as_str()
            .unwrap()
            .contains("not allowed"));
        assert_eq!(v["Errors"], 1);
        let v = serde_json::to_value(link_check(&c, false)).unwrap();
        assert_eq!(
            (
                v["Links"][0]["StatusCode"].clone(),
                v["Links"][0]["Status"].clone()
            ),
            (json!(302), json!("Found"))
        );
    }

    #[test]
    fn spam_check_off_says_how_to_turn_it_on() {
        let cfg = crate::check_config::SpamCheckConfig {
            spamd: None,
            timeout: Duration::from_secs(1),
            max_size: 1,
            max_answer: 1,
        };
        let c = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(crate::checks::spam::check(b"x", &cfg));
        let v = serde_json::to_value(spam_check(&c)).unwrap();
        assert!(v["Error"].as_str().unwrap().contains("--spamassassin"));
        assert_eq!(v["IsSpam"], false);
    }
}

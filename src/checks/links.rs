//! The link check: asks every link and image URL of a message whether it answers.
//!
//! HEAD first, GET only where HEAD is refused (405, 501), and of a GET only the status line
//! and headers are read: the body is dropped unread. Redirects are followed by hand, so each
//! hop is checked like the first: http(s) only (an https link may not step down to http), at
//! most `--link-check-max-redirects`, a loop named as such. Every connection goes through
//! [`resolve`], which refuses the address kinds `--link-check-allow` does not list, after DNS,
//! so a public name pointing at 127.0.0.1 is refused too. No cookies, no proxy from the
//! environment, and credentials written into a URL are taken out before it is asked.
//!
//! HTTP client: ureq 2, already the engine's blocking client (sync's uploads), with its rustls
//! TLS: blocking suits a bounded pool of worker threads, its resolver hook is where the
//! address policy sits, and it adds no new crate. DNS itself is the system resolver's, bounded
//! by its own timeouts.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use url::Url;

use crate::check_config::{LinkCheckConfig, Reach};

/// Where a URL was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Link,
    Image,
}

/// One redirect followed.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
}

/// What one URL answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkResult {
    pub url: String,
    pub kind: LinkKind,
    /// A 2xx at the end of its redirects.
    pub ok: bool,
    /// The last status received, if any.
    pub status: Option<u16>,
    pub status_text: String,
    /// HEAD, or GET when HEAD was refused.
    pub method: Option<&'static str>,
    /// Where the redirects ended.
    pub final_url: Option<String>,
    pub redirects: Vec<Hop>,
    /// Why there is no answer (refused address, timeout, loop, …).
    pub error: Option<String>,
    /// Credentials in the URL were taken out before asking.
    pub credentials_removed: bool,
    pub ms: u64,
}

/// The result of one link check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkCheck {
    /// The address kinds it could reach (`--link-check-allow`).
    pub allow: String,
    /// Distinct URLs found.
    pub found: usize,
    /// URLs asked (the rest are listed as not checked).
    pub checked: usize,
    /// Links that are not ok.
    pub errors: usize,
    pub links: Vec<LinkResult>,
    /// Why some URLs were not asked, when so.
    pub limited: Option<String>,
}

/// The URLs of a message: links (the HTML's `<a>`/`<area>` and bare URLs of the text) and
/// images (`<img src>`, `background=`), http(s) only, each once, in order.
pub fn urls_of(
    text: Option<&str>,
    html: Option<&str>,
    images: &[String],
) -> Vec<(LinkKind, String)> {
    let mut out: Vec<(LinkKind, String)> = crate::extract::links(text, html)
        .into_iter()
        .map(|u| (LinkKind::Link, u))
        .collect();
    let mut seen: std::collections::HashSet<String> = out.iter().map(|(_, u)| u.clone()).collect();
    for src in images {
        let src = src.replace("&amp;", "&");
        let lower = src.to_ascii_lowercase();
        if (lower.starts_with("http://") || lower.starts_with("https://"))
            && seen.insert(src.clone())
        {
            out.push((LinkKind::Image, src));
        }
    }
    out
}

/// Checks `urls` within `cfg`'s bounds, `cfg.concurrency` at a time. Blocking: run it on the
/// blocking pool.
pub fn check(urls: Vec<(LinkKind, String)>, cfg: &LinkCheckConfig) -> LinkCheck {
    let found = urls.len();
    let take = found.min(cfg.max_links);
    let deadline = Instant::now() + cfg.total_timeout;
    let allow = cfg.allow;
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(cfg.timeout)
        .timeout(cfg.timeout)
        .max_idle_connections(0)
        .user_agent(concat!("mailiy-link-check/", env!("CARGO_PKG_VERSION")))
        .resolver(move |netloc: &str| resolve(netloc, allow))
        .build();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<LinkResult>>> = Mutex::new(vec![None; take]);
    std::thread::scope(|scope| {
        for _ in 0..cfg.concurrency.min(take) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((kind, url)) = urls.get(i).filter(|_| i < take) else {
                    break;
                };
                let r = if Instant::now() >= deadline {
                    not_checked(
                        url,
                        *kind,
                        format!(
                            "not checked: the check's {} s were up (--link-check-total-timeout)",
                            cfg.total_timeout.as_secs()
                        ),
                    )
                } else {
                    check_one(&agent, url, *kind, cfg)
                };
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    let mut links: Vec<LinkResult> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    let mut limited = None;
    if found > take {
        limited = Some(format!(
            "{} of {found} URLs were not checked (--link-check-max-links {})",
            found - take,
            cfg.max_links
        ));
        for (kind, url) in &urls[take..] {
            links.push(not_checked(
                url,
                *kind,
                "not checked: over --link-check-max-links".into(),
            ));
        }
    }
    LinkCheck {
        allow: allow.to_string(),
        found,
        checked: take,
        errors: links.iter().filter(|l| !l.ok).count(),
        links,
        limited,
    }
}

fn not_checked(url: &str, kind: LinkKind, why: String) -> LinkResult {
    LinkResult {
        url: url.to_string(),
        kind,
        ok: false,
        status: None,
        status_text: String::new(),
        method: None,
        final_url: None,
        redirects: Vec::new(),
        error: Some(why),
        credentials_removed: false,
        ms: 0,
    }
}

fn check_one(agent: &ureq::Agent, raw: &str, kind: LinkKind, cfg: &LinkCheckConfig) -> LinkResult {
    let started = Instant::now();
    let mut r = not_checked(raw, kind, String::new());
    r.error = None;
    let mut url = match Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            r.error = Some(format!("{} links are not checked", u.scheme()));
            return r;
        }
        Err(e) => {
            r.error = Some(format!("not a URL: {e}"));
            return r;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        // Infallible for http(s) URLs, which have a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        r.credentials_removed = true;
    }
    url.set_fragment(None);
    let mut seen = vec![url.clone()];
    loop {
        match ask(agent, &url) {
            Err(e) => {
                r.error = Some(e);
                break;
            }
            Ok(answer) => {
                r.status = Some(answer.status);
                r.status_text = answer.status_text;
                r.method = Some(answer.method);
                let Some(location) = answer
                    .location
                    .filter(|_| (300..400).contains(&answer.status))
                else {
                    r.ok = (200..300).contains(&answer.status);
                    r.final_url = Some(url.to_string());
                    break;
                };
                r.redirects.push(Hop {
                    url: url.to_string(),
                    status: answer.status,
                });
                match next_hop(&url, &location, &seen, r.redirects.len(), cfg.max_redirects) {
                    Ok(next) => {
                        seen.push(next.clone());
                        url = next;
                    }
                    Err(e) => {
                        r.error = Some(e);
                        r.final_url = Some(url.to_string());
                        break;
                    }
                }
            }
        }
    }
    r.ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    r
}

/// Where a redirect leads, if it may be followed.
fn next_hop(
    from: &Url,
    location: &str,
    seen: &[Url],
    hops: usize,
    max: usize,
) -> Result<Url, String> {
    if hops > max {
        return Err(format!(
            "more than {max} redirects (--link-check-max-redirects)"
        ));
    }
    let mut next = from
        .join(location)
        .map_err(|e| format!("redirect to an unreadable location: {e}"))?;
    next.set_fragment(None);
    match (from.scheme(), next.scheme()) {
        ("http", "http" | "https") | ("https", "https") => {}
        (a, b) => return Err(format!("redirect from {a} to {b} refused")),
    }
    if !next.username().is_empty() || next.password().is_some() {
        return Err("redirect to a URL with credentials refused".into());
    }
    if seen.contains(&next) {
        return Err(format!("redirect loop back to {next}"));
    }
    Ok(next)
}

struct Answer {
    status: u16,
    status_text: String,
    location: Option<String>,
    method: &'static str,
}

/// One request: HEAD, then GET if HEAD is refused. The body is never read.
fn ask(agent: &ureq::Agent, url: &Url) -> Result<Answer, String> {
    let mut method = "HEAD";
    loop {
        let resp = match agent.request_url(method, url).call() {
            Ok(resp) => resp,
            Err(ureq::Error::Status(code, resp)) => {
                if method == "HEAD" && matches!(code, 405 | 501) {
                    method = "GET";
                    continue;
                }
                resp
            }
            Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
        };
        return Ok(Answer {
            status: resp.status(),
            status_text: resp.status_text().chars().take(100).collect(),
            location: resp.header("location").map(str::to_string),
            method,
        });
    }
}

/// A refused address as itself, other failures as ureq words them.
fn transport_error(t: &ureq::Transport) -> String {
    use std::error::Error as _;
    let refused = t
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(|e| e.get_ref())
        .and_then(|e| e.downcast_ref::<Refused>());
    match refused {
        Some(r) => r.0.clone(),
        None => match t.kind() {
            ureq::ErrorKind::Io if t.to_string().contains("timed out") => {
                "no answer in time (--link-check-timeout)".into()
            }
            _ => t.to_string(),
        },
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// What kind of address `ip` is, for [`Reach`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrKind {
    Public,
    Loopback,
    Private,
    /// Unspecified, multicast, broadcast, "this network": never reached.
    Never,
}

pub fn kind_of(ip: IpAddr) -> AddrKind {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || o[0] == 0 {
                AddrKind::Never
            } else if v4.is_loopback() {
                AddrKind::Loopback
            } else if v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
            {
                AddrKind::Private
            } else {
                AddrKind::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return kind_of(IpAddr::V4(v4));
            }
            let s0 = v6.segments()[0];
            if v6.is_unspecified() || v6.is_multicast() {
                AddrKind::Never
            } else if v6.is_loopback() {
                AddrKind::Loopback
            } else if (s0 & 0xfe00) == 0xfc00 || (s0 & 0xffc0) == 0xfe80 {
                AddrKind::Private
            } else {
                AddrKind::Public
            }
        }
    }
}

fn allowed(kind: AddrKind, reach: Reach) -> bool {
    match kind {
        AddrKind::Public => reach.public,
        AddrKind::Loopback => reach.loopback,
        AddrKind::Private => reach.private,
        AddrKind::Never => false,
    }
}

/// The resolver of every connection: DNS, then only the addresses `reach` allows.
fn resolve(netloc: &str, reach: Reach) -> io::Result<Vec<SocketAddr>> {
    let all: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    let ok: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| allowed(kind_of(a.ip()), reach))
        .collect();
    if ok.is_empty() {
        if let Some(first) = all.first() {
            let hint = match kind_of(first.ip()) {
                AddrKind::Loopback => " (--link-check-allow loopback reaches this machine)",
                AddrKind::Private => " (--link-check-allow private reaches the LAN)",
                AddrKind::Public => " (--link-check-allow public reaches the internet)",
                AddrKind::Never => "",
            };
            return Err(io::Error::other(Refused(format!(
                "address {} not allowed{hint}",
                first.ip()
            ))));
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_kinds() {
        let k = |s: &str| kind_of(s.parse().unwrap());
        assert_eq!(k("127.0.0.1"), AddrKind::Loopback);
        assert_eq!(k("::1"), AddrKind::Loopback);
        assert_eq!(k("::ffff:127.0.0.1"), AddrKind::Loopback);
        assert_eq!(k("10.1.2.3"), AddrKind::Private);
        assert_eq!(k("169.254.169.254"), AddrKind::Private);
        assert_eq!(k("100.64.0.1"), AddrKind::Private);
        assert_eq!(k("fd00::1"), AddrKind::Private);
        assert_eq!(k("0.0.0.0"), AddrKind::Never);
        assert_eq!(k("::"), AddrKind::Never);
        assert_eq!(k("93.184.216.34"), AddrKind::Public);
    }

    #[test]
    fn redirects_keep_to_http_and_refuse_loops() {
        let from = Url::parse("https://a.test/x").unwrap();
        assert!(next_hop(&from, "http://a.test/", &[], 1, 5)
            .unwrap_err()
            .contains("https to http"));
        assert!(next_hop(&from, "file:///etc/passwd", &[], 1, 5).is_err());
        assert!(next_hop(&from, "/y", &[], 6, 5)
            .unwrap_err()
            .contains("more than 5"));
        assert!(next_hop(&from, "/x", std::slice::from_ref(&from), 1, 5)
            .unwrap_err()
            .contains("loop"));
        let http = Url::parse("http://a.test/").unwrap();
        assert_eq!(
            next_hop(&http, "https://a.test/z", &[], 1, 5)
                .unwrap()
                .as_str(),
            "https://a.test/z"
        );
    }
}

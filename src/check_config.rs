//! Settings of the message checks (HTML, links, SpamAssassin): flags flattened into
//! [`crate::config::EngineArgs`], validated once into a [`ChecksConfig`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::config::ByteSize;
use crate::error::{Error, Result};

/// Which kinds of address the link check may connect to. Public addresses are the default; a
/// mail's links to this machine or the LAN are its sender's choice, not the user's, so reaching
/// them is opted into (`--link-check-allow public,loopback`). Unspecified (0.0.0.0, ::),
/// multicast and broadcast addresses are never reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach {
    pub public: bool,
    /// 127.0.0.0/8 and ::1.
    pub loopback: bool,
    /// RFC 1918, shared (100.64/10), link-local (169.254/16, cloud metadata), fc00::/7, fe80::/10.
    pub private: bool,
}

impl FromStr for Reach {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut r = Reach::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "public" => r.public = true,
                "loopback" => r.loopback = true,
                "private" => r.private = true,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown address kind {other:?}: use public, loopback, private or none"
                    ))
                }
            }
        }
        Ok(r)
    }
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.public, "public"),
            (self.loopback, "loopback"),
            (self.private, "private"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// The checks' flags, each also a `MAILIY_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ChecksArgs {
    /// HTML check: largest HTML part read (the rest is not checked, and the answer says so)
    #[arg(long, env = "MAILIY_HTML_CHECK_MAX_BYTES", default_value = "2MiB")]
    pub html_check_max_bytes: ByteSize,
    /// HTML check: most tags read
    #[arg(long, env = "MAILIY_HTML_CHECK_MAX_NODES", default_value_t = 50_000)]
    pub html_check_max_nodes: usize,
    /// HTML check: milliseconds one check may take
    #[arg(long, env = "MAILIY_HTML_CHECK_TIMEOUT_MS", default_value_t = 2000)]
    pub html_check_timeout_ms: u64,
    /// HTML check: places (line and snippet) listed per feature
    #[arg(long, env = "MAILIY_HTML_CHECK_MAX_PLACES", default_value_t = 5)]
    pub html_check_max_places: usize,

    /// Link check: addresses it may connect to, a list of public, loopback (this machine),
    /// private (LAN, link-local) or none
    #[arg(
        long,
        env = "MAILIY_LINK_CHECK_ALLOW",
        value_name = "KINDS",
        default_value = "public"
    )]
    pub link_check_allow: Reach,
    /// Link check: most distinct URLs checked per message (the rest are listed as not checked)
    #[arg(long, env = "MAILIY_LINK_CHECK_MAX_LINKS", default_value_t = 200)]
    pub link_check_max_links: usize,
    /// Link check: most redirects followed per URL
    #[arg(long, env = "MAILIY_LINK_CHECK_MAX_REDIRECTS", default_value_t = 5)]
    pub link_check_max_redirects: usize,
    /// Link check: seconds one request may take (connect, send, headers)
    #[arg(long, env = "MAILIY_LINK_CHECK_TIMEOUT", default_value_t = 5)]
    pub link_check_timeout: u64,
    /// Link check: seconds a whole check may take (URLs not reached by then are not checked)
    #[arg(long, env = "MAILIY_LINK_CHECK_TOTAL_TIMEOUT", default_value_t = 30)]
    pub link_check_total_timeout: u64,
    /// Link check: requests in flight at once
    #[arg(long, env = "MAILIY_LINK_CHECK_CONCURRENCY", default_value_t = 8)]
    pub link_check_concurrency: usize,

    /// Spam check: a SpamAssassin spamd to ask (HOST:PORT) [default: off]
    #[arg(long, env = "MAILIY_SPAMASSASSIN", value_name = "HOST:PORT")]
    pub spamassassin: Option<String>,
    /// Spam check: seconds spamd may take to answer
    #[arg(long, env = "MAILIY_SPAMASSASSIN_TIMEOUT", default_value_t = 20)]
    pub spamassassin_timeout: u64,
    /// Spam check: largest message sent to spamd (a larger one is not checked, as spamc does)
    #[arg(long, env = "MAILIY_SPAMASSASSIN_MAX_SIZE", default_value = "512KiB")]
    pub spamassassin_max_size: ByteSize,
    /// Spam check: largest answer read from spamd
    #[arg(long, env = "MAILIY_SPAMASSASSIN_MAX_ANSWER", default_value = "256KiB")]
    pub spamassassin_max_answer: ByteSize,
}

/// Bounds of the HTML check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlCheckConfig {
    pub max_bytes: usize,
    pub max_nodes: usize,
    pub timeout: Duration,
    pub max_places: usize,
}

/// Reach and bounds of the link check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCheckConfig {
    pub allow: Reach,
    pub max_links: usize,
    pub max_redirects: usize,
    pub timeout: Duration,
    pub total_timeout: Duration,
    pub concurrency: usize,
}

/// Where spamd is, when the spam check is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamCheckConfig {
    pub spamd: Option<SpamdAddr>,
    pub timeout: Duration,
    pub max_size: usize,
    pub max_answer: usize,
}

/// `HOST:PORT` of spamd, resolved when a check runs (a host name may move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamdAddr(pub String);

impl SpamdAddr {
    fn parse(s: &str) -> Result<SpamdAddr> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(SpamdAddr(a.to_string()));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(SpamdAddr(s.to_string()))
            }
            _ => Err(Error::InvalidInput(format!(
                "--spamassassin {s:?} is not HOST:PORT (e.g. 127.0.0.1:783)"
            ))),
        }
    }
}

impl fmt::Display for SpamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The checks' validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksConfig {
    pub html: HtmlCheckConfig,
    pub links: LinkCheckConfig,
    pub spam: SpamCheckConfig,
}

impl ChecksArgs {
    /// Validates the flags: zero bounds and an address that is not HOST:PORT are errors.
    pub fn resolve(&self) -> Result<ChecksConfig> {
        let positive = [
            self.html_check_max_nodes as u64,
            self.html_check_timeout_ms,
            self.html_check_max_bytes.0,
            self.link_check_max_links as u64,
            self.link_check_timeout,
            self.link_check_total_timeout,
            self.link_check_concurrency as u64,
            self.spamassassin_timeout,
            self.spamassassin_max_size.0,
            self.spamassassin_max_answer.0,
        ];
        if positive.contains(&0) {
            return Err(Error::InvalidInput(
                "the check settings (caps, timeouts, concurrency) must be above 0".into(),
            ));
        }
        let size = |b: ByteSize| usize::try_from(b.0).unwrap_or(usize::MAX);
        Ok(ChecksConfig {
            html: HtmlCheckConfig {
                max_bytes: size(self.html_check_max_bytes),
                max_nodes: self.html_check_max_nodes,
                timeout: Duration::from_millis(self.html_check_timeout_ms),
                max_places: self.html_check_max_places,
            },
            links: LinkCheckConfig {
                allow: self.link_check_allow,
                max_links: self.link_check_max_links,
                max_redirects: self.link_check_max_redirects,
                timeout: Duration::from_secs(self.link_check_timeout),
                total_timeout: Duration::from_secs(self.link_check_total_timeout),
                concurrency: self.link_check_concurrency,
            },
            spam: SpamCheckConfig {
                spamd: self
                    .spamassassin
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(SpamdAddr::parse)
                    .transpose()?,
                timeout: Duration::from_secs(self.spamassassin_timeout),
                max_size: size(self.spamassassin_max_size),
                max_answer: size(self.spamassassin_max_answer),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_parses_lists_and_refuses_unknown_kinds() {
        let r: Reach = "public, loopback".parse().unwrap();
        assert!(r.public && r.loopback && !r.private);
        assert_eq!(r.to_string(), "public,loopback");
        assert_eq!("none".parse::<Reach>().unwrap().to_string(), "none");
        assert!("intranet".parse::<Reach>().is_err());
    }

    #[test]
    fn spamd_address_must_be_host_and_port() {
        assert!(SpamdAddr::parse("127.0.0.1:783").is_ok());
        assert!(SpamdAddr::parse("spamd.local:783").is_ok());
        assert!(SpamdAddr::parse("spamd.local").is_err());
        assert!(SpamdAddr::parse(":783").is_err());
    }
}

//! The relay's settings (`--smtp-relay*`): where released and automatically relayed mail goes,
//! how it logs in, and which recipients it may reach. Validated once, like every setting.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
const DEFAULT_ATTEMPTS: u32 = 12;
const DEFAULT_BACKOFF_MAX_SECONDS: u64 = 300;

/// The relay's flags, flattened into [`crate::config::EngineArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct RelayArgs {
    /// Relay: the SMTP server that released (and automatically relayed) mail goes to, HOST:PORT
    /// [default: off]
    #[arg(long, env = "MAILIY_SMTP_RELAY", value_name = "HOST:PORT")]
    pub smtp_relay: Option<String>,
    /// Relay: STARTTLS before sending (required: fails if the server does not offer it)
    #[arg(
        long,
        env = "MAILIY_SMTP_RELAY_STARTTLS",
        conflicts_with = "smtp_relay_tls"
    )]
    pub smtp_relay_starttls: bool,
    /// Relay: implicit TLS (the port-465 style)
    #[arg(long, env = "MAILIY_SMTP_RELAY_TLS")]
    pub smtp_relay_tls: bool,
    /// Relay: trust this CA certificate (PEM) besides the usual roots, for a relay with its own
    /// certificate
    #[arg(long, env = "MAILIY_SMTP_RELAY_TLS_CA", value_name = "PEM")]
    pub smtp_relay_tls_ca: Option<PathBuf>,
    /// Relay: AUTH user name [default: no AUTH]
    #[arg(long, env = "MAILIY_SMTP_RELAY_USER")]
    pub smtp_relay_user: Option<String>,
    /// Relay: AUTH password (prefer --smtp-relay-password-file: a flag shows in `ps`)
    #[arg(
        long,
        env = "MAILIY_SMTP_RELAY_PASSWORD",
        conflicts_with = "smtp_relay_password_file",
        hide_env_values = true
    )]
    pub smtp_relay_password: Option<String>,
    /// Relay: a file holding the AUTH password (its first line)
    #[arg(long, env = "MAILIY_SMTP_RELAY_PASSWORD_FILE", value_name = "FILE")]
    pub smtp_relay_password_file: Option<PathBuf>,
    /// Relay: recipients mail may be released to, comma-separated: an address, `*@domain` or
    /// `*` (any)
    #[arg(
        long,
        env = "MAILIY_SMTP_RELAY_ALLOW",
        value_name = "LIST",
        default_value = "*"
    )]
    pub smtp_relay_allow: String,
    /// Relay: send every new message matching this search query (or `all`) on by itself, to its
    /// envelope recipients [default: off]
    #[arg(long, env = "MAILIY_SMTP_RELAY_AUTO", value_name = "QUERY|all")]
    pub smtp_relay_auto: Option<String>,
    /// Relay: seconds one relay connection may take (connect, TLS, the whole transaction)
    #[arg(long, env = "MAILIY_SMTP_RELAY_TIMEOUT", default_value_t = DEFAULT_TIMEOUT_SECONDS)]
    pub smtp_relay_timeout: u64,
    /// Relay: attempts of an automatic relay before it is given up (1 s, 2 s, 4 s … apart, up
    /// to --smtp-relay-backoff-max; the default spans about 18 minutes of relay outage)
    #[arg(long, env = "MAILIY_SMTP_RELAY_ATTEMPTS", default_value_t = DEFAULT_ATTEMPTS)]
    pub smtp_relay_attempts: u32,
    /// Relay: longest pause, in seconds, between two attempts of an automatic relay
    #[arg(
        long,
        env = "MAILIY_SMTP_RELAY_BACKOFF_MAX",
        default_value_t = DEFAULT_BACKOFF_MAX_SECONDS
    )]
    pub smtp_relay_backoff_max: u64,
}

/// How the relay connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySecurity {
    Plain,
    StartTls,
    Implicit,
}

/// The validated relay settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    pub security: RelaySecurity,
    pub ca: Option<PathBuf>,
    /// User and password, when the relay wants AUTH.
    pub login: Option<(String, String)>,
    pub allow: Vec<String>,
    /// The search query (`None` in it: every message) of automatic relay, when on.
    pub auto: Option<Option<String>>,
    pub timeout: Duration,
    pub attempts: u32,
    /// Longest pause between two attempts of an automatic relay.
    pub backoff_max: Duration,
}

impl RelayConfig {
    /// Whether `address` is one mail may be released to.
    pub fn allows(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        self.allow.iter().any(|rule| match rule.strip_prefix("*@") {
            _ if rule == "*" => true,
            Some(domain) => address.rsplit_once('@').is_some_and(|(_, d)| d == domain),
            None => *rule == address,
        })
    }
}

impl RelayArgs {
    /// The relay's config, `None` when no relay is set.
    pub fn resolve(self) -> Result<Option<RelayConfig>> {
        let invalid = |m: String| Err(Error::InvalidInput(m));
        let Some(target) = self.smtp_relay else {
            if self.smtp_relay_auto.is_some() {
                return invalid("--smtp-relay-auto needs --smtp-relay HOST:PORT".into());
            }
            return Ok(None);
        };
        let Some((host, port)) = target.rsplit_once(':') else {
            return invalid(format!("--smtp-relay {target:?}: expected HOST:PORT"));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 && !host.is_empty() => p,
            _ => return invalid(format!("--smtp-relay {target:?}: expected HOST:PORT")),
        };
        let password = match (self.smtp_relay_password, self.smtp_relay_password_file) {
            (Some(p), _) => Some(p),
            (None, Some(path)) => {
                let read = std::fs::read_to_string(&path).map_err(|e| {
                    Error::InvalidInput(format!(
                        "--smtp-relay-password-file {}: {e}",
                        path.display()
                    ))
                })?;
                Some(read.lines().next().unwrap_or_default().to_string())
            }
            (None, None) => None,
        };
        let login =
            match (self.smtp_relay_user, password) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) => None,
                _ => return invalid(
                    "--smtp-relay-user and a password (--smtp-relay-password or -file) go together"
                        .into(),
                ),
            };
        let allow: Vec<String> = self
            .smtp_relay_allow
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if allow.is_empty() {
            return invalid("--smtp-relay-allow names no recipient (use * for any)".into());
        }
        let auto = match self.smtp_relay_auto.as_deref().map(str::trim) {
            None => None,
            Some("all") => Some(None),
            Some(q) => {
                crate::query::parse(q)?;
                Some(Some(q.to_string()))
            }
        };
        if self.smtp_relay_timeout == 0
            || self.smtp_relay_attempts == 0
            || self.smtp_relay_backoff_max == 0
        {
            return invalid(
                "--smtp-relay-timeout, --smtp-relay-attempts and --smtp-relay-backoff-max must be at least 1"
                    .into(),
            );
        }
        let security = match (self.smtp_relay_starttls, self.smtp_relay_tls) {
            (_, true) => RelaySecurity::Implicit,
            (true, false) => RelaySecurity::StartTls,
            (false, false) => RelaySecurity::Plain,
        };
        Ok(Some(RelayConfig {
            host,
            port,
            security,
            ca: self.smtp_relay_tls_ca,
            login,
            allow,
            auto,
            timeout: Duration::from_secs(self.smtp_relay_timeout),
            attempts: self.smtp_relay_attempts,
            backoff_max: Duration::from_secs(self.smtp_relay_backoff_max),
        }))
    }
}

/// The relay as a run-time setting (`relay` in `/v1/settings`), in the API's JSON shape. The
/// password is write-only: the API shows only whether one is set. The CA certificate stays a
/// start-up flag (a path on this machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelaySettings {
    /// `HOST:PORT`, or null: no relay.
    pub target: Option<String>,
    /// `plain`, `starttls` or `tls` (implicit TLS).
    pub security: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Comma-separated: an address, `*@domain` or `*`.
    pub allow: String,
    /// The automatic relay's query, `all`, or null: off.
    pub auto: Option<String>,
    pub timeout_seconds: u64,
    pub attempts: u32,
    pub backoff_max_seconds: u64,
}

impl RelaySettings {
    /// The setting a run's flags imply (the defaults when no relay is set).
    pub fn from_config(relay: Option<&RelayConfig>) -> RelaySettings {
        let Some(c) = relay else {
            return RelaySettings {
                target: None,
                security: "plain".into(),
                user: None,
                password: None,
                allow: "*".into(),
                auto: None,
                timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
                attempts: DEFAULT_ATTEMPTS,
                backoff_max_seconds: DEFAULT_BACKOFF_MAX_SECONDS,
            };
        };
        let host = if c.host.contains(':') {
            format!("[{}]", c.host)
        } else {
            c.host.clone()
        };
        RelaySettings {
            target: Some(format!("{host}:{}", c.port)),
            security: match c.security {
                RelaySecurity::Plain => "plain",
                RelaySecurity::StartTls => "starttls",
                RelaySecurity::Implicit => "tls",
            }
            .into(),
            user: c.login.as_ref().map(|(u, _)| u.clone()),
            password: c.login.as_ref().map(|(_, p)| p.clone()),
            allow: c.allow.join(","),
            auto: c
                .auto
                .as_ref()
                .map(|q| q.clone().unwrap_or_else(|| "all".into())),
            timeout_seconds: c.timeout.as_secs(),
            attempts: c.attempts,
            backoff_max_seconds: c.backoff_max.as_secs(),
        }
    }

    /// The relay these settings describe (validated as the flags are), `None` without a
    /// target; `ca` is the start-up `--smtp-relay-tls-ca`.
    pub fn resolve(&self, ca: Option<PathBuf>) -> Result<Option<RelayConfig>> {
        let (starttls, tls) = match self.security.as_str() {
            "plain" => (false, false),
            "starttls" => (true, false),
            "tls" => (false, true),
            other => {
                return Err(Error::InvalidInput(format!(
                    "relay.security {other:?}: expected plain, starttls or tls"
                )))
            }
        };
        let blank = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        RelayArgs {
            smtp_relay: blank(&self.target),
            smtp_relay_starttls: starttls,
            smtp_relay_tls: tls,
            smtp_relay_tls_ca: ca,
            smtp_relay_user: blank(&self.user),
            smtp_relay_password: self
                .password
                .clone()
                .filter(|_| blank(&self.user).is_some()),
            smtp_relay_password_file: None,
            smtp_relay_allow: self.allow.clone(),
            smtp_relay_auto: blank(&self.auto),
            smtp_relay_timeout: self.timeout_seconds,
            smtp_relay_attempts: self.attempts,
            smtp_relay_backoff_max: self.backoff_max_seconds,
        }
        .resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(relay: &str, allow: &str) -> RelayArgs {
        RelayArgs {
            smtp_relay: Some(relay.into()),
            smtp_relay_starttls: false,
            smtp_relay_tls: false,
            smtp_relay_tls_ca: None,
            smtp_relay_user: None,
            smtp_relay_password: None,
            smtp_relay_password_file: None,
            smtp_relay_allow: allow.into(),
            smtp_relay_auto: None,
            smtp_relay_timeout: 30,
            smtp_relay_attempts: 12,
            smtp_relay_backoff_max: 300,
        }
    }

    #[test]
    fn the_allow_list_takes_addresses_domains_and_any() {
        let c = args("relay.test:25", "a@x.test, *@y.test")
            .resolve()
            .unwrap()
            .unwrap();
        assert!(c.allows("A@X.test"));
        assert!(c.allows("b@y.test"));
        assert!(!c.allows("b@x.test"));
        assert!(!c.allows("b@evil-y.test"));
        let any = args("[::1]:2525", "*").resolve().unwrap().unwrap();
        assert_eq!((any.host.as_str(), any.port), ("::1", 2525));
        assert!(any.allows("whoever@wherever.test"));
    }

    #[test]
    fn bad_targets_and_lone_credentials_are_refused() {
        assert!(args("relay.test", "*").resolve().is_err());
        assert!(args("relay.test:0", "*").resolve().is_err());
        assert!(args("relay.test:25", " , ").resolve().is_err());
        let mut lone = args("relay.test:25", "*");
        lone.smtp_relay_user = Some("me".into());
        assert!(lone.resolve().is_err());
        let mut bad_query = args("relay.test:25", "*");
        bad_query.smtp_relay_auto = Some("from:\"unclosed".into());
        assert!(bad_query.resolve().is_err());
    }

    #[test]
    fn the_setting_round_trips_the_flags_relay() {
        let mut a = args("[::1]:2525", "a@x.test,*@y.test");
        a.smtp_relay_starttls = true;
        a.smtp_relay_user = Some("me".into());
        a.smtp_relay_password = Some("pw".into());
        a.smtp_relay_auto = Some("all".into());
        let flags = a.resolve().unwrap().unwrap();
        let setting = RelaySettings::from_config(Some(&flags));
        assert_eq!(setting.target.as_deref(), Some("[::1]:2525"));
        assert_eq!(setting.resolve(None).unwrap(), Some(flags));
        let off = RelaySettings::from_config(None);
        assert_eq!(off.resolve(None).unwrap(), None);
        let mut bad = off.clone();
        bad.target = Some("relay.test:25".into());
        bad.security = "ssl".into();
        assert!(bad.resolve(None).is_err());
    }
}

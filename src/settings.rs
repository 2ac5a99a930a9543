//! Settings that change while the engine runs (API.md, Settings): the listeners' addresses, the
//! catch-all, mailbox defaults and the desktop's notification choices.
//!
//! Values come from three layers, last wins: built-in defaults, the store, and flags or
//! `MAILIY_*` variables given for this run. A setting given that way is *pinned*: shown, but not
//! editable until the next run without it, so tests and packagers can fix ports and tiers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{Config, Pinned, Tier, PINNABLE};
use crate::error::{Error, Result};
use crate::relay_config::RelaySettings;

/// The editable settings, in the API's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// SMTP listener address; changing it restarts the SMTP listener.
    pub smtp: SocketAddr,
    /// HTTP listener address (API and UI); changing it restarts the HTTP listener.
    pub http: SocketAddr,
    /// Accept mail to any address, making its mailbox of this tier on first mail.
    pub catch_all: Option<Tier>,
    pub default_tier: Tier,
    pub default_ttl_minutes: u32,
    pub notifications: Notifications,
    /// Start the desktop app when the user logs in (the shell applies it).
    pub start_at_login: bool,
    /// Where released and automatically relayed mail goes; its password is write-only.
    pub relay: RelaySettings,
}

/// What the desktop shell shows for new mail (the engine only stores these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notifications {
    pub enabled: bool,
    /// Off: notifications say only "New mail", for privacy.
    pub show_sender_and_subject: bool,
    /// Warn 5 minutes before a mailbox with unread mail expires.
    pub expiry_warning: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            enabled: true,
            show_sender_and_subject: true,
            expiry_warning: true,
        }
    }
}

impl Settings {
    /// The settings a config implies, before anything stored is applied.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            smtp: config.smtp_addr,
            http: config.http_addr,
            catch_all: config.catch_all,
            default_tier: config.default_tier,
            default_ttl_minutes: config.default_ttl_minutes,
            notifications: Notifications::default(),
            start_at_login: false,
            relay: RelaySettings::from_config(config.relay.as_ref()),
        }
    }

    /// Either listener reachable from other hosts: every request then needs the token.
    pub fn lan_mode(&self) -> bool {
        !self.smtp.ip().is_loopback() || !self.http.ip().is_loopback()
    }

    /// `base` with the stored values laid over it, except pinned ones. A stored value that no
    /// longer fits (an older version's, edited by hand) is skipped with a warning, not fatal.
    pub fn with_stored(base: Settings, stored: &[(String, String)], pinned: &Pinned) -> Settings {
        let mut current = base;
        for (key, raw) in stored {
            if pinned.contains(key) {
                continue;
            }
            let applied = serde_json::from_str::<Value>(raw)
                .map_err(|e| Error::InvalidInput(e.to_string()))
                .and_then(|value| {
                    let mut patch = Map::new();
                    patch.insert(key.clone(), value);
                    current.merged(&patch)
                });
            match applied {
                Ok(next) => current = next,
                Err(e) => tracing::warn!(setting = %key, error = %e, "stored setting ignored"),
            }
        }
        current
    }

    /// These settings with `patch` applied: unknown keys and bad values are refused, objects
    /// merge one level deep, and `lanMode` moves both listeners between loopback and all
    /// interfaces, keeping their ports.
    pub fn merged(&self, patch: &Map<String, Value>) -> Result<Settings> {
        let mut json = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Error::InvalidInput("settings are not an object".into())),
        };
        for (key, value) in patch {
            if key == "lanMode" {
                let Some(on) = value.as_bool() else {
                    return Err(Error::InvalidInput("lanMode must be true or false".into()));
                };
                let ip = if on {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                };
                for name in ["smtp", "http"] {
                    if patch.contains_key(name) {
                        continue;
                    }
                    let port = if name == "smtp" {
                        self.smtp.port()
                    } else {
                        self.http.port()
                    };
                    json.insert(
                        name.into(),
                        Value::String(SocketAddr::new(ip, port).to_string()),
                    );
                }
                continue;
            }
            match (json.get_mut(key), value) {
                (None, _) => {
                    return Err(Error::InvalidInput(format!(
                        "{key:?} is not a setting that can be changed"
                    )))
                }
                (Some(Value::Object(old)), Value::Object(new)) => {
                    for (k, v) in new {
                        if !old.contains_key(k) {
                            return Err(Error::InvalidInput(format!(
                                "\"{key}.{k}\" is not a setting that can be changed"
                            )));
                        }
                        old.insert(k.clone(), v.clone());
                    }
                }
                (Some(slot), v) => *slot = v.clone(),
            }
        }
        let next: Settings = serde_json::from_value(Value::Object(json))
            .map_err(|e| Error::InvalidInput(format!("invalid setting: {e}")))?;
        next.validate_against(self)?;
        Ok(next)
    }

    /// Checks what changed from `old`: a run may have started on port 0, a new value may not.
    fn validate_against(&self, old: &Settings) -> Result<()> {
        if self.default_ttl_minutes == 0 {
            return Err(Error::InvalidInput(
                "defaultTtlMinutes must be at least 1".into(),
            ));
        }
        for (name, addr, was) in [("smtp", self.smtp, old.smtp), ("http", self.http, old.http)] {
            if addr != was && addr.port() == 0 {
                return Err(Error::InvalidInput(format!(
                    "{name} needs a fixed port (1-65535)"
                )));
            }
        }
        if self.relay != old.relay {
            self.relay.resolve(None)?;
        }
        let moved = self.smtp != old.smtp || self.http != old.http;
        if moved && self.smtp == self.http {
            return Err(Error::InvalidInput(
                "smtp and http cannot share one address".into(),
            ));
        }
        Ok(())
    }

    /// The top-level keys whose values differ, with the new values as stored JSON.
    pub fn changes_from(&self, old: &Settings) -> Vec<(String, String)> {
        let (Ok(Value::Object(new)), Ok(Value::Object(old))) =
            (serde_json::to_value(self), serde_json::to_value(old))
        else {
            return Vec::new();
        };
        new.into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    }
}

/// Refuses a patch that touches a pinned setting, naming the flag that pins it.
pub fn check_not_pinned(patch: &Map<String, Value>, pinned: &Pinned) -> Result<()> {
    let touched = patch.keys().flat_map(|k| {
        if k == "lanMode" {
            vec!["smtp", "http"]
        } else {
            vec![k.as_str()]
        }
    });
    for key in touched {
        if pinned.contains(key) {
            let flag = PINNABLE
                .iter()
                .find(|(name, _, _)| *name == key)
                .map_or("a flag", |(_, _, flag)| flag);
            return Err(Error::Pinned(format!(
                "{key} is set by {flag} for this run; restart without it to change it here"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Settings {
        Settings::from_config(&Config::with_data_dir("/tmp/x".into()))
    }

    fn patch(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test patches are objects"),
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let s = base();
        let next = s
            .merged(&patch(
                json!({"catchAll": "free", "notifications": {"enabled": false}}),
            ))
            .unwrap();
        assert_eq!(next.catch_all, Some(Tier::Free));
        assert!(!next.notifications.enabled);
        assert!(next.notifications.expiry_warning);
        assert_eq!(next.smtp, s.smtp);
        let changed: Vec<String> = next.changes_from(&s).into_iter().map(|c| c.0).collect();
        assert_eq!(changed, ["catchAll", "notifications"]);
    }

    #[test]
    fn lan_mode_moves_both_listeners_and_keeps_ports() {
        let s = base();
        assert!(!s.lan_mode());
        let lan = s.merged(&patch(json!({"lanMode": true}))).unwrap();
        assert_eq!(lan.smtp.to_string(), "0.0.0.0:1025");
        assert_eq!(lan.http.to_string(), "0.0.0.0:8025");
        assert!(lan.lan_mode());
        let back = lan.merged(&patch(json!({"lanMode": false}))).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn bad_patches_are_refused_with_the_reason() {
        let s = base();
        for (p, needle) in [
            (json!({"colour": "red"}), "\"colour\" is not a setting"),
            (
                json!({"notifications": {"sound": true}}),
                "notifications.sound",
            ),
            (json!({"defaultTier": "gold"}), "invalid setting"),
            (json!({"defaultTtlMinutes": 0}), "at least 1"),
            (json!({"smtp": "127.0.0.1:0"}), "fixed port"),
            (json!({"smtp": "127.0.0.1:8025"}), "share one address"),
            (json!({"lanMode": "yes"}), "true or false"),
        ] {
            let err = s.merged(&patch(p.clone())).unwrap_err().to_string();
            assert!(err.contains(needle), "{p}: {err}");
        }
    }

    #[test]
    fn stored_values_apply_unless_pinned_or_unreadable() {
        let stored = vec![
            ("catchAll".to_string(), "\"pro\"".to_string()),
            ("defaultTtlMinutes".to_string(), "\"many\"".to_string()),
            ("smtp".to_string(), "\"127.0.0.1:2525\"".to_string()),
        ];
        let pinned: Pinned = ["smtp".to_string()].into();
        let s = Settings::with_stored(base(), &stored, &pinned);
        assert_eq!(s.catch_all, Some(Tier::Pro));
        assert_eq!(s.default_ttl_minutes, 60);
        assert_eq!(s.smtp.port(), 1025);
        let err = check_not_pinned(&patch(json!({"lanMode": true})), &pinned).unwrap_err();
        assert!(err.to_string().contains("--smtp / MAILIY_SMTP"), "{err}");
        assert!(check_not_pinned(&patch(json!({"catchAll": null})), &pinned).is_ok());
    }
}

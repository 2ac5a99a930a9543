//! Pause intake: while paused, every new SMTP session is answered with one reply (by default
//! `421 4.3.2`) and closed, so senders queue their mail and retry later. Memory only: a restart
//! takes mail again, so a forgotten pause cannot silently drop a day's mail.

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EventKind;

/// The reply a paused server gives when none is chosen.
pub const DEFAULT_PAUSE_CODE: u16 = 421;
pub const DEFAULT_PAUSE_TEXT: &str = "4.3.2 Intake paused, try again later";
/// Longest reply text taken (one SMTP line, well inside the 512-byte reply limit).
const MAX_TEXT: usize = 200;

/// Whether new SMTP sessions are taken, and what they hear while they are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Intake {
    pub paused: bool,
    /// The reply code of a paused server (4xx: senders retry; 5xx: they give up).
    pub code: u16,
    pub text: String,
    /// When the pause began (RFC 3339), while paused.
    pub paused_at: Option<String>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            paused: false,
            code: DEFAULT_PAUSE_CODE,
            text: DEFAULT_PAUSE_TEXT.into(),
            paused_at: None,
        }
    }
}

impl Intake {
    /// The line a new session gets while paused, CRLF included; `None` when intake is open.
    pub fn refusal(&self) -> Option<String> {
        self.paused
            .then(|| format!("{} {}\r\n", self.code, self.text))
    }
}

/// A change asked for by `PUT /v1/intake`: fields left out keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntakeChange {
    pub paused: Option<bool>,
    pub code: Option<u16>,
    pub text: Option<String>,
}

impl IntakeChange {
    fn apply(self, mut intake: Intake) -> Result<Intake> {
        if let Some(code) = self.code {
            if !(400..=599).contains(&code) {
                return Err(Error::InvalidInput(
                    "code must be an SMTP 4xx or 5xx reply code".into(),
                ));
            }
            intake.code = code;
        }
        if let Some(text) = self.text {
            let text = text.trim().to_string();
            if text.is_empty() || text.len() > MAX_TEXT || text.chars().any(char::is_control) {
                return Err(Error::InvalidInput(format!(
                    "text must be one line of 1 to {MAX_TEXT} bytes"
                )));
            }
            intake.text = text;
        }
        match self.paused {
            Some(true) if !intake.paused => {
                intake.paused = true;
                intake.paused_at = Some(crate::clock::to_rfc3339(crate::clock::now_ms()));
            }
            Some(false) => {
                intake.paused = false;
                intake.paused_at = None;
            }
            _ => {}
        }
        Ok(intake)
    }
}

impl Engine {
    /// Whether intake is paused now, and with which reply.
    pub fn intake(&self) -> Intake {
        self.inner.intake.borrow().clone()
    }

    /// Sees every pause and resume (the desktop tray follows it).
    pub fn subscribe_intake(&self) -> tokio::sync::watch::Receiver<Intake> {
        self.inner.intake.subscribe()
    }

    /// Pauses or resumes intake (and sets its reply); announces `intake.updated` on a change.
    pub fn set_intake(&self, change: IntakeChange) -> Result<Intake> {
        let next = change.apply(self.intake())?;
        let changed = self.inner.intake.send_if_modified(|now| {
            let differs = *now != next;
            if differs {
                *now = next.clone();
            }
            differs
        });
        if changed {
            tracing::info!(paused = next.paused, code = next.code, "intake changed");
            let intake = serde_json::to_value(&next).unwrap_or_default();
            self.events().publish(EventKind::IntakeUpdated { intake });
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_keeps_its_start_and_a_resume_clears_it() {
        let paused = IntakeChange {
            paused: Some(true),
            ..Default::default()
        }
        .apply(Intake::default())
        .unwrap();
        assert_eq!(
            paused.refusal().as_deref(),
            Some("421 4.3.2 Intake paused, try again later\r\n")
        );
        let started = paused.paused_at.clone();
        assert!(started.is_some());
        let again = IntakeChange {
            paused: Some(true),
            ..Default::default()
        }
        .apply(paused)
        .unwrap();
        assert_eq!(again.paused_at, started);
        let resumed = IntakeChange {
            paused: Some(false),
            ..Default::default()
        }
        .apply(again)
        .unwrap();
        assert_eq!(resumed.refusal(), None);
    }

    #[test]
    fn bad_codes_and_multi_line_texts_are_refused() {
        for change in [
            IntakeChange {
                code: Some(250),
                ..Default::default()
            },
            IntakeChange {
                text: Some("a\r\n250 ok".into()),
                ..Default::default()
            },
            IntakeChange {
                text: Some(" ".into()),
                ..Default::default()
            },
        ] {
            assert!(change.apply(Intake::default()).is_err());
        }
    }
}

//! Desktop notifications (freedesktop D-Bus through notify-rust): one per new message, with the
//! sender and subject unless the privacy setting hides them, never the body; a "Copy code"
//! action when the message has a one-time code; a click opens the message. Mail arriving in a
//! burst is grouped: the first message of a quiet spell is shown at once, the rest of the burst
//! window becomes one "N new messages" notification, so 100 mails a second raise one
//! notification per window, not a hundred. Also: a warning before a mailbox with unread mail
//! expires, and the notices of start-up (a moved port).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use mailiy::clock::{now_ms, parse_rfc3339};
use mailiy::events::{Event, EventKind};
use mailiy::mime::Address;
use notify_rust::{Notification, NotificationResponse};
use tokio::runtime::Runtime;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::ui::UiCommand;
use crate::{lock, Action, Shell};

/// Longest subject shown; a notification is a glance.
const MAX_SUBJECT_CHARS: usize = 120;

/// What one notification says and does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    /// Plain text (escaped for servers that read markup when sent).
    pub body: String,
    /// The UI route a click opens (`#/mailbox/ID/message/MID`).
    pub open: Option<String>,
    /// The one-time code behind "Copy code".
    pub code: Option<String>,
}

/// A new message, as much of it as a notification may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub mailbox_id: String,
    pub message_id: String,
    pub from: Option<Address>,
    pub subject: String,
}

/// What to notify about after grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    One(Arrival),
    /// `count` messages; `mailbox` is set when they all went to one mailbox.
    Many {
        count: u64,
        mailbox: Option<String>,
    },
}

impl Note {
    pub fn message(a: &Arrival, code: Option<String>, details: bool) -> Note {
        let (summary, body) = if details {
            let sender = a
                .from
                .as_ref()
                .map(|f| match f.name.as_deref().map(str::trim) {
                    Some(name) if !name.is_empty() => name.to_string(),
                    _ => f.address.clone(),
                })
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "Unknown sender".into());
            let subject = match a.subject.trim() {
                "" => "(no subject)".to_string(),
                s => shorten(s, MAX_SUBJECT_CHARS),
            };
            (one_line(&sender), escape(&one_line(&subject)))
        } else {
            ("New mail".to_string(), String::new())
        };
        Note {
            summary,
            body,
            open: Some(format!(
                "#/mailbox/{}/message/{}",
                a.mailbox_id, a.message_id
            )),
            code,
        }
    }

    pub fn group(count: u64, mailbox: Option<&str>) -> Note {
        Note {
            summary: format!("{count} new messages"),
            body: String::new(),
            open: Some(mailbox.map_or("#/".into(), |m| format!("#/mailbox/{m}"))),
            code: None,
        }
    }

    pub fn expiring(address: &str, mailbox_id: &str, unread: u64, ms_left: i64) -> Note {
        let minutes = (ms_left.max(0) + 59_999) / 60_000;
        let unread = match unread {
            1 => "1 unread message".to_string(),
            n => format!("{n} unread messages"),
        };
        Note {
            summary: format!("Mailbox expires in {minutes} min"),
            body: escape(&format!(
                "{address} has {unread}; after it expires they are gone for good."
            )),
            open: Some(format!("#/mailbox/{mailbox_id}")),
            code: None,
        }
    }

    pub fn address_copied(address: &str, mailbox_id: &str) -> Note {
        Note {
            summary: "New address copied".into(),
            body: escape(address),
            open: Some(format!("#/mailbox/{mailbox_id}")),
            code: None,
        }
    }

    pub fn failure(summary: &str, detail: &str) -> Note {
        Note {
            summary: summary.into(),
            body: escape(detail),
            open: None,
            code: None,
        }
    }
}

/// The notification grouper: the first arrival after a quiet spell is shown at once and opens
/// a window; arrivals inside it wait, and at its end become one batch (which opens the next
/// window). At most one notification per window, however fast mail comes.
#[derive(Debug)]
pub struct Grouper {
    window: Duration,
    open_until: Option<Instant>,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    count: u64,
    first: Arrival,
    /// Still one mailbox for the whole group?
    one_mailbox: bool,
}

impl Grouper {
    pub fn new(window: Duration) -> Grouper {
        Grouper {
            window,
            open_until: None,
            pending: None,
        }
    }

    /// An arrival at `now`: shown now, or held for the window's end.
    pub fn push(&mut self, now: Instant, a: Arrival) -> Option<Batch> {
        match self.open_until {
            Some(until) if now < until => {
                match &mut self.pending {
                    Some(p) => {
                        p.count += 1;
                        p.one_mailbox &= p.first.mailbox_id == a.mailbox_id;
                    }
                    None => {
                        self.pending = Some(Pending {
                            count: 1,
                            first: a,
                            one_mailbox: true,
                        })
                    }
                }
                None
            }
            _ => {
                self.open_until = Some(now + self.window);
                Some(Batch::One(a))
            }
        }
    }

    /// When [`Grouper::tick`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.open_until
    }

    /// At the window's end: the held arrivals as one batch (opening a new window), or nothing
    /// (and the window closes).
    pub fn tick(&mut self, now: Instant) -> Option<Batch> {
        match self.open_until {
            Some(until) if now >= until => match self.pending.take() {
                Some(p) => {
                    self.open_until = Some(now + self.window);
                    Some(if p.count == 1 {
                        Batch::One(p.first)
                    } else {
                        Batch::Many {
                            count: p.count,
                            mailbox: p.one_mailbox.then_some(p.first.mailbox_id),
                        }
                    })
                }
                None => {
                    self.open_until = None;
                    None
                }
            },
            _ => None,
        }
    }
}

/// Notifications still answering clicks; the oldest are let go beyond the configured number.
#[derive(Default)]
pub struct Outstanding(std::sync::Mutex<VecDeque<JoinHandle<()>>>);

/// Starts the new-mail notifier and the expiry warner.
pub fn spawn(runtime: &Runtime, shell: &Arc<Shell>) {
    runtime.spawn(notify_new_mail(shell.clone()));
    runtime.spawn(warn_before_expiry(shell.clone()));
}

fn wanted(shell: &Shell) -> bool {
    shell.engine.settings().notifications.enabled && !shell.notifications_paused()
}

async fn notify_new_mail(shell: Arc<Shell>) {
    // Everything since the engine started, then live: mail that came in while the app was
    // still starting up is announced too.
    let (mut events, replay) = shell.engine.events().subscribe_after(0);
    let mut backlog: VecDeque<Arc<Event>> = replay.events.into();
    let mut grouper = Grouper::new(Duration::from_millis(shell.options.notify_group_ms));
    loop {
        // `None`: the grouping window ended.
        let received = match (backlog.pop_front(), grouper.deadline()) {
            (Some(e), _) => Some(Ok(e)),
            (None, Some(at)) => tokio::select! {
                r = events.recv() => Some(r),
                _ = tokio::time::sleep_until(at) => None,
            },
            (None, None) => Some(events.recv().await),
        };
        let batch = match received.map(arrival) {
            None => grouper.tick(Instant::now()),
            Some(Next::Arrival(a)) if wanted(&shell) => grouper.push(Instant::now(), a),
            Some(Next::Closed) => return,
            Some(_) => None,
        };
        let details = shell
            .engine
            .settings()
            .notifications
            .show_sender_and_subject;
        let note = match batch {
            Some(Batch::One(a)) => {
                let code = first_code(&shell, &a).await;
                Note::message(&a, code, details)
            }
            Some(Batch::Many { count, mailbox }) => Note::group(count, mailbox.as_deref()),
            None => continue,
        };
        tell(&shell, note);
    }
}

enum Next {
    Arrival(Arrival),
    Other,
    Closed,
}

fn arrival(r: Result<Arc<Event>, RecvError>) -> Next {
    match r {
        Ok(e) => match &e.kind {
            EventKind::MessageReceived {
                mailbox_id,
                message,
            } => Next::Arrival(Arrival {
                mailbox_id: mailbox_id.clone(),
                message_id: message.id.clone(),
                from: message.from.clone(),
                subject: message.subject.clone(),
            }),
            _ => Next::Other,
        },
        Err(RecvError::Lagged(n)) => {
            tracing::warn!(missed = n, "notifications fell behind the event bus");
            Next::Other
        }
        Err(RecvError::Closed) => Next::Closed,
    }
}

/// The message's best one-time code (read from the store: events carry summaries only).
async fn first_code(shell: &Shell, a: &Arrival) -> Option<String> {
    let full = shell
        .engine
        .store()
        .message(a.mailbox_id.clone(), a.message_id.clone())
        .await
        .ok()
        .flatten()?;
    mailiy::extract::codes(&full.summary.subject, full.text.as_deref())
        .into_iter()
        .next()
}

/// Warns about a mailbox with unread mail when the engine announces it is about to expire
/// (`--expiry-warning-minutes` before, once per expiry: the engine's policy).
async fn warn_before_expiry(shell: Arc<Shell>) {
    // From the engine's start: an announcement made while the app was starting counts too.
    let (mut events, replay) = shell.engine.events().subscribe_after(0);
    let mut backlog: VecDeque<Arc<Event>> = replay.events.into();
    loop {
        let event = match backlog.pop_front() {
            Some(e) => e,
            None => match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        };
        let EventKind::MailboxExpiring { mailbox: m } = &event.kind else {
            continue;
        };
        let on = shell.engine.settings().notifications.expiry_warning && wanted(&shell);
        if !on || m.unread_count == 0 {
            continue;
        }
        let left = parse_rfc3339(&m.expires_at).map_or(0, |at| at - now_ms());
        tell(
            &shell,
            Note::expiring(&m.address, &m.id, m.unread_count, left),
        );
    }
}

/// Announces start-up notices (a port that moved) once, as notifications.
pub fn announce_notices(shell: &Arc<Shell>) {
    for n in &shell.notices {
        tell(shell, Note::failure("Mailiy changed a port", n));
    }
}

/// Shows a notification; a click or "Copy code" on it is handled while it is among the newest.
pub fn tell(shell: &Arc<Shell>, note: Note) {
    let shell = shell.clone();
    tokio::spawn(async move {
        let mut n = Notification::new();
        n.appname("Mailiy")
            .summary(&note.summary)
            .body(&note.body)
            .icon("mailiy-desktop");
        if note.open.is_some() {
            n.action("default", "Open");
        }
        if note.code.is_some() {
            n.action("copy-code", "Copy code");
        }
        let handle = match n.show_async().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot show a notification");
                return;
            }
        };
        if note.open.is_none() && note.code.is_none() {
            return;
        }
        let on_action = shell.clone();
        let waiter = tokio::spawn(async move {
            handle
                .wait_for_action_async(|response| match response {
                    NotificationResponse::Default => on_action.act(Action::Show(note.open.clone())),
                    NotificationResponse::Action(a) if a == "copy-code" => {
                        if let Some(code) = &note.code {
                            on_action.ui(UiCommand::Copy(code.clone()));
                        }
                    }
                    _ => {}
                })
                .await
        });
        let mut outstanding = lock(&shell.outstanding.0);
        outstanding.retain(|w| !w.is_finished());
        outstanding.push_back(waiter);
        while outstanding.len() > shell.options.notify_actionable.max(1) {
            if let Some(oldest) = outstanding.pop_front() {
                oldest.abort();
            }
        }
    });
}

/// One line: notification servers lay out their own lines.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// Servers with the "body-markup" capability read the body as markup: a subject like
/// `<b>x</b> & co` must show as written.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(mailbox: &str, n: u32) -> Arrival {
        Arrival {
            mailbox_id: mailbox.into(),
            message_id: format!("msg_{n}"),
            from: Some(Address {
                name: Some("Alice Example".into()),
                address: "alice@example.com".into(),
            }),
            subject: format!("Subject {n}"),
        }
    }

    #[test]
    fn one_message_after_a_quiet_spell_is_shown_at_once() {
        let mut g = Grouper::new(Duration::from_secs(2));
        let t0 = Instant::now();
        assert_eq!(
            g.push(t0, arrival("a", 1)),
            Some(Batch::One(arrival("a", 1)))
        );
        // Nothing else came: the window closes quietly.
        assert_eq!(g.tick(t0 + Duration::from_secs(2)), None);
        assert_eq!(g.deadline(), None);
        // And the next message is again shown at once.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(
            g.push(t1, arrival("a", 2)),
            Some(Batch::One(arrival("a", 2)))
        );
    }

    #[test]
    fn a_hundred_a_second_raise_one_notification_per_window() {
        let window = Duration::from_secs(2);
        let mut g = Grouper::new(window);
        let t0 = Instant::now();
        let mut shown = Vec::new();
        // 10 seconds at 100 messages a second, ticking whenever the deadline passes.
        for i in 0..1000u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 10);
            while let Some(d) = g.deadline().filter(|d| *d <= now) {
                shown.extend(g.tick(d));
                if g.deadline() == Some(d) {
                    break;
                }
            }
            shown.extend(g.push(now, arrival(if i % 2 == 0 { "a" } else { "b" }, i)));
        }
        while let Some(d) = g.deadline() {
            shown.extend(g.tick(d));
        }
        // One at once, then one per 2-second window: 10 s / 2 s + the first.
        assert!(shown.len() <= 6, "{} notifications", shown.len());
        let total: u64 = shown
            .iter()
            .map(|b| match b {
                Batch::One(_) => 1,
                Batch::Many { count, .. } => *count,
            })
            .sum();
        assert_eq!(total, 1000, "every message is counted in some notification");
        assert!(shown.iter().all(|b| !matches!(
            b,
            Batch::Many {
                mailbox: Some(_),
                ..
            }
        )));
    }

    #[test]
    fn a_group_in_one_mailbox_opens_that_mailbox() {
        let mut g = Grouper::new(Duration::from_secs(1));
        let t0 = Instant::now();
        g.push(t0, arrival("a", 1));
        g.push(t0 + Duration::from_millis(10), arrival("a", 2));
        g.push(t0 + Duration::from_millis(20), arrival("a", 3));
        let b = g.tick(t0 + Duration::from_secs(1));
        assert_eq!(
            b,
            Some(Batch::Many {
                count: 2,
                mailbox: Some("a".into())
            })
        );
        assert_eq!(
            Note::group(2, Some("a")).open.as_deref(),
            Some("#/mailbox/a")
        );
        // A single held message is shown as itself.
        g.push(t0 + Duration::from_millis(1500), arrival("b", 4));
        assert_eq!(
            g.tick(t0 + Duration::from_secs(2)),
            Some(Batch::One(arrival("b", 4)))
        );
    }

    #[test]
    fn a_message_note_shows_sender_and_subject_or_nothing_private() {
        let a = arrival("mbx_1", 7);
        let n = Note::message(&a, Some("482913".into()), true);
        assert_eq!(n.summary, "Alice Example");
        assert_eq!(n.body, "Subject 7");
        assert_eq!(n.open.as_deref(), Some("#/mailbox/mbx_1/message/msg_7"));
        assert_eq!(n.code.as_deref(), Some("482913"));

        let private = Note::message(&a, Some("482913".into()), false);
        assert_eq!(private.summary, "New mail");
        assert_eq!(private.body, "");
        assert!(
            !format!("{private:?}").contains("Alice")
                && !format!("{private:?}").contains("Subject")
        );
        assert_eq!(
            private.code.as_deref(),
            Some("482913"),
            "Copy code still works"
        );
    }

    #[test]
    fn hostile_subjects_stay_text_on_one_line() {
        let mut a = arrival("m", 1);
        a.subject = "<b>Win</b> & \r\nBcc: x".into();
        a.from = Some(Address {
            name: Some("  ".into()),
            address: "x@y.z".into(),
        });
        let n = Note::message(&a, None, true);
        assert_eq!(n.summary, "x@y.z");
        assert_eq!(n.body, "&lt;b&gt;Win&lt;/b&gt; &amp;  Bcc: x");
        a.subject = "é".repeat(500);
        assert_eq!(
            Note::message(&a, None, true).body.chars().count(),
            MAX_SUBJECT_CHARS + 1
        );
        a.subject = "   ".into();
        a.from = None;
        let n = Note::message(&a, None, true);
        assert_eq!(
            (n.summary.as_str(), n.body.as_str()),
            ("Unknown sender", "(no subject)")
        );
    }

    #[test]
    fn an_expiry_warning_rounds_minutes_up() {
        let n = Note::expiring("a@b.c", "mbx_1", 2, 4 * 60_000 + 1);
        assert_eq!(n.summary, "Mailbox expires in 5 min");
        assert!(n.body.contains("a@b.c has 2 unread messages"));
    }
}

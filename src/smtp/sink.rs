//! An in-memory [`Mailroom`]: known addresses with their caps, an optional catch-all, how AUTH
//! is offered and which logins are good, the messages it was handed, its counters, switches for
//! the ways a store fails, and faults on demand (the engine's own fault state, on a clock the
//! test moves). Session tests and the fuzzer run against it, with no SQLite and no sockets.
//!
//! Public rather than `cfg(test)`: the fuzzer is a crate of its own and needs it too. It is
//! small, depends on nothing, and the server never builds one.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Mailroom;
use crate::config::Tier;
use crate::engine::{
    AuthPolicy, AuthVerdict, FaultAction, FaultConfig, FaultContext, FaultStage, Faults,
    RcptDecision, Recipient,
};
use crate::error::{Error, Result};
use crate::ingest::IngestOutcome;
use crate::metrics::Rejection;
use crate::model::{Envelope, Refusal, TranscriptLine};

/// A [`Mailroom`] that keeps everything in memory. Clones share one state, so a test keeps a
/// clone to look into what the session did.
#[derive(Clone)]
pub struct MemorySink {
    state: Arc<Mutex<State>>,
    faults: Arc<Faults>,
}

impl Default for MemorySink {
    fn default() -> Self {
        MemorySink {
            state: Arc::default(),
            faults: Arc::new(Faults::new(1000)),
        }
    }
}

/// One message as the sink received it: one entry per delivery, naming the addresses that
/// got a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    pub transcript: Vec<TranscriptLine>,
}

/// The caps of an SMTP user's inbox, made on its first mail (`user@sink.test`).
pub const USER_INBOX_CAPS: (u64, u64) = (1024 * 1024, 16 * 1024 * 1024);

#[derive(Default)]
struct State {
    /// By lower-case address.
    mailboxes: HashMap<String, Mailbox>,
    catch_all: Option<Caps>,
    auth: AuthPolicy,
    /// With `Some`, only these (user, password) logins are good; with `None`, any.
    users: Option<Vec<(String, String)>>,
    messages: Vec<SinkMessage>,
    sessions: u64,
    rejections: Vec<Rejection>,
    refusals: Vec<Refusal>,
    lookups_fail: bool,
    store_fails: bool,
    disk_full: bool,
    next_id: u64,
    /// Added to the wall clock for fault decisions (greylist and rate windows).
    clock_offset_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Caps {
    max_message_bytes: u64,
    max_storage_bytes: u64,
}

struct Mailbox {
    id: String,
    caps: Caps,
    bytes_used: u64,
}

impl MemorySink {
    /// A sink that knows no address and has no catch-all: every recipient is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a live mailbox with its caps.
    pub fn with_mailbox(
        self,
        address: &str,
        max_message_bytes: u64,
        max_storage_bytes: u64,
    ) -> Self {
        let caps = Caps {
            max_message_bytes,
            max_storage_bytes,
        };
        self.lock().open_mailbox(address.to_lowercase(), caps);
        self
    }

    /// Accepts any address with an `@`, under these caps; its mailbox is made on delivery.
    pub fn with_catch_all(self, max_message_bytes: u64, max_storage_bytes: u64) -> Self {
        self.lock().catch_all = Some(Caps {
            max_message_bytes,
            max_storage_bytes,
        });
        self
    }

    /// Offers AUTH as `policy` says; every login is good unless [`MemorySink::with_user`]
    /// lists the good ones. A user name with a space cannot name an inbox.
    pub fn with_auth(self, policy: AuthPolicy) -> Self {
        self.lock().auth = policy;
        self
    }

    /// Makes this login good, and every unlisted one bad (CRAM-MD5 included).
    pub fn with_user(self, user: &str, password: &str) -> Self {
        let mut state = self.lock();
        let users = state.users.get_or_insert_with(Vec::new);
        users.push((user.into(), password.into()));
        drop(state);
        self
    }

    /// Drops a mailbox, as expiry does (between RCPT and the end of DATA, say).
    pub fn remove_mailbox(&self, address: &str) {
        self.lock().mailboxes.remove(&address.to_lowercase());
    }

    /// While on, recipient checks fail as a store read would.
    pub fn fail_lookups(&self, on: bool) {
        self.lock().lookups_fail = on;
    }

    /// While on, deliveries fail as a failed commit would.
    pub fn fail_store(&self, on: bool) {
        self.lock().store_fails = on;
    }

    /// While on, deliveries fail as they do on a full disk.
    pub fn fill_disk(&self, on: bool) {
        self.lock().disk_full = on;
    }

    /// Puts a fault configuration in force (as `PUT /v1/faults` does).
    pub fn set_faults(&self, config: FaultConfig) {
        self.faults.set(config);
    }

    /// Moves the faults' clock forward, so greylist and rate windows pass without waiting.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.lock().clock_offset_ms += by.as_millis() as i64;
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<SinkMessage> {
        self.lock().messages.clone()
    }

    /// Sessions counted so far.
    pub fn sessions(&self) -> u64 {
        self.lock().sessions
    }

    /// How many refusals of this kind were counted.
    pub fn rejections(&self, why: Rejection) -> usize {
        self.lock().rejections.iter().filter(|&&r| r == why).count()
    }

    /// Every refused attempt recorded so far, oldest first.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.lock().refusals.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn open_mailbox(&mut self, address: String, caps: Caps) {
        self.next_id += 1;
        let id = format!("mbx-{}", self.next_id);
        self.mailboxes.insert(
            address,
            Mailbox {
                id,
                caps,
                bytes_used: 0,
            },
        );
    }

    fn check_recipient(&self, address: &str, smtp_user: Option<&str>) -> Result<RcptDecision> {
        if self.lookups_fail {
            return Err(Error::Io(std::io::Error::other(
                "memory sink: lookups switched off",
            )));
        }
        let address = address.to_lowercase();
        if let Some(m) = self.mailboxes.get(&address) {
            return Ok(RcptDecision::Accept {
                recipient: Recipient::Mailbox {
                    id: m.id.clone(),
                    address,
                },
                tier: Tier::Anon,
                max_message_bytes: m.caps.max_message_bytes,
                storage_left: m.caps.max_storage_bytes.saturating_sub(m.bytes_used),
            });
        }
        if let Some(user) = smtp_user {
            let inbox = user_inbox(user);
            if inbox != address {
                return self.check_recipient(&inbox, Some(user));
            }
            let (max_message_bytes, max_storage_bytes) = USER_INBOX_CAPS;
            return Ok(RcptDecision::Accept {
                recipient: Recipient::CatchAll {
                    address,
                    tier: Tier::Anon,
                    smtp_user: Some(user.to_string()),
                },
                tier: Tier::Anon,
                max_message_bytes,
                storage_left: max_storage_bytes,
            });
        }
        match self.catch_all {
            Some(caps) if address.contains('@') => Ok(RcptDecision::Accept {
                recipient: Recipient::CatchAll {
                    address,
                    tier: Tier::Anon,
                    smtp_user: None,
                },
                tier: Tier::Anon,
                max_message_bytes: caps.max_message_bytes,
                storage_left: caps.max_storage_bytes,
            }),
            _ => Ok(RcptDecision::Unknown),
        }
    }

    /// Like the store: each copy counts against its mailbox's storage; a catch-all recipient
    /// gets its mailbox now; a mailbox gone since RCPT gets nothing.
    fn deliver(
        &mut self,
        envelope: Envelope,
        transcript: Vec<TranscriptLine>,
        recipients: Vec<Recipient>,
        raw: Vec<u8>,
    ) -> Result<IngestOutcome> {
        if self.disk_full {
            return Err(Error::Io(std::io::ErrorKind::StorageFull.into()));
        }
        if self.store_fails {
            return Err(Error::CommitFailed(
                "memory sink: store switched off".into(),
            ));
        }
        let size = raw.len() as u64;
        let mut outcome = IngestOutcome::default();
        let mut copies = Vec::new();
        for r in recipients {
            let address = r.address().to_string();
            if let Recipient::CatchAll { smtp_user, .. } = &r {
                let (max_message_bytes, max_storage_bytes) = USER_INBOX_CAPS;
                let caps = match smtp_user {
                    Some(_) => Some(Caps {
                        max_message_bytes,
                        max_storage_bytes,
                    }),
                    None => self.catch_all,
                };
                if let (Some(caps), false) = (caps, self.mailboxes.contains_key(&address)) {
                    self.open_mailbox(address.clone(), caps);
                }
            }
            let Some(m) = self.mailboxes.get_mut(&address) else {
                outcome.mailbox_gone += 1;
                continue;
            };
            if m.bytes_used + size > m.caps.max_storage_bytes {
                outcome.storage_full += 1;
                continue;
            }
            m.bytes_used += size;
            self.next_id += 1;
            outcome.stored.push(format!("msg-{}", self.next_id));
            copies.push(address);
        }
        if !copies.is_empty() {
            self.messages.push(SinkMessage {
                envelope_from: envelope.mail_from.clone(),
                recipients: copies,
                raw,
                envelope,
                transcript,
            });
        }
        Ok(outcome)
    }
}

/// Like the engine's, with `sink.test` as the domain.
fn user_inbox(user: &str) -> String {
    let user = user.to_lowercase();
    if user.contains('@') {
        user
    } else {
        format!("{user}@sink.test")
    }
}

impl Mailroom for MemorySink {
    fn check_recipient(
        &self,
        address: &str,
        smtp_user: Option<&str>,
    ) -> impl Future<Output = Result<RcptDecision>> + Send {
        ready(self.lock().check_recipient(address, smtp_user))
    }

    fn auth_policy(&self) -> AuthPolicy {
        self.lock().auth
    }

    fn authenticate(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> impl Future<Output = AuthVerdict> + Send {
        let state = self.lock();
        let good = match (&state.users, password) {
            (None, _) => true,
            (Some(users), Some(p)) => users.iter().any(|(u, pw)| u == user && pw == p),
            (Some(_), None) => false,
        };
        let verdict = if user.contains(' ') {
            AuthVerdict::BadUserName
        } else if good {
            AuthVerdict::Accepted
        } else {
            AuthVerdict::Refused
        };
        ready(verdict)
    }

    fn deliver(
        &self,
        envelope: Envelope,
        transcript: Vec<TranscriptLine>,
        recipients: Vec<Recipient>,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<IngestOutcome>> + Send {
        ready(self.lock().deliver(envelope, transcript, recipients, raw))
    }

    fn count_session(&self) {
        self.lock().sessions += 1;
    }

    fn count_rejection(&self, why: Rejection) {
        self.lock().rejections.push(why);
    }

    fn fault(&self, stage: FaultStage, ctx: &FaultContext<'_>) -> Option<FaultAction> {
        let now = crate::clock::now_ms() + self.lock().clock_offset_ms;
        self.faults.decide(stage, ctx, now)
    }

    fn record_refusal(&self, refusal: Refusal) {
        self.lock().refusals.push(refusal);
    }
}

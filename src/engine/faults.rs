//! Faults on demand: replies an SMTP session gives instead of its own, so an app's retry and
//! error paths can be tried against a real server. Off until configured (`PUT /v1/faults`,
//! `--faults FILE`): rules per stage (a reply, a delay, a cut in the middle of DATA), with a
//! probability or for the next N attempts; greylisting; a rate limit; mailboxes that answer as
//! full or unknown.
//!
//! The configuration, the counters, the greylist and the rate windows live here; a session asks
//! [`Faults::decide`] at each stage (through its mailroom) and acts on the answer. Time is passed
//! in (Unix milliseconds from [`crate::clock`]) so the tables can be tested without waiting.
//! Memory is bounded: at most [`MAX_RULES`] rules and [`MAX_MAILBOXES`] mailboxes, and the
//! greylist and rate tables hold at most `--faults-max-entries` keys each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Engine;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::events::EventKind;

/// Most rules in one configuration (a format bound, like the SMTP line length).
pub const MAX_RULES: usize = 100;
/// Most mailboxes set to answer as full or unknown.
pub const MAX_MAILBOXES: usize = 1000;
/// Longest reply text of a rule.
const MAX_TEXT: usize = 200;
/// Longest address in a filter or a mailbox entry (RFC 5321's path limit, with room).
const MAX_ADDRESS: usize = 320;
/// Longest greylist delay, rate window and entry lifetime: one day.
const MAX_SECONDS: u64 = 86_400;

/// Where in an SMTP session a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// The greeting.
    Connect,
    /// EHLO or HELO.
    #[serde(alias = "ehlo")]
    Helo,
    Mail,
    Rcpt,
    /// The DATA command (before `354`).
    Data,
    /// The final dot (after the message was received, before it is stored).
    DataEnd,
}

impl Stage {
    /// Whether the sender is known at this stage (from MAIL on).
    fn knows_sender(self) -> bool {
        !matches!(self, Stage::Connect | Stage::Helo)
    }

    /// Whether recipients are known at this stage (from RCPT on).
    fn knows_recipient(self) -> bool {
        matches!(self, Stage::Rcpt | Stage::Data | Stage::DataEnd)
    }
}

/// The whole fault configuration, as `GET/PUT /v1/faults` and `--faults FILE` carry it.
/// Empty (the default) means off.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultConfig {
    /// Checked in order at each stage; the first one that answers wins (delays add up to the
    /// longest of them).
    pub rules: Vec<FaultRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greylist: Option<Greylist>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Addresses that answer RCPT as full (`452 4.2.2`) or unknown (`550 5.1.1`).
    pub mailboxes: Vec<MailboxFault>,
}

/// One rule: at `stage`, reply `code text`, or wait `delayMs` first, or (at `data`) close the
/// connection after `disconnectAfterBytes` of the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_after_bytes: Option<u64>,
    /// Fires with this chance (0..1) each time it could; always when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Fires this many more times, then rests (GET shows what is left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Only for this envelope sender (lower-case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Only for this recipient (lower-case); at `data` and `dataEnd`, if any accepted one is it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// `451 4.7.1` at RCPT to a (client address, sender, recipient) triplet's first attempt, and
/// to every retry sooner than `delaySeconds` after it; accepted after that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Greylist {
    pub delay_seconds: u64,
    /// How long a triplet is remembered after its first attempt.
    pub entry_ttl_seconds: u64,
}

/// Whose messages a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RateKey {
    /// The client's IP address.
    Client,
    /// The AUTH user; sessions without one are counted by client address.
    User,
}

/// At most `messages` MAIL commands per `windowSeconds` per key; over it, MAIL answers `code`.
/// The count starts again when the window that began with the first message is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub messages: u32,
    pub window_seconds: u64,
    pub per: RateKey,
    /// `421` (and the connection closes) or `451`.
    pub code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MailboxAnswer {
    Full,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxFault {
    pub address: String,
    pub answer: MailboxAnswer,
}

/// What a session knows when it asks.
#[derive(Debug, Clone, Copy)]
pub struct FaultContext<'a> {
    pub peer: IpAddr,
    pub helo: Option<&'a str>,
    pub mail_from: Option<&'a str>,
    /// At RCPT the recipient asked about; at DATA and its end every accepted one.
    pub recipients: &'a [&'a str],
    /// The AUTH user, once the session has one.
    pub auth_user: Option<&'a str>,
}

/// What the session does instead of (or before) its own reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultAction {
    /// Waited before the reply goes out.
    pub delay: Duration,
    pub effect: Option<FaultEffect>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultEffect {
    /// This reply instead of the stage's own (`421` closes the connection after it).
    Reply { code: u16, text: String },
    /// After this many more bytes of the message, close without a reply; nothing is stored.
    DisconnectAfter(u64),
}

impl FaultEffect {
    fn reply(code: u16, text: impl Into<String>) -> Self {
        FaultEffect::Reply {
            code,
            text: text.into(),
        }
    }
}

impl FaultConfig {
    /// Parses and checks a configuration; the error names the field (`rules[0].code: …`).
    /// `max_delay` bounds `delayMs` (a delay past the client's patience is a timeout instead).
    pub fn from_json(bytes: &[u8], max_delay: Duration) -> Result<FaultConfig> {
        let bad = |m: String| Error::InvalidFaults(m);
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(bad("the fault configuration must be a JSON object".into()));
        };
        let top = Fields::new(
            &top,
            "",
            &["rules", "greylist", "rateLimit", "mailboxes", "active"],
        )
        .map_err(bad)?;
        let rules = top.list("rules", MAX_RULES, |f| FaultRule::parse(f, max_delay));
        let mailboxes = top.list("mailboxes", MAX_MAILBOXES, MailboxFault::parse);
        let config = FaultConfig {
            rules: rules.map_err(bad)?,
            greylist: top.object("greylist", Greylist::parse).map_err(bad)?,
            rate_limit: top.object("rateLimit", RateLimit::parse).map_err(bad)?,
            mailboxes: mailboxes.map_err(bad)?,
        };
        Ok(config)
    }

    /// Whether anything here can still change a reply.
    pub fn is_active(&self) -> bool {
        self.rules.iter().any(|r| r.count != Some(0))
            || self.greylist.is_some()
            || self.rate_limit.is_some()
            || !self.mailboxes.is_empty()
    }

    /// The JSON that GET and the `faults.updated` event carry: the configuration (counts as
    /// they are now) and `active`.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()));
        if let Value::Object(m) = &mut v {
            m.insert("active".into(), Value::Bool(self.is_active()));
        }
        v
    }
}

impl FaultRule {
    fn parse(f: &Fields<'_>, max_delay: Duration) -> std::result::Result<Self, String> {
        f.only(&[
            "stage",
            "code",
            "text",
            "delayMs",
            "disconnectAfterBytes",
            "probability",
            "count",
            "sender",
            "recipient",
        ])?;
        let rule = FaultRule {
            stage: f.required("stage")?,
            code: f.get("code")?,
            text: f.get("text")?,
            delay_ms: f.get("delayMs")?,
            disconnect_after_bytes: f.get("disconnectAfterBytes")?,
            probability: f.get("probability")?,
            count: f.get("count")?,
            sender: f.address("sender")?,
            recipient: f.address("recipient")?,
        };
        if let Some(code) = rule.code {
            f.check(
                "code",
                (400..=599).contains(&code),
                "a 4xx or 5xx reply code",
            )?;
        }
        if let Some(text) = &rule.text {
            f.check("text", rule.code.is_some(), "only with a code")?;
            reply_text(f, "text", text)?;
        }
        if let Some(ms) = rule.delay_ms {
            let max = max_delay.as_millis();
            f.check(
                "delayMs",
                u128::from(ms) <= max,
                &format!("at most {max} (the SMTP idle timeout, --smtp-idle-timeout)"),
            )?;
        }
        if rule.disconnect_after_bytes.is_some() {
            f.check(
                "disconnectAfterBytes",
                rule.stage == Stage::Data && rule.code.is_none(),
                "only at stage data, and not with a code",
            )?;
        }
        if let Some(p) = rule.probability {
            f.check("probability", (0.0..=1.0).contains(&p), "between 0 and 1")?;
        }
        f.check(
            "code",
            rule.code.is_some() || rule.delay_ms.is_some() || rule.disconnect_after_bytes.is_some(),
            "a rule needs a code, a delayMs or a disconnectAfterBytes",
        )?;
        if rule.sender.is_some() {
            f.check(
                "sender",
                rule.stage.knows_sender(),
                "the sender is known from stage mail on",
            )?;
        }
        if rule.recipient.is_some() {
            f.check(
                "recipient",
                rule.stage.knows_recipient(),
                "recipients are known from stage rcpt on",
            )?;
        }
        Ok(rule)
    }

    fn matches(&self, stage: Stage, ctx: &FaultContext<'_>) -> bool {
        self.stage == stage
            && self.count != Some(0)
            && self
                .sender
                .as_deref()
                .is_none_or(|s| ctx.mail_from.is_some_and(|m| m.eq_ignore_ascii_case(s)))
            && self
                .recipient
                .as_deref()
                .is_none_or(|r| ctx.recipients.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }

    fn effect(&self) -> Option<FaultEffect> {
        if let Some(code) = self.code {
            let text = self
                .text
                .clone()
                .unwrap_or_else(|| format!("{}.0.0 Refused on demand (Mailiy faults)", code / 100));
            return Some(FaultEffect::reply(code, text));
        }
        self.disconnect_after_bytes
            .map(FaultEffect::DisconnectAfter)
    }
}

impl Greylist {
    fn parse(f: &Fields<'_>) -> std::result::Result<Self, String> {
        f.only(&["delaySeconds", "entryTtlSeconds"])?;
        let g = Greylist {
            delay_seconds: f.required("delaySeconds")?,
            entry_ttl_seconds: f.get("entryTtlSeconds")?.unwrap_or(MAX_SECONDS),
        };
        f.check(
            "delaySeconds",
            g.delay_seconds <= MAX_SECONDS,
            "at most 86400",
        )?;
        f.check(
            "entryTtlSeconds",
            g.entry_ttl_seconds > g.delay_seconds && g.entry_ttl_seconds <= MAX_SECONDS,
            "above delaySeconds and at most 86400",
        )?;
        Ok(g)
    }
}

impl RateLimit {
    fn parse(f: &Fields<'_>) -> std::result::Result<Self, String> {
        f.only(&["messages", "windowSeconds", "per", "code", "text"])?;
        let r = RateLimit {
            messages: f.required("messages")?,
            window_seconds: f.required("windowSeconds")?,
            per: f.get("per")?.unwrap_or(RateKey::Client),
            code: f.get("code")?.unwrap_or(451),
            text: f.get("text")?,
        };
        f.check(
            "windowSeconds",
            (1..=MAX_SECONDS).contains(&r.window_seconds),
            "between 1 and 86400",
        )?;
        f.check("code", matches!(r.code, 421 | 451), "421 or 451")?;
        if let Some(text) = &r.text {
            reply_text(f, "text", text)?;
        }
        Ok(r)
    }

    fn refusal(&self) -> FaultEffect {
        let text = self.text.clone().unwrap_or_else(|| {
            format!(
                "4.7.0 Rate limit: {} messages per {} s, try again later",
                self.messages, self.window_seconds
            )
        });
        FaultEffect::reply(self.code, text)
    }
}

impl MailboxFault {
    fn parse(f: &Fields<'_>) -> std::result::Result<Self, String> {
        f.only(&["address", "answer"])?;
        let address = f.address("address")?;
        Ok(MailboxFault {
            address: address.ok_or_else(|| f.missing("address"))?,
            answer: f.required("answer")?,
        })
    }
}

fn reply_text(f: &Fields<'_>, key: &str, text: &str) -> std::result::Result<(), String> {
    f.check(
        key,
        !text.is_empty()
            && text.len() <= MAX_TEXT
            && text.chars().all(|c| (' '..='~').contains(&c)),
        "1 to 200 printable ASCII characters, on one line",
    )
}

/// One JSON object being read, with the path its errors name.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn new(
        map: &'a Map<String, Value>,
        path: &str,
        known: &[&str],
    ) -> std::result::Result<Self, String> {
        let f = Fields {
            map,
            path: path.to_string(),
        };
        f.only(known)?;
        Ok(f)
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn only(&self, known: &[&str]) -> std::result::Result<(), String> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "{}: unknown field (known: {})",
                self.name(k),
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    fn missing(&self, key: &str) -> String {
        format!("{}: missing", self.name(key))
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> std::result::Result<Option<T>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| format!("{}: {e}", self.name(key))),
        }
    }

    fn required<T: DeserializeOwned>(&self, key: &str) -> std::result::Result<T, String> {
        self.get(key)?.ok_or_else(|| self.missing(key))
    }

    /// An address, lower-cased.
    fn address(&self, key: &str) -> std::result::Result<Option<String>, String> {
        let a: Option<String> = self.get(key)?;
        if let Some(a) = &a {
            self.check(
                key,
                !a.is_empty() && a.len() <= MAX_ADDRESS && !a.chars().any(char::is_whitespace),
                "an address of 1 to 320 characters without spaces",
            )?;
        }
        Ok(a.map(|a| a.to_lowercase()))
    }

    fn check(&self, key: &str, ok: bool, want: &str) -> std::result::Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(format!("{}: {want}", self.name(key)))
        }
    }

    fn object<T>(
        &self,
        key: &str,
        parse: impl Fn(&Fields<'_>) -> std::result::Result<T, String>,
    ) -> std::result::Result<Option<T>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => parse(&Fields {
                map: m,
                path: self.name(key),
            })
            .map(Some),
            Some(_) => Err(format!("{}: must be an object", self.name(key))),
        }
    }

    fn list<T>(
        &self,
        key: &str,
        max: usize,
        parse: impl Fn(&Fields<'_>) -> std::result::Result<T, String>,
    ) -> std::result::Result<Vec<T>, String> {
        let items = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(format!("{}: must be an array", self.name(key))),
        };
        if items.len() > max {
            return Err(format!("{}: at most {max} entries", self.name(key)));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("{}[{i}]", self.name(key));
                match item {
                    Value::Object(m) => parse(&Fields { map: m, path }),
                    _ => Err(format!("{path}: must be an object")),
                }
            })
            .collect()
    }
}

/// The fault state of one engine (or one test sink): the configuration in force, the greylist
/// and the rate windows.
pub struct Faults {
    /// Mirrors `config.is_active()`, so a session with faults off takes no lock.
    active: AtomicBool,
    max_entries: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    config: FaultConfig,
    /// First attempt of each (client, sender, recipient).
    greylist: HashMap<(IpAddr, String, String), Millis>,
    /// Start of the current window and the messages counted in it.
    rates: HashMap<RateSubject, (Millis, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RateSubject {
    Client(IpAddr),
    User(String),
}

impl Faults {
    /// No faults; the greylist and rate tables hold at most `max_entries` keys each.
    pub fn new(max_entries: usize) -> Faults {
        Faults {
            active: AtomicBool::new(false),
            max_entries: max_entries.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// The configuration in force, counts as they are now.
    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// Puts `config` in force whole; the greylist and rate windows start empty.
    pub fn set(&self, config: FaultConfig) {
        let mut st = self.lock();
        self.active.store(config.is_active(), Relaxed);
        *st = State {
            config,
            ..State::default()
        };
    }

    /// What the session at `stage` does instead of its own reply, if anything. Rules go first,
    /// in order; then the mailbox answers and the greylist (at RCPT) and the rate limit (at MAIL).
    pub fn decide(&self, stage: Stage, ctx: &FaultContext<'_>, now: Millis) -> Option<FaultAction> {
        if !self.active.load(Relaxed) {
            return None;
        }
        let mut st = self.lock();
        let mut action = FaultAction::default();
        let mut rng = rand::rng();
        for rule in st.config.rules.iter_mut() {
            if !rule.matches(stage, ctx) {
                continue;
            }
            if rule.probability.is_some_and(|p| rng.random::<f64>() >= p) {
                continue;
            }
            if let Some(c) = rule.count.as_mut() {
                *c -= 1;
            }
            action.delay = action
                .delay
                .max(Duration::from_millis(rule.delay_ms.unwrap_or(0)));
            if let Some(effect) = rule.effect() {
                action.effect = Some(effect);
                break;
            }
        }
        if action.effect.is_none() {
            action.effect = match stage {
                Stage::Rcpt => st
                    .mailbox_answer(ctx)
                    .or_else(|| st.greylist(ctx, now, self.max_entries)),
                Stage::Mail => st.rate(ctx, now, self.max_entries),
                _ => None,
            };
        }
        let active = st.config.is_active();
        self.active.store(active, Relaxed);
        (action != FaultAction::default()).then_some(action)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn mailbox_answer(&self, ctx: &FaultContext<'_>) -> Option<FaultEffect> {
        let rcpt = ctx.recipients.first()?;
        let m = self
            .config
            .mailboxes
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(rcpt))?;
        Some(match m.answer {
            MailboxAnswer::Full => FaultEffect::reply(452, "4.2.2 Mailbox full (Mailiy faults)"),
            MailboxAnswer::Unknown => {
                FaultEffect::reply(550, "5.1.1 No such mailbox here (Mailiy faults)")
            }
        })
    }

    fn greylist(&mut self, ctx: &FaultContext<'_>, now: Millis, max: usize) -> Option<FaultEffect> {
        let g = self.config.greylist.clone()?;
        let rcpt = ctx.recipients.first()?;
        let key = (
            ctx.peer,
            ctx.mail_from.unwrap_or_default().to_lowercase(),
            rcpt.to_lowercase(),
        );
        let (delay, ttl) = (secs(g.delay_seconds), secs(g.entry_ttl_seconds));
        let first = match self.greylist.get(&key) {
            Some(&first) if now - first < ttl => first,
            _ => {
                bound(&mut self.greylist, max, |&first| now - first < ttl, |&f| f);
                self.greylist.insert(key, now);
                now
            }
        };
        let left = delay - (now - first);
        (left > 0).then(|| {
            let wait = (left + 999) / 1000;
            FaultEffect::reply(451, format!("4.7.1 Greylisted, try again in {wait} s"))
        })
    }

    fn rate(&mut self, ctx: &FaultContext<'_>, now: Millis, max: usize) -> Option<FaultEffect> {
        let limit = self.config.rate_limit.clone()?;
        let subject = match (limit.per, ctx.auth_user) {
            (RateKey::User, Some(u)) => RateSubject::User(u.to_string()),
            _ => RateSubject::Client(ctx.peer),
        };
        let window = secs(limit.window_seconds);
        if !self.rates.contains_key(&subject) {
            bound(
                &mut self.rates,
                max,
                |&(start, _)| now - start < window,
                |&(s, _)| s,
            );
        }
        let entry = self.rates.entry(subject).or_insert((now, 0));
        if now - entry.0 >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit.messages {
            return Some(limit.refusal());
        }
        entry.1 += 1;
        None
    }
}

fn secs(s: u64) -> Millis {
    Millis::try_from(s.saturating_mul(1000)).unwrap_or(Millis::MAX)
}

/// Makes room for one more key: drops the entries no longer `live`, then, if still full, the
/// one that started first.
fn bound<K: Clone + Eq + std::hash::Hash, V>(
    table: &mut HashMap<K, V>,
    max: usize,
    live: impl Fn(&V) -> bool,
    started: impl Fn(&V) -> Millis,
) {
    if table.len() < max {
        return;
    }
    table.retain(|_, v| live(v));
    while table.len() >= max {
        let Some(oldest) = table
            .iter()
            .min_by_key(|(_, v)| started(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        table.remove(&oldest);
    }
}

impl Engine {
    /// The fault configuration in force.
    pub fn faults(&self) -> FaultConfig {
        self.inner.faults.config()
    }

    pub(crate) fn fault_state(&self) -> &Faults {
        &self.inner.faults
    }

    /// Replaces the fault configuration with the one in `json` (all of it or, on an error
    /// naming the field, none of it) and announces `faults.updated`.
    pub fn set_faults_json(&self, json: &[u8]) -> Result<FaultConfig> {
        let config = FaultConfig::from_json(json, self.config().smtp.idle_timeout)?;
        self.inner.faults.set(config.clone());
        let active = config.is_active();
        tracing::info!(
            active,
            rules = config.rules.len(),
            "faults: configuration replaced"
        );
        self.events().publish(EventKind::FaultsUpdated {
            faults: config.to_json(),
        });
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn faults(json: &str) -> Faults {
        let f = Faults::new(100);
        f.set(FaultConfig::from_json(json.as_bytes(), Duration::from_secs(60)).expect("valid"));
        f
    }

    fn ctx<'a>(from: Option<&'a str>, rcpts: &'a [&'a str]) -> FaultContext<'a> {
        FaultContext {
            peer: IP,
            helo: Some("client.test"),
            mail_from: from,
            recipients: rcpts,
            auth_user: None,
        }
    }

    fn code(a: Option<FaultAction>) -> Option<u16> {
        match a?.effect? {
            FaultEffect::Reply { code, .. } => Some(code),
            FaultEffect::DisconnectAfter(_) => None,
        }
    }

    fn error(json: &str) -> String {
        match FaultConfig::from_json(json.as_bytes(), Duration::from_secs(60)) {
            Err(Error::InvalidFaults(m)) => m,
            other => panic!("{json}: wanted an error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert!(error(r#"{"rules":[{"stage":"rcpt","code":250}]}"#).starts_with("rules[0].code:"));
        assert!(error(r#"{"rules":[{"stage":"rcpt","code":"x"}]}"#).starts_with("rules[0].code:"));
        assert!(error(r#"{"rules":[{"stage":"nope","code":451}]}"#).starts_with("rules[0].stage:"));
        assert!(error(r#"{"rules":[{"stage":"mail"}]}"#).starts_with("rules[0].code:"));
        assert!(
            error(r#"{"rules":[{"stage":"mail","code":451,"probability":2}]}"#)
                .starts_with("rules[0].probability:")
        );
        assert!(
            error(r#"{"rules":[{"stage":"connect","code":554,"recipient":"a@b"}]}"#)
                .starts_with("rules[0].recipient:")
        );
        assert!(
            error(r#"{"rules":[{"stage":"mail","disconnectAfterBytes":5}]}"#)
                .starts_with("rules[0].disconnectAfterBytes:")
        );
        assert!(error(r#"{"rules":[{"stage":"mail","delayMs":60001}]}"#)
            .starts_with("rules[0].delayMs:"));
        assert!(error(r#"{"greylist":{}}"#).starts_with("greylist.delaySeconds: missing"));
        assert!(
            error(r#"{"rateLimit":{"messages":1,"windowSeconds":1,"code":450}}"#)
                .starts_with("rateLimit.code:")
        );
        assert!(
            error(r#"{"mailboxes":[{"address":"a@b","answer":"gone"}]}"#)
                .starts_with("mailboxes[0].answer:")
        );
        assert!(error(r#"{"rulez":[]}"#).starts_with("rulez: unknown field"));
        assert!(error("[1]").contains("object"));
    }

    #[test]
    fn a_count_refuses_n_times_then_rests_and_get_shows_what_is_left() {
        let f =
            faults(r#"{"rules":[{"stage":"rcpt","code":451,"count":2,"recipient":"A@x.test"}]}"#);
        let (a, b) = (["a@x.test"], ["b@x.test"]);
        assert_eq!(code(f.decide(Stage::Rcpt, &ctx(Some("s@x"), &b), 0)), None);
        assert_eq!(
            code(f.decide(Stage::Rcpt, &ctx(Some("s@x"), &a), 0)),
            Some(451)
        );
        assert_eq!(f.config().rules[0].count, Some(1));
        assert_eq!(
            code(f.decide(Stage::Rcpt, &ctx(Some("s@x"), &a), 0)),
            Some(451)
        );
        assert_eq!(code(f.decide(Stage::Rcpt, &ctx(Some("s@x"), &a), 0)), None);
        assert!(!f.config().is_active());
    }

    #[test]
    fn greylisting_passes_a_retry_after_the_delay_and_forgets_after_the_ttl() {
        let f = faults(r#"{"greylist":{"delaySeconds":5,"entryTtlSeconds":60}}"#);
        let r = ["a@x.test"];
        let c = ctx(Some("s@x.test"), &r);
        assert_eq!(code(f.decide(Stage::Rcpt, &c, 1_000)), Some(451));
        assert_eq!(
            code(f.decide(Stage::Rcpt, &c, 5_999)),
            Some(451),
            "too soon"
        );
        assert_eq!(code(f.decide(Stage::Rcpt, &c, 6_000)), None);
        assert_eq!(code(f.decide(Stage::Rcpt, &c, 30_000)), None, "remembered");
        assert_eq!(
            code(f.decide(Stage::Rcpt, &c, 61_001)),
            Some(451),
            "aged out"
        );
        let other = ["b@x.test"];
        assert_eq!(
            code(f.decide(Stage::Rcpt, &ctx(Some("s@x.test"), &other), 6_000)),
            Some(451)
        );
    }

    #[test]
    fn the_rate_limit_resets_after_its_window_and_counts_users_apart() {
        let f = faults(r#"{"rateLimit":{"messages":2,"windowSeconds":2,"per":"user","code":421}}"#);
        let c = ctx(Some("s@x"), &[]);
        assert_eq!(code(f.decide(Stage::Mail, &c, 0)), None);
        assert_eq!(code(f.decide(Stage::Mail, &c, 100)), None);
        assert_eq!(code(f.decide(Stage::Mail, &c, 200)), Some(421));
        let shop = FaultContext {
            auth_user: Some("shop"),
            ..c
        };
        assert_eq!(code(f.decide(Stage::Mail, &shop, 200)), None, "another key");
        assert_eq!(code(f.decide(Stage::Mail, &c, 2_000)), None, "a new window");
    }

    #[test]
    fn tables_stay_bounded() {
        let f = Faults::new(3);
        f.set(
            FaultConfig::from_json(br#"{"greylist":{"delaySeconds":1}}"#, Duration::ZERO).unwrap(),
        );
        for i in 0..10 {
            let r = [format!("r{i}@x")];
            let r: Vec<&str> = r.iter().map(String::as_str).collect();
            f.decide(Stage::Rcpt, &ctx(Some("s@x"), &r), i);
        }
        assert!(f.lock().greylist.len() <= 3);
    }

    #[test]
    fn delays_add_to_the_first_reply_and_off_means_nothing() {
        let f = faults(
            r#"{"rules":[{"stage":"mail","delayMs":300},{"stage":"mail","code":451,"probability":0}]}"#,
        );
        let a = f
            .decide(Stage::Mail, &ctx(Some("s@x"), &[]), 0)
            .expect("a delay");
        assert_eq!(a.delay, Duration::from_millis(300));
        assert_eq!(a.effect, None, "probability 0 never fires");
        f.set(FaultConfig::default());
        assert_eq!(f.decide(Stage::Mail, &ctx(Some("s@x"), &[]), 0), None);
    }
}

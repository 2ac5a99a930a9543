//! Settings: every cap, port and timeout, with its default.
//!
//! [`EngineArgs`] is the raw form (command-line flags, each also a `MAILIY_*` environment
//! variable, so `--help` lists every default); [`EngineArgs::resolve`] validates it once into a
//! [`Config`]. An invalid value is a start-up error, never a silent default.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A mailbox tier: decides the per-message cap, the storage cap and the longest lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Anon,
    Free,
    Pro,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Anon => "anon",
            Tier::Free => "free",
            Tier::Pro => "pro",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "anon" => Ok(Tier::Anon),
            "free" => Ok(Tier::Free),
            "pro" => Ok(Tier::Pro),
            _ => Err(Error::InvalidInput(format!(
                "unknown tier {s:?}: use anon, free or pro"
            ))),
        }
    }
}

/// The caps of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierLimits {
    pub max_message_bytes: u64,
    pub max_storage_bytes: u64,
    pub max_ttl_minutes: u32,
}

/// The caps of every tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiers {
    pub anon: TierLimits,
    pub free: TierLimits,
    pub pro: TierLimits,
}

impl Tiers {
    pub fn get(&self, tier: Tier) -> TierLimits {
        match tier {
            Tier::Anon => self.anon,
            Tier::Free => self.free,
            Tier::Pro => self.pro,
        }
    }

    /// The largest per-message cap of any tier: what EHLO advertises as SIZE.
    pub fn largest_message_bytes(&self) -> u64 {
        [self.anon, self.free, self.pro]
            .iter()
            .map(|t| t.max_message_bytes)
            .max()
            .unwrap_or(0)
    }
}

const MIB: u64 = 1024 * 1024;

impl Default for Tiers {
    fn default() -> Self {
        Tiers {
            anon: TierLimits {
                max_message_bytes: 5 * MIB,
                max_storage_bytes: 25 * MIB,
                max_ttl_minutes: 60,
            },
            free: TierLimits {
                max_message_bytes: 10 * MIB,
                max_storage_bytes: 100 * MIB,
                max_ttl_minutes: 24 * 60,
            },
            pro: TierLimits {
                max_message_bytes: 50 * MIB,
                max_storage_bytes: 1024 * MIB,
                max_ttl_minutes: 30 * 24 * 60,
            },
        }
    }
}

/// SMTP listener limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    pub max_connections: usize,
    pub max_recipients: usize,
    /// Longest wait for the next bytes from a client.
    pub idle_timeout: Duration,
    /// Longest a whole session may last.
    pub session_timeout: Duration,
    /// Errors (bad commands) a session may make before it is closed.
    pub max_errors: u32,
    /// Refuse MAIL and AUTH until the client has done STARTTLS.
    pub require_tls: bool,
    /// A session transcript's bounds: lines and bytes kept (the oldest go first).
    pub transcript_max_lines: usize,
    pub transcript_max_bytes: usize,
}

/// Which SMTP logins are taken (`--smtp-auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpAuth {
    /// Any user name and password (a development target takes an app's real config as it is).
    Any,
    /// AUTH is not offered.
    Off,
    /// The users and bcrypt hashes in this file (`user:hash` lines, as `htpasswd -B` makes).
    File(PathBuf),
}

impl std::str::FromStr for SmtpAuth {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "any" => Ok(SmtpAuth::Any),
            "off" => Ok(SmtpAuth::Off),
            _ => match s.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(SmtpAuth::File(path.into())),
                _ => Err("expected any, off or file:PATH".into()),
            },
        }
    }
}

impl std::fmt::Display for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmtpAuth::Any => f.write_str("any"),
            SmtpAuth::Off => f.write_str("off"),
            SmtpAuth::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// How mail reaches mirrors of remote mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncTransport {
    /// The remote's event stream, or long-poll where it has none.
    Auto,
    /// Long-poll each mailbox's messages only.
    Poll,
}

/// Sync with remote endpoints: timeouts, retry pacing, and bounds on what a remote may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    pub connect_timeout: Duration,
    /// A whole request: sending it and reading all of its answer.
    pub request_timeout: Duration,
    /// Longest an event stream may go without a complete line (the API heartbeats every 15 s).
    pub idle_timeout: Duration,
    /// First delay after a failure; it doubles per failure, with jitter, up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How long one long-poll asks the remote to hold.
    pub poll_wait: Duration,
    /// How often each mirror's remote mailbox is read again, to follow an expiry moved on the
    /// remote by someone else (the event stream carries no such event).
    pub refresh: Duration,
    /// Largest JSON answer read.
    pub max_json_bytes: u64,
    /// Longest event-stream line (and event).
    pub max_event_bytes: usize,
    pub transport: SyncTransport,
}

/// Names (as in the JSON) of settings fixed by a flag or variable for this run.
pub type Pinned = BTreeSet<String>;

/// Each pinnable setting: its JSON name, its clap argument id, and how a user names it.
pub(crate) const PINNABLE: &[(&str, &str, &str)] = &[
    ("smtp", "smtp", "--smtp / MAILIY_SMTP"),
    ("http", "http", "--http / MAILIY_HTTP"),
    ("catchAll", "catch_all", "--catch-all / MAILIY_CATCH_ALL"),
    (
        "defaultTier",
        "default_tier",
        "--default-tier / MAILIY_DEFAULT_TIER",
    ),
    (
        "defaultTtlMinutes",
        "default_ttl",
        "--default-ttl / MAILIY_DEFAULT_TTL",
    ),
    ("relay", "smtp_relay", "--smtp-relay / MAILIY_SMTP_RELAY"),
];

/// The validated configuration of one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub smtp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The implicit-TLS SMTP listener (port-465 style), when one is asked for.
    pub smtps_addr: Option<SocketAddr>,
    /// Where the certificate for STARTTLS and implicit TLS comes from. Outside [`SmtpConfig`],
    /// which every session copies.
    pub smtp_tls: crate::tls::CertSource,
    pub data_dir: PathBuf,
    /// The domain of generated addresses.
    pub domain: String,
    /// Which SMTP logins are taken. Outside [`SmtpConfig`], which every session copies.
    pub smtp_auth: SmtpAuth,
    /// When set, mail to any address is accepted; its mailbox is made on first mail with this tier.
    pub catch_all: Option<Tier>,
    pub default_tier: Tier,
    pub default_ttl_minutes: u32,
    pub tiers: Tiers,
    pub smtp: SmtpConfig,
    /// How long running SMTP transactions and HTTP requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// How long before its expiry a mailbox is announced as expiring (zero: never).
    pub expiry_warning: Duration,
    /// Require the API token even on a loopback bind (always required on other addresses).
    pub require_token: bool,
    /// Settings given by flag or variable for this run: stored values do not override them.
    pub pinned: Pinned,
    pub sync: SyncConfig,
    /// Faults on demand to put in force at start (the JSON of `PUT /v1/faults`).
    pub faults_file: Option<PathBuf>,
    /// Most keys in the greylist and in the rate-limit table, each.
    pub faults_max_entries: usize,
    /// Refused SMTP attempts kept in memory for `GET /v1/refusals`, and how long each is kept.
    pub refusals_max: usize,
    pub refusals_max_age: Duration,
    /// The message checks: HTML compatibility, links, SpamAssassin.
    pub checks: crate::check_config::ChecksConfig,
    /// Tags kept per message, and the longest tag in characters (more are dropped).
    pub tags: crate::tags::TagLimits,
    /// Where released mail goes (`--smtp-relay`), when set.
    pub relay: Option<crate::relay_config::RelayConfig>,
    /// How big one step of freeing a deleted mailbox and of vacuuming may be.
    pub store: StoreTuning,
}

impl Config {
    /// Every default, with the given data directory. Ports are the documented defaults.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        let mut args = EngineArgs::defaults();
        args.data_dir = Some(data_dir);
        // Defaults are valid by construction; the test below keeps them so.
        args.resolve()
            .unwrap_or_else(|e| panic!("default config invalid: {e}"))
    }
}

/// How much one step of the store's upkeep may do (store/purge.rs): bounds on how long other
/// mail waits while a big mailbox is freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTuning {
    /// Messages freed per step; a mailbox with at most this many is deleted at once.
    pub purge_chunk: u32,
    /// Free pages handed back to the file system per step.
    pub vacuum_step_pages: u32,
}

const DEFAULT_PURGE_CHUNK: u32 = 100;
const DEFAULT_VACUUM_STEP_PAGES: u32 = 1024;

impl Default for StoreTuning {
    fn default() -> StoreTuning {
        StoreTuning {
            purge_chunk: DEFAULT_PURGE_CHUNK,
            vacuum_step_pages: DEFAULT_VACUUM_STEP_PAGES,
        }
    }
}

/// A byte size on the command line: `5242880`, `5MiB`, `5M`, `512KiB`, `1GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{s:?} is not a size (e.g. 5MiB)"))?;
        let mult = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1024,
            "m" | "mb" | "mib" => MIB,
            "g" | "gb" | "gib" => 1024 * MIB,
            other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1024 * MIB) && self.0 > 0 {
            write!(f, "{}GiB", self.0 / (1024 * MIB))
        } else if self.0.is_multiple_of(MIB) && self.0 > 0 {
            write!(f, "{}MiB", self.0 / MIB)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Engine settings as flags and `MAILIY_*` variables; shared by every front door.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// SMTP listen address (port 0 picks a free port)
    #[arg(long, env = "MAILIY_SMTP", default_value = "127.0.0.1:1025")]
    pub smtp: SocketAddr,
    /// SMTP with implicit TLS (the port-465 style: the handshake comes first) on this address
    /// [default: off]
    #[arg(long, env = "MAILIY_SMTPS", value_name = "ADDR")]
    pub smtps: Option<SocketAddr>,
    /// HTTP API and web UI listen address (port 0 picks a free port)
    #[arg(long, env = "MAILIY_HTTP", default_value = "127.0.0.1:8025")]
    pub http: SocketAddr,
    /// Data directory holding the SQLite store [default: the OS data dir + /mailiy]
    #[arg(long, env = "MAILIY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Domain of generated addresses
    #[arg(long, env = "MAILIY_DOMAIN", default_value = "mailiy.localhost")]
    pub domain: String,
    /// Accept mail to any address at any domain, creating its mailbox on first mail with TIER
    #[arg(long, env = "MAILIY_CATCH_ALL", value_name = "TIER")]
    pub catch_all: Option<Tier>,
    /// Tier of new mailboxes when none is asked for
    #[arg(long, env = "MAILIY_DEFAULT_TIER", default_value = "anon")]
    pub default_tier: Tier,
    /// Lifetime in minutes of new mailboxes when none is asked for (bounded by the tier)
    #[arg(long, env = "MAILIY_DEFAULT_TTL", default_value_t = 60)]
    pub default_ttl: u32,

    /// anon tier: largest message
    #[arg(long, env = "MAILIY_ANON_MAX_MESSAGE", default_value = "5MiB")]
    pub anon_max_message: ByteSize,
    /// anon tier: storage per mailbox
    #[arg(long, env = "MAILIY_ANON_MAX_STORAGE", default_value = "25MiB")]
    pub anon_max_storage: ByteSize,
    /// anon tier: longest lifetime in minutes
    #[arg(long, env = "MAILIY_ANON_MAX_TTL", default_value_t = 60)]
    pub anon_max_ttl: u32,
    /// free tier: largest message
    #[arg(long, env = "MAILIY_FREE_MAX_MESSAGE", default_value = "10MiB")]
    pub free_max_message: ByteSize,
    /// free tier: storage per mailbox
    #[arg(long, env = "MAILIY_FREE_MAX_STORAGE", default_value = "100MiB")]
    pub free_max_storage: ByteSize,
    /// free tier: longest lifetime in minutes
    #[arg(long, env = "MAILIY_FREE_MAX_TTL", default_value_t = 1440)]
    pub free_max_ttl: u32,
    /// pro tier: largest message
    #[arg(long, env = "MAILIY_PRO_MAX_MESSAGE", default_value = "50MiB")]
    pub pro_max_message: ByteSize,
    /// pro tier: storage per mailbox
    #[arg(long, env = "MAILIY_PRO_MAX_STORAGE", default_value = "1GiB")]
    pub pro_max_storage: ByteSize,
    /// pro tier: longest lifetime in minutes
    #[arg(long, env = "MAILIY_PRO_MAX_TTL", default_value_t = 43200)]
    pub pro_max_ttl: u32,

    /// SMTP: name in the greeting [default: the domain]
    #[arg(long, env = "MAILIY_SMTP_HOSTNAME")]
    pub smtp_hostname: Option<String>,
    /// SMTP: most connections at once
    #[arg(long, env = "MAILIY_SMTP_MAX_CONNECTIONS", default_value_t = 1000)]
    pub smtp_max_connections: usize,
    /// SMTP: most recipients per message
    #[arg(long, env = "MAILIY_SMTP_MAX_RECIPIENTS", default_value_t = 100)]
    pub smtp_max_recipients: usize,
    /// SMTP: seconds a client may stay silent
    #[arg(long, env = "MAILIY_SMTP_IDLE_TIMEOUT", default_value_t = 300)]
    pub smtp_idle_timeout: u64,
    /// SMTP: seconds a whole session may last
    #[arg(long, env = "MAILIY_SMTP_SESSION_TIMEOUT", default_value_t = 1800)]
    pub smtp_session_timeout: u64,
    /// SMTP: bad commands a session may send before it is closed
    #[arg(long, env = "MAILIY_SMTP_MAX_ERRORS", default_value_t = 20)]
    pub smtp_max_errors: u32,
    /// SMTP: logins taken: any (every user and password), off (AUTH not offered), or
    /// file:PATH (`user:bcrypt-hash` lines, as `htpasswd -nB` makes; CRAM-MD5 is then not
    /// offered). An authenticated user's mail to unknown addresses lands in its own inbox
    #[arg(
        long,
        env = "MAILIY_SMTP_AUTH",
        value_name = "MODE",
        default_value = "any"
    )]
    pub smtp_auth: SmtpAuth,
    /// Deprecated: the same as --smtp-auth any (the default now)
    #[arg(long, env = "MAILIY_SMTP_AUTH_ACCEPT_ANY", hide = true)]
    pub smtp_auth_accept_any: bool,
    /// SMTP: certificate (PEM) for STARTTLS and --smtps, with --smtp-tls-key [default: one
    /// made on first start in the data directory, tls-cert.pem]
    #[arg(long, env = "MAILIY_SMTP_TLS_CERT", value_name = "PEM")]
    pub smtp_tls_cert: Option<PathBuf>,
    /// SMTP: private key (PEM) of --smtp-tls-cert [default: tls-key.pem in the data directory]
    #[arg(long, env = "MAILIY_SMTP_TLS_KEY", value_name = "PEM")]
    pub smtp_tls_key: Option<PathBuf>,
    /// SMTP: refuse MAIL and AUTH with 530 until the client has done STARTTLS
    #[arg(long, env = "MAILIY_SMTP_REQUIRE_TLS")]
    pub smtp_require_tls: bool,
    /// SMTP: lines of a session's transcript kept (commands and replies, never content)
    #[arg(long, env = "MAILIY_SMTP_TRANSCRIPT_LINES", default_value_t = 200)]
    pub smtp_transcript_lines: usize,
    /// SMTP: bytes of a session's transcript kept
    #[arg(long, env = "MAILIY_SMTP_TRANSCRIPT_BYTES", default_value = "16KiB")]
    pub smtp_transcript_bytes: ByteSize,
    /// SMTP: refused attempts kept in memory for GET /v1/refusals
    #[arg(long, env = "MAILIY_REFUSALS_MAX", default_value_t = 1000)]
    pub refusals_max: usize,
    /// SMTP: seconds a refused attempt is kept
    #[arg(long, env = "MAILIY_REFUSALS_MAX_AGE", default_value_t = 3600)]
    pub refusals_max_age: u64,
    /// Tags kept per message (from X-Tags or the API; more are dropped)
    #[arg(long, env = "MAILIY_TAGS_MAX", default_value_t = 20)]
    pub tags_max: usize,
    /// Longest tag kept, in characters (a longer one is cut)
    #[arg(long, env = "MAILIY_TAG_MAX_LENGTH", default_value_t = 64)]
    pub tag_max_length: usize,
    /// Store: messages freed per step when a big mailbox is deleted or expires (it is hidden at
    /// once; other mail waits at most one step); a mailbox with at most this many goes at once
    #[arg(long, env = "MAILIY_PURGE_CHUNK", default_value_t = DEFAULT_PURGE_CHUNK, value_parser = clap::value_parser!(u32).range(1..))]
    pub purge_chunk: u32,
    /// Store: free pages (4 KiB) given back to the file system per step after a big delete
    #[arg(long, env = "MAILIY_VACUUM_STEP_PAGES", default_value_t = DEFAULT_VACUUM_STEP_PAGES, value_parser = clap::value_parser!(u32).range(1..))]
    pub vacuum_step_pages: u32,
    /// Seconds running transactions get to finish at shutdown
    #[arg(long, env = "MAILIY_SHUTDOWN_GRACE", default_value_t = 5)]
    pub shutdown_grace: u64,
    /// Minutes before a mailbox expires that `mailbox.expiring` is announced (once per expiry;
    /// the desktop app warns then about unread mail); mailboxes that live shorter are not; 0 = never
    #[arg(long, env = "MAILIY_EXPIRY_WARNING_MINUTES", default_value_t = 5)]
    pub expiry_warning_minutes: u64,
    /// Require `Authorization: Bearer TOKEN` on loopback too (always required on other binds)
    #[arg(long, env = "MAILIY_REQUIRE_TOKEN")]
    pub require_token: bool,

    /// Faults on demand at start: a JSON file in the form of `PUT /v1/faults` [default: off]
    #[arg(long, env = "MAILIY_FAULTS", value_name = "FILE.json")]
    pub faults: Option<PathBuf>,
    /// Faults: most (client, sender, recipient) keys greylisted, and most keys rate-limited
    #[arg(long, env = "MAILIY_FAULTS_MAX_ENTRIES", default_value_t = 10_000)]
    pub faults_max_entries: usize,

    /// Sync: seconds to connect to a remote endpoint
    #[arg(long, env = "MAILIY_SYNC_CONNECT_TIMEOUT", default_value_t = 10)]
    pub sync_connect_timeout: u64,
    /// Sync: seconds one request to a remote may take, its whole answer included
    #[arg(long, env = "MAILIY_SYNC_REQUEST_TIMEOUT", default_value_t = 60)]
    pub sync_request_timeout: u64,
    /// Sync: seconds a remote event stream may go without a complete line (it heartbeats every 15 s)
    #[arg(long, env = "MAILIY_SYNC_IDLE_TIMEOUT", default_value_t = 45)]
    pub sync_idle_timeout: u64,
    /// Sync: milliseconds before the first retry after a failure (doubles each time, ±20 % jitter)
    #[arg(long, env = "MAILIY_SYNC_RETRY_MIN_MS", default_value_t = 1000)]
    pub sync_retry_min_ms: u64,
    /// Sync: longest wait between retries in milliseconds (also the pace after a refused key)
    #[arg(long, env = "MAILIY_SYNC_RETRY_MAX_MS", default_value_t = 300_000)]
    pub sync_retry_max_ms: u64,
    /// Sync: seconds a long-poll asks the remote to hold (at most 60)
    #[arg(long, env = "MAILIY_SYNC_POLL_WAIT", default_value_t = 25)]
    pub sync_poll_wait: u64,
    /// Sync: seconds between re-reads of each remote mailbox (to follow expiry changes made there)
    #[arg(long, env = "MAILIY_SYNC_REFRESH", default_value_t = 60)]
    pub sync_refresh: u64,
    /// Sync: largest JSON answer read from a remote
    #[arg(long, env = "MAILIY_SYNC_MAX_JSON", default_value = "4MiB")]
    pub sync_max_json: ByteSize,
    /// Sync: longest line or event read from a remote's event stream
    #[arg(long, env = "MAILIY_SYNC_MAX_EVENT", default_value = "256KiB")]
    pub sync_max_event: ByteSize,
    /// Sync: follow remotes by their event stream (auto) or by long-poll only (poll)
    #[arg(long, env = "MAILIY_SYNC_TRANSPORT", default_value = "auto")]
    pub sync_transport: SyncTransport,

    #[command(flatten)]
    pub checks: crate::check_config::ChecksArgs,
    #[command(flatten)]
    pub relay: crate::relay_config::RelayArgs,
}

/// The engine's flags as a command of their own, for reading them without the CLI around them.
#[derive(clap::Parser)]
struct Standalone {
    #[command(flatten)]
    args: EngineArgs,
}

impl EngineArgs {
    /// The defaults, as `--help` shows them.
    pub fn defaults() -> EngineArgs {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Standalone::command().get_matches_from(["mailiy"]);
        // Parsing an empty command line only fails if a default is malformed: a bug, caught by tests.
        Standalone::from_arg_matches(&matches)
            .map(|w| w.args)
            .unwrap_or_else(|e| panic!("bad defaults: {e}"))
    }

    /// The config from parsed flags and `MAILIY_*` variables, knowing which settings they gave
    /// explicitly (those are pinned for this run: see [`Pinned`]).
    pub fn config_from(matches: &clap::ArgMatches) -> Result<Config> {
        use clap::parser::ValueSource;
        use clap::FromArgMatches;
        let args = EngineArgs::from_arg_matches(matches)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let mut config = args.resolve()?;
        config.pinned = PINNABLE
            .iter()
            .filter(|(_, id, _)| {
                matches!(
                    matches.value_source(id),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(|(name, _, _)| name.to_string())
            .collect();
        Ok(config)
    }

    /// The config from `MAILIY_*` variables alone: how the desktop app reads them.
    pub fn config_from_env() -> Result<Config> {
        use clap::CommandFactory;
        let matches = Standalone::command()
            .try_get_matches_from(["mailiy"])
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        EngineArgs::config_from(&matches)
    }

    fn sync_config(&self) -> Result<SyncConfig> {
        let positive = [
            self.sync_connect_timeout,
            self.sync_request_timeout,
            self.sync_idle_timeout,
            self.sync_retry_min_ms,
            self.sync_refresh,
        ];
        if positive.contains(&0) {
            return Err(Error::InvalidInput(
                "sync timeouts, the refresh interval and the first retry delay must be above 0"
                    .into(),
            ));
        }
        if self.sync_retry_max_ms < self.sync_retry_min_ms {
            return Err(Error::InvalidInput(
                "--sync-retry-max-ms must be at least --sync-retry-min-ms".into(),
            ));
        }
        if self.sync_poll_wait > 60 {
            return Err(Error::InvalidInput(
                "--sync-poll-wait is at most 60 seconds (the API's longest wait)".into(),
            ));
        }
        if self.sync_max_json.0 < 1024 || self.sync_max_event.0 < 1024 {
            return Err(Error::InvalidInput(
                "--sync-max-json and --sync-max-event must be at least 1KiB".into(),
            ));
        }
        Ok(SyncConfig {
            connect_timeout: Duration::from_secs(self.sync_connect_timeout),
            request_timeout: Duration::from_secs(self.sync_request_timeout),
            idle_timeout: Duration::from_secs(self.sync_idle_timeout),
            retry_min: Duration::from_millis(self.sync_retry_min_ms),
            retry_max: Duration::from_millis(self.sync_retry_max_ms),
            poll_wait: Duration::from_secs(self.sync_poll_wait),
            refresh: Duration::from_secs(self.sync_refresh),
            max_json_bytes: self.sync_max_json.0,
            max_event_bytes: usize::try_from(self.sync_max_event.0).unwrap_or(usize::MAX),
            transport: self.sync_transport,
        })
    }

    /// Validates the settings into a [`Config`].
    pub fn resolve(self) -> Result<Config> {
        let invalid = |m: String| Err(Error::InvalidInput(m));
        let sync = self.sync_config()?;
        let checks = self.checks.resolve()?;
        let relay = self.relay.resolve()?;
        let data_dir = match self.data_dir {
            Some(d) => d,
            None => match dirs::data_dir() {
                Some(d) => d.join("mailiy"),
                None => return invalid("no OS data directory here: pass --data-dir".into()),
            },
        };
        let domain = self
            .domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if domain.is_empty()
            || domain.len() > 253
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return invalid(format!("--domain {:?} is not a domain name", self.domain));
        }
        let tier = |name: &str, msg: ByteSize, storage: ByteSize, ttl: u32| {
            if msg.0 == 0 || storage.0 < msg.0 || ttl == 0 {
                Err(Error::InvalidInput(format!(
                    "{name} tier: the message cap must be > 0 and at most the storage cap, and the TTL > 0"
                )))
            } else {
                Ok(TierLimits {
                    max_message_bytes: msg.0,
                    max_storage_bytes: storage.0,
                    max_ttl_minutes: ttl,
                })
            }
        };
        let tiers = Tiers {
            anon: tier(
                "anon",
                self.anon_max_message,
                self.anon_max_storage,
                self.anon_max_ttl,
            )?,
            free: tier(
                "free",
                self.free_max_message,
                self.free_max_storage,
                self.free_max_ttl,
            )?,
            pro: tier(
                "pro",
                self.pro_max_message,
                self.pro_max_storage,
                self.pro_max_ttl,
            )?,
        };
        if self.default_ttl == 0 {
            return invalid("--default-ttl must be at least 1 minute".into());
        }
        if self.smtp_max_connections == 0 || self.smtp_max_recipients == 0 {
            return invalid("SMTP connection and recipient limits must be at least 1".into());
        }
        if self.smtp_idle_timeout == 0 || self.smtp_session_timeout == 0 {
            return invalid("SMTP timeouts must be at least 1 second".into());
        }
        if self.faults_max_entries == 0 {
            return invalid("--faults-max-entries must be at least 1".into());
        }
        // The old switch is kept for v1's command lines; it names the mode that is the default.
        let smtp_auth = if self.smtp_auth_accept_any {
            SmtpAuth::Any
        } else {
            self.smtp_auth
        };
        let lan = !self.smtp.ip().is_loopback()
            || !self.http.ip().is_loopback()
            || self.smtps.is_some_and(|a| !a.ip().is_loopback());
        if lan && smtp_auth == SmtpAuth::Off {
            return invalid(
                "--smtp-auth off on a LAN address: LAN mode needs AUTH (use --smtp-auth any or file:PATH)"
                    .into(),
            );
        }
        let hostname = self.smtp_hostname.unwrap_or_else(|| domain.clone());
        let tls = match (self.smtp_tls_cert, self.smtp_tls_key) {
            (Some(cert), Some(key)) => crate::tls::CertSource::Files { cert, key },
            (None, None) => crate::tls::CertSource::Generated {
                data_dir: data_dir.clone(),
                names: crate::tls::local_names(&hostname),
            },
            _ => {
                return invalid(
                    "--smtp-tls-cert and --smtp-tls-key go together: give both or neither".into(),
                )
            }
        };
        Ok(Config {
            smtp_addr: self.smtp,
            http_addr: self.http,
            smtps_addr: self.smtps,
            smtp_tls: tls,
            data_dir,
            domain,
            smtp_auth,
            catch_all: self.catch_all,
            default_tier: self.default_tier,
            default_ttl_minutes: self.default_ttl,
            tiers,
            smtp: SmtpConfig {
                hostname,
                max_connections: self.smtp_max_connections,
                max_recipients: self.smtp_max_recipients,
                idle_timeout: Duration::from_secs(self.smtp_idle_timeout),
                session_timeout: Duration::from_secs(self.smtp_session_timeout),
                max_errors: self.smtp_max_errors,
                require_tls: self.smtp_require_tls,
                transcript_max_lines: self.smtp_transcript_lines,
                transcript_max_bytes: self.smtp_transcript_bytes.0 as usize,
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            expiry_warning: Duration::from_secs(self.expiry_warning_minutes.saturating_mul(60)),
            require_token: self.require_token,
            pinned: Default::default(),
            sync,
            faults_file: self.faults,
            faults_max_entries: self.faults_max_entries,
            refusals_max: self.refusals_max,
            refusals_max_age: Duration::from_secs(self.refusals_max_age),
            checks,
            tags: crate::tags::TagLimits {
                max_count: self.tags_max,
                max_length: self.tag_max_length,
            },
            relay,
            store: StoreTuning {
                purge_chunk: self.purge_chunk,
                vacuum_step_pages: self.vacuum_step_pages,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_to_the_documented_tiers() {
        let c = Config::with_data_dir("/tmp/x".into());
        assert_eq!(c.tiers, Tiers::default());
        assert_eq!(c.smtp_addr.to_string(), "127.0.0.1:1025");
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8025");
        assert_eq!(c.tiers.largest_message_bytes(), 50 * MIB);
        assert_eq!(c.default_ttl_minutes, 60);
        assert_eq!(c.store, StoreTuning::default());
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!("5MiB".parse::<ByteSize>().unwrap().0, 5 * MIB);
        assert_eq!("512k".parse::<ByteSize>().unwrap().0, 512 * 1024);
        assert_eq!("42".parse::<ByteSize>().unwrap().0, 42);
        assert!("5XB".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(25 * MIB).to_string(), "25MiB");
    }

    #[test]
    fn invalid_values_fail_instead_of_defaulting() {
        let mut a = EngineArgs::defaults();
        a.anon_max_storage = ByteSize(1);
        assert!(a.resolve().is_err());
        let mut a = EngineArgs::defaults();
        a.domain = "bad domain".into();
        assert!(a.resolve().is_err());
        let mut a = EngineArgs::defaults();
        a.smtp_tls_cert = Some("/tmp/cert.pem".into());
        assert!(a.resolve().is_err(), "a certificate without its key");
    }
}

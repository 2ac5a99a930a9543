//! The engine's typed errors.

use std::path::PathBuf;

/// Everything an engine operation can fail with; callers match on the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("mailbox not found")]
    MailboxNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("attachment not found")]
    AttachmentNotFound,
    #[error("the address {0} is already taken")]
    AddressTaken(String),
    #[error("{0}")]
    InvalidInput(String),
    /// A search query that cannot be parsed; `position` counts characters from 1.
    #[error("{message} at {position}")]
    InvalidQuery { message: String, position: usize },
    /// A fault configuration that cannot be used; the message names the field.
    #[error("faults: {0}")]
    InvalidFaults(String),
    /// A setting fixed by a flag or variable for this run.
    #[error("{0}")]
    Pinned(String),
    #[error("could not bind {what} to {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A TLS certificate or key that cannot be read, made or used.
    #[error("TLS certificate {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    /// The `--smtp-auth file:PATH` users file cannot be read, or one of its lines is malformed
    /// (`line` 0: the file as a whole).
    #[error("SMTP users file {path}{}: {reason}", if *line > 0 { format!(", line {line}") } else { String::new() })]
    Credentials {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Release or relay (`--smtp-relay`) could not be done.
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("the write could not be committed: {0}")]
    CommitFailed(String),
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A remote Mailiy endpoint (sync) failed or refused.
    #[error("{0}")]
    Remote(#[from] RemoteError),
    /// A background task (a sync thread, an event reader) ended without its answer.
    #[error("a background task failed: {0}")]
    Worker(String),
    /// A mailbox lives on a remote account, and this engine has no way to reach remotes
    /// (opened without the sync workers, as tests and the fuzzer do).
    #[error("remote accounts are not available in this engine")]
    NoRemotes,
}

/// What went wrong talking to a remote Mailiy endpoint. Every variant is a clear, key-free
/// sentence; a local failure while syncing is an [`Error`] of its own kind, never one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    #[error("the remote cannot be reached: {0}")]
    Unreachable(String),
    #[error("the remote did not answer in time")]
    TimedOut,
    #[error("the remote's event stream sent no complete line for {0} s")]
    Stalled(u64),
    #[error("the remote refused the API key (HTTP {0})")]
    AuthFailed(u16),
    #[error("the remote answered HTTP {0} with a redirect to {1}; redirects are not followed")]
    Redirect(u16, String),
    #[error("the remote refused the request: HTTP {status} {code} {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the remote's answer is unusable: {0}")]
    BadAnswer(String),
}

impl RemoteError {
    /// A 404 from the remote with this API error code.
    pub fn is_not_found(&self, code: &str) -> bool {
        matches!(self, RemoteError::Refused { status: 404, code: c, .. } if c == code)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a message was not sent on through the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("no relay is set (--smtp-relay HOST:PORT, or the relay in the settings view)")]
    NotConfigured,
    #[error("{0} is not a recipient mail may be released to (--smtp-relay-allow)")]
    NotAllowed(String),
    /// The message would come back to us.
    #[error("relay loop refused: {0}")]
    Loop(String),
    /// The relay could not be reached, or refused the message; nothing changed here.
    #[error("relay failed: {0}")]
    Failed(String),
}

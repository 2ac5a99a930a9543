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
    Remote(#[from] crate::sync::SyncError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

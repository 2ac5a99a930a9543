//! Mailboxes that live on a remote Mailiy endpoint: the engine decides that a call goes there,
//! and the sync worker (above the engine) knows how. The server lends the engine its accounts.

use super::{BoxFuture, Engine, ExpiryChange, MailboxRequest};
use crate::error::Result;
use crate::model::Mailbox;

/// Create, move and delete mailboxes on a remote account, keeping their local mirrors.
pub trait RemoteMailboxes: Send + Sync {
    /// Creates a mailbox on account `account` and its local mirror (announced as created).
    fn create<'a>(
        &'a self,
        engine: &'a Engine,
        account: &'a str,
        req: MailboxRequest,
    ) -> BoxFuture<'a, Result<Mailbox>>;

    /// Moves a mirror's expiry on its remote; returns the mirror as the remote decided.
    fn extend<'a>(
        &'a self,
        engine: &'a Engine,
        mirror: &'a Mailbox,
        change: ExpiryChange,
    ) -> BoxFuture<'a, Result<Mailbox>>;

    /// Deletes a mirror's mailbox on its remote (gone there already counts as done); the
    /// engine then removes the mirror.
    fn delete<'a>(&'a self, engine: &'a Engine, mirror: &'a Mailbox) -> BoxFuture<'a, Result<()>>;
}

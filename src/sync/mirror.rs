//! Mailboxes on a remote account: created, moved and deleted there first, with their local
//! mirrors following what the remote decided. This is how the engine's [`RemoteMailboxes`]
//! calls reach a remote.

use std::sync::Arc;

use serde::Deserialize;

use super::client::{seg, Endpoint};
use super::{blocking, Accounts};
use crate::clock::{now_ms, parse_rfc3339, to_rfc3339, Millis};
use crate::config::Tier;
use crate::engine::{BoxFuture, Engine, ExpiryChange, MailboxRequest, RemoteMailboxes};
use crate::error::{Error, RemoteError, Result};
use crate::ids;
use crate::model::{Mailbox, Origin};
use crate::store::remotes::{self as store, Account};
use crate::store::NewMailbox;

/// Longest remote id (mailbox or message) taken into a URL path and the store.
const MAX_REMOTE_ID: usize = 128;
/// Longest address a remote may give a mailbox.
const MAX_ADDRESS: usize = 320;

impl RemoteMailboxes for Accounts {
    fn create<'a>(
        &'a self,
        engine: &'a Engine,
        account: &'a str,
        req: MailboxRequest,
    ) -> BoxFuture<'a, Result<Mailbox>> {
        Box::pin(create_mailbox(self, engine, account, req))
    }

    fn extend<'a>(
        &'a self,
        engine: &'a Engine,
        mirror: &'a Mailbox,
        change: ExpiryChange,
    ) -> BoxFuture<'a, Result<Mailbox>> {
        Box::pin(extend_mailbox(engine, mirror, change))
    }

    fn delete<'a>(&'a self, engine: &'a Engine, mirror: &'a Mailbox) -> BoxFuture<'a, Result<()>> {
        Box::pin(delete_on_remote(engine, mirror))
    }
}

/// A mailbox as a remote answers for it, checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RemoteMailbox {
    pub(super) id: String,
    pub(super) address: String,
    pub(super) tier: Tier,
    pub(super) expires_at: String,
}

/// The checked parts of a remote mailbox.
pub(super) struct CheckedMailbox {
    pub(super) id: String,
    pub(super) address: String,
    pub(super) tier: Tier,
    pub(super) expires_at: Millis,
}

pub(super) fn check_remote_id(what: &str, id: &str) -> std::result::Result<(), RemoteError> {
    if id.is_empty() || id.len() > MAX_REMOTE_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RemoteError::BadAnswer(format!(
            "a {what} id is empty, longer than {MAX_REMOTE_ID} bytes or not visible ASCII"
        )));
    }
    Ok(())
}

impl RemoteMailbox {
    pub(super) fn check(self) -> std::result::Result<CheckedMailbox, RemoteError> {
        check_remote_id("mailbox", &self.id)?;
        let address = self.address.trim().to_lowercase();
        let well_formed = address.len() <= MAX_ADDRESS
            && address
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
            && address
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control());
        if !well_formed {
            return Err(RemoteError::BadAnswer(
                "a mailbox address is not an address".into(),
            ));
        }
        let expires_at = parse_rfc3339(&self.expires_at).ok_or_else(|| {
            RemoteError::BadAnswer("a mailbox expiresAt is not an RFC 3339 time".into())
        })?;
        Ok(CheckedMailbox {
            id: self.id,
            address,
            tier: self.tier,
            expires_at,
        })
    }
}

fn endpoint(engine: &Engine, a: &Account) -> Arc<Endpoint> {
    Arc::new(Endpoint::new(&a.url, &a.api_key, &engine.config().sync))
}

async fn account_of(engine: &Engine, id: &str) -> Result<Account> {
    let key = id.to_string();
    engine
        .store()
        .read(move |c| store::account(c, &key))
        .await?
        .ok_or_else(|| Error::InvalidInput(format!("there is no remote account {id:?}")))
}

/// Creates a mailbox on a remote account and its local mirror.
async fn create_mailbox(
    accounts: &Accounts,
    engine: &Engine,
    remote_id: &str,
    req: MailboxRequest,
) -> Result<Mailbox> {
    let account = account_of(engine, remote_id).await?;
    let mut body = serde_json::Map::new();
    if let Some(t) = req.tier {
        body.insert("tier".into(), t.as_str().into());
    }
    if let Some(n) = req.ttl_minutes {
        body.insert("ttlMinutes".into(), n.into());
    }
    if let Some(at) = req.expires_at {
        body.insert("expiresAt".into(), to_rfc3339(at).into());
    }
    if let Some(lp) = req.local_part {
        body.insert("localPart".into(), lp.into());
    }
    if let Some(d) = req.domain {
        body.insert("domain".into(), d.into());
    }
    let ep = endpoint(engine, &account);
    let call = ep.clone();
    let created: RemoteMailbox =
        blocking(move || call.send("POST", "/v1/mailbox", &serde_json::Value::Object(body)))
            .await?;
    let m = created.check()?;
    let now = now_ms();
    if m.expires_at <= now {
        return Err(RemoteError::BadAnswer("the new mailbox has already expired".into()).into());
    }
    let new = NewMailbox {
        id: ids::new_id("mbx"),
        address: m.address,
        tier: m.tier,
        created_at: now,
        expires_at: m.expires_at,
        origin: Origin::Remote,
        remote: Some(account.id.clone()),
        smtp_user: None,
    };
    let (rid, remote_mailbox_id) = (account.id.clone(), m.id.clone());
    let stored = engine
        .store()
        .write(move |c| store::insert_tracked(c, &new, &rid, &remote_mailbox_id))
        .await;
    let mailbox = match stored {
        Ok(mailbox) => mailbox,
        Err(e) => {
            // The mirror cannot be made (its address is taken here): undo the remote one.
            let path = format!("/v1/mailbox/{}", seg(&m.id));
            if let Err(undo) = blocking(move || ep.delete(&path)).await {
                tracing::warn!(remote = %account.id, error = %undo, "sync: could not undo a remote mailbox");
            }
            return Err(e);
        }
    };
    engine.mailbox_created(&mailbox);
    tracing::info!(mailbox = %mailbox.id, remote = %account.id, "remote mailbox created");
    if let Some(rt) = accounts.runtime(&account.id) {
        rt.changed.notify_one();
    }
    Ok(mailbox)
}

/// The account and remote id behind a mirror.
async fn mirror_of(engine: &Engine, m: &Mailbox) -> Result<(Account, String)> {
    let key = m.id.clone();
    let (remote_id, remote_mailbox_id) = engine
        .store()
        .read(move |c| store::remote_of(c, &key))
        .await?
        .ok_or(Error::MailboxNotFound)?;
    Ok((account_of(engine, &remote_id).await?, remote_mailbox_id))
}

/// Moves a mirror's expiry on its remote, then mirrors what the remote decided.
async fn extend_mailbox(engine: &Engine, m: &Mailbox, change: ExpiryChange) -> Result<Mailbox> {
    let (account, remote_mailbox_id) = mirror_of(engine, m).await?;
    let body = match change {
        ExpiryChange::ExtendMinutes(n) => serde_json::json!({ "extendMinutes": n }),
        ExpiryChange::At(at) => serde_json::json!({ "expiresAt": to_rfc3339(at) }),
    };
    let ep = endpoint(engine, &account);
    let path = format!("/v1/mailbox/{}", seg(&remote_mailbox_id));
    let answer: Result<RemoteMailbox> = blocking(move || ep.send("PATCH", &path, &body)).await;
    let updated = match answer {
        Ok(a) => a.check()?,
        Err(Error::Remote(e)) if e.is_not_found("mailbox_not_found") => {
            engine.remove_mailbox(&m.id, false).await?;
            return Err(Error::MailboxNotFound);
        }
        Err(e) => return Err(e),
    };
    let (id, at) = (m.id.clone(), updated.expires_at);
    engine
        .store()
        .write(move |c| store::set_expiry(c, &id, at))
        .await?;
    engine.mailbox(&m.id).await
}

/// Deletes a mirror's mailbox on its remote (gone there already counts as done).
async fn delete_on_remote(engine: &Engine, m: &Mailbox) -> Result<()> {
    let (account, remote_mailbox_id) = match mirror_of(engine, m).await {
        Ok(found) => found,
        // No account any more: nothing remote to delete.
        Err(Error::MailboxNotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let ep = endpoint(engine, &account);
    let path = format!("/v1/mailbox/{}", seg(&remote_mailbox_id));
    match blocking(move || ep.delete(&path)).await {
        Err(Error::Remote(e)) if e.is_not_found("mailbox_not_found") => Ok(()),
        done => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_mailboxes_are_checked() {
        let ok = RemoteMailbox {
            id: "mbx_1".into(),
            address: "A@b.c".into(),
            tier: Tier::Anon,
            expires_at: "2030-01-01T00:00:00.000Z".into(),
        };
        assert_eq!(ok.clone().check().unwrap().address, "a@b.c");
        for bad in [
            RemoteMailbox {
                id: "".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                id: "a/../b c".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                address: "no-at".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                address: "a b@c".into(),
                ..ok.clone()
            },
            RemoteMailbox {
                expires_at: "tomorrow".into(),
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err());
        }
    }
}

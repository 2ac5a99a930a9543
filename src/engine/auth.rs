//! SMTP login policy: which mechanisms are offered, whether a session must log in (LAN mode),
//! whether a login is good, and the inbox an authenticated user's mail lands in.

use super::mailboxes::{normalize_domain, normalize_local_part};
use super::Engine;
use crate::credentials::Credentials;
use crate::error::Result;

/// What AUTH looks like to one session, decided when it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthPolicy {
    /// AUTH PLAIN and LOGIN are offered.
    pub offered: bool,
    /// CRAM-MD5 is offered too (only when no password has to be checked against a hash).
    pub cram_md5: bool,
    /// MAIL waits for a login (LAN mode).
    pub required: bool,
    /// AUTH is offered only over TLS (LAN mode): secrets never cross the network in the clear.
    pub tls_only: bool,
}

/// The answer to one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVerdict {
    Accepted,
    /// Unknown user or wrong password.
    Refused,
    /// The user name cannot name an inbox (see [`Engine::user_inbox`]).
    BadUserName,
}

impl Engine {
    /// The logins this engine takes (`--smtp-auth`).
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// AUTH as it stands now: LAN mode (any listener on a non-loopback address) requires it,
    /// over TLS only. With `--smtp-auth off` on the LAN (reachable only by a settings change,
    /// as start-up refuses it) every MAIL is refused: the server fails closed.
    pub fn auth_policy(&self) -> AuthPolicy {
        let c = self.credentials();
        // Read in place: this runs at every EHLO and MAIL.
        let lan = self.inner.settings.borrow().lan_mode()
            || self
                .config()
                .smtps_addr
                .is_some_and(|a| !a.ip().is_loopback());
        AuthPolicy {
            offered: c.offered(),
            cram_md5: c.cram_md5(),
            required: lan,
            tls_only: lan,
        }
    }

    /// Checks a login; `password` is `None` for CRAM-MD5 (nothing a hash can check). Slow
    /// with a users file (bcrypt): call it on a blocking thread then.
    pub fn check_login(&self, user: &str, password: Option<&str>) -> AuthVerdict {
        if self.user_inbox(user).is_err() {
            return AuthVerdict::BadUserName;
        }
        if self.credentials().verify_blocking(user, password) {
            AuthVerdict::Accepted
        } else {
            AuthVerdict::Refused
        }
    }

    /// The inbox an SMTP user's otherwise unwanted mail lands in: the user name itself when it
    /// is an address, else `user@DOMAIN`; lower-case. A name that makes no valid address (a
    /// space, a character outside a-z, 0-9, `.`, `_`, `-`, `+`) is an error.
    pub fn user_inbox(&self, user: &str) -> Result<String> {
        let (local, domain) = match user.rsplit_once('@') {
            Some((local, domain)) => (local, normalize_domain(domain)?),
            None => (user, self.config().domain.to_lowercase()),
        };
        Ok(format!("{}@{domain}", normalize_local_part(local)?))
    }
}

//! The SMTP logins this server takes (`--smtp-auth`): any, none, or the users of a file of
//! `user:hash` lines, read once at start. Checking a bcrypt hash is slow on purpose (tens to
//! hundreds of milliseconds), so [`Credentials::verify_blocking`] is meant for a blocking
//! thread; the SMTP transport runs it there.

use std::collections::HashMap;
use std::path::Path;

use crate::config::SmtpAuth;
use crate::error::{Error, Result};

/// What a login is checked against.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Every user name and password is taken.
    Any,
    /// AUTH is not offered.
    Off,
    /// These users (as written in the file) and their bcrypt hashes.
    File(HashMap<String, String>),
}

impl Credentials {
    /// Reads the users file when the mode names one; a malformed line is an error naming it.
    pub fn load(mode: &SmtpAuth) -> Result<Credentials> {
        match mode {
            SmtpAuth::Any => Ok(Credentials::Any),
            SmtpAuth::Off => Ok(Credentials::Off),
            SmtpAuth::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::Credentials {
                    path: path.clone(),
                    line: 0,
                    reason: e.to_string(),
                })?;
                parse(path, &text).map(Credentials::File)
            }
        }
    }

    /// Whether AUTH is offered at all.
    pub fn offered(&self) -> bool {
        !matches!(self, Credentials::Off)
    }

    /// Whether CRAM-MD5 can be offered: it proves knowledge of the plaintext password, which a
    /// hash file does not hold, so only `any` (which checks nothing) offers it.
    pub fn cram_md5(&self) -> bool {
        matches!(self, Credentials::Any)
    }

    /// Checks a login. `password` is `None` when the mechanism (CRAM-MD5) gave nothing that can
    /// be checked against a hash. Slow with a users file: call it off the async workers.
    pub fn verify_blocking(&self, user: &str, password: Option<&str>) -> bool {
        match self {
            Credentials::Any => true,
            Credentials::Off => false,
            Credentials::File(users) => match (users.get(user), password) {
                (Some(hash), Some(password)) => bcrypt::verify(password, hash).unwrap_or(false),
                _ => false,
            },
        }
    }
}

/// `user:hash` per line; blank lines and `#` comments are skipped.
fn parse(path: &Path, text: &str) -> Result<HashMap<String, String>> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| Error::Credentials {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.into(),
        };
        let Some((user, hash)) = line.split_once(':') else {
            return Err(bad("expected user:hash"));
        };
        if user.is_empty() {
            return Err(bad("the user name is empty"));
        }
        // Only bcrypt: a line with another scheme would never match, so it is refused now.
        let scheme_ok = ["$2y$", "$2b$", "$2a$", "$2x$"]
            .iter()
            .any(|p| hash.starts_with(p));
        if !scheme_ok || hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(bad(
                "the hash is not bcrypt ($2y$/$2b$/$2a$, as htpasswd -nB makes)",
            ));
        }
        if users.insert(user.to_string(), hash.to_string()).is_some() {
            return Err(bad("the user is listed twice"));
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// shop / s3cret at cost 5 (fast enough for tests), in `htpasswd -nbB`'s `$2y$` form; the
    /// same line as tests/fixtures/smtp-users.
    const SHOP: &str = "shop:$2y$05$ZUDnZEj3JUXncFPzakSfGO.742cAfAKfxaTCiS4Et6/ewqROCI.a2";

    fn file(text: &str) -> Result<HashMap<String, String>> {
        parse(Path::new("users"), text)
    }

    #[test]
    fn a_users_file_takes_comments_and_checks_bcrypt() {
        let users = file(&format!("# apps\n\n{SHOP}\n")).unwrap();
        let c = Credentials::File(users);
        assert!(c.verify_blocking("shop", Some("s3cret")));
        assert!(!c.verify_blocking("shop", Some("wrong")));
        assert!(!c.verify_blocking("blog", Some("s3cret")));
        assert!(
            !c.verify_blocking("shop", None),
            "CRAM-MD5 cannot be checked"
        );
        assert!(!c.cram_md5());
    }

    #[test]
    fn a_malformed_line_is_named() {
        for (text, line, why) in [
            ("# x\nshop\n", 2, "expected user:hash"),
            (":$2y$05$abc\n", 1, "empty"),
            ("shop:{SHA}abc=\n", 1, "not bcrypt"),
            ("shop:$2y$05$short\n", 1, "not bcrypt"),
        ] {
            let e = file(text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("line {line}")) && e.contains(why),
                "{e}"
            );
        }
        let twice = format!("{SHOP}\n{SHOP}\n");
        assert!(file(&twice).unwrap_err().to_string().contains("line 2"));
    }
}

//! The SASL side of SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195)
//! decoded into a user name and, where the mechanism carries one, a password. Whether the login
//! is good is the [`Mailroom`](super::Mailroom)'s question; this file only speaks the exchange.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use smtp_proto::{AUTH_CRAM_MD5, AUTH_LOGIN, AUTH_PLAIN};

use crate::engine::AuthPolicy;

/// An AUTH mechanism this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mechanism {
    Plain,
    Login,
    CramMd5,
}

impl Mechanism {
    /// The mechanism smtp-proto parsed, if the policy offers it.
    pub(super) fn offered(mechanism: u64, policy: AuthPolicy) -> Option<Mechanism> {
        match mechanism {
            AUTH_PLAIN if policy.offered => Some(Mechanism::Plain),
            AUTH_LOGIN if policy.offered => Some(Mechanism::Login),
            AUTH_CRAM_MD5 if policy.offered && policy.cram_md5 => Some(Mechanism::CramMd5),
            _ => None,
        }
    }

    /// The EHLO line naming what the policy offers.
    pub(super) fn ehlo_line(policy: AuthPolicy) -> &'static str {
        if policy.cram_md5 {
            "AUTH PLAIN LOGIN CRAM-MD5"
        } else {
            "AUTH PLAIN LOGIN"
        }
    }
}

/// What the session does next in an exchange.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Reply `334 <text>` and read the client's next line.
    Challenge(String),
    /// The client's login. `password` is `None` for CRAM-MD5, whose digest needs the plaintext
    /// password to check.
    Done {
        user: String,
        password: Option<String>,
    },
    /// The exchange failed with this reply.
    Fail(&'static str),
}

const BAD_BASE64: &str = "501 5.5.2 Cannot decode the response (base64 expected)";
const MALFORMED: &str = "501 5.5.2 Malformed authentication response";
const CANCELLED: &str = "501 5.0.0 Authentication cancelled";

/// One exchange in progress, between `334` challenges.
#[derive(Debug)]
pub(super) struct Exchange {
    mechanism: Mechanism,
    /// LOGIN: the user name, once given.
    user: Option<String>,
}

impl Exchange {
    /// Starts an exchange; `initial` is the response given on the AUTH line (empty for none,
    /// `=` for an empty one). `host` names this server in CRAM-MD5's challenge.
    pub(super) fn start(mechanism: Mechanism, initial: &str, host: &str) -> (Exchange, Step) {
        let mut x = Exchange {
            mechanism,
            user: None,
        };
        let step = match (mechanism, initial) {
            (Mechanism::Plain, "") => Step::Challenge(String::new()),
            (Mechanism::Login, "") => Step::Challenge(BASE64.encode("Username:")),
            (Mechanism::CramMd5, "") => {
                let challenge = format!(
                    "<{}.{}@{host}>",
                    rand::random::<u32>(),
                    crate::clock::now_ms()
                );
                Step::Challenge(BASE64.encode(challenge))
            }
            // CRAM-MD5 has no initial response (the server speaks first).
            (Mechanism::CramMd5, _) => Step::Fail(MALFORMED),
            (_, initial) => x.respond(initial.as_bytes()),
        };
        (x, step)
    }

    /// The client's answer to the last challenge.
    pub(super) fn next(&mut self, line: &[u8]) -> Step {
        let line = line.trim_ascii();
        if line == b"*" {
            return Step::Fail(CANCELLED);
        }
        self.respond(line)
    }

    fn respond(&mut self, response: &[u8]) -> Step {
        let decoded = match response {
            b"=" => Vec::new(),
            r => match BASE64.decode(r) {
                Ok(d) => d,
                Err(_) => return Step::Fail(BAD_BASE64),
            },
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return Step::Fail(MALFORMED);
        };
        match self.mechanism {
            Mechanism::Plain => plain(&text),
            Mechanism::Login => match self.user.take() {
                None if text.is_empty() => Step::Fail(MALFORMED),
                None => {
                    self.user = Some(text);
                    Step::Challenge(BASE64.encode("Password:"))
                }
                Some(user) => Step::Done {
                    user,
                    password: Some(text),
                },
            },
            // "user hex-digest": the name is everything before the last space.
            Mechanism::CramMd5 => match text.rsplit_once(' ') {
                Some((user, digest)) if !user.is_empty() && !digest.is_empty() => Step::Done {
                    user: user.to_string(),
                    password: None,
                },
                _ => Step::Fail(MALFORMED),
            },
        }
    }
}

/// `authzid NUL authcid NUL password`; the login is the authentication identity.
fn plain(text: &str) -> Step {
    let mut parts = text.split('\0');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_authzid), Some(user), Some(password), None) if !user.is_empty() => Step::Done {
            user: user.to_string(),
            password: Some(password.to_string()),
        },
        _ => Step::Fail(MALFORMED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(user: &str, password: Option<&str>) -> Step {
        Step::Done {
            user: user.into(),
            password: password.map(Into::into),
        }
    }

    #[test]
    fn plain_login_and_cram_md5_give_the_user() {
        let (_, s) = Exchange::start(Mechanism::Plain, "AHNob3AAczNjcmV0", "h");
        assert_eq!(s, done("shop", Some("s3cret")));
        let (mut x, s) = Exchange::start(Mechanism::Plain, "", "h");
        assert_eq!(s, Step::Challenge(String::new()));
        assert_eq!(
            x.next(b"YWRtaW4Ac2hvcABzM2NyZXQ=\r\n"),
            done("shop", Some("s3cret"))
        );

        let (mut x, s) = Exchange::start(Mechanism::Login, "", "h");
        assert_eq!(s, Step::Challenge("VXNlcm5hbWU6".into()));
        assert_eq!(
            x.next(b"c2hvcA==\r\n"),
            Step::Challenge("UGFzc3dvcmQ6".into())
        );
        assert_eq!(x.next(b"czNjcmV0\r\n"), done("shop", Some("s3cret")));

        let (mut x, Step::Challenge(c)) = Exchange::start(Mechanism::CramMd5, "", "mx.test") else {
            panic!("CRAM-MD5 starts with a challenge")
        };
        let c = String::from_utf8(BASE64.decode(c).unwrap()).unwrap();
        assert!(c.starts_with('<') && c.ends_with("@mx.test>"), "{c}");
        let response = BASE64.encode("blog 0123456789abcdef0123456789abcdef");
        assert_eq!(x.next(response.as_bytes()), done("blog", None));
    }

    #[test]
    fn bad_responses_fail_with_501() {
        let (_, s) = Exchange::start(Mechanism::Plain, "not base64!", "h");
        assert_eq!(s, Step::Fail(BAD_BASE64));
        let (_, s) = Exchange::start(Mechanism::Plain, "=", "h");
        assert_eq!(s, Step::Fail(MALFORMED));
        let (_, s) = Exchange::start(Mechanism::Plain, &BASE64.encode("a\0b"), "h");
        assert_eq!(s, Step::Fail(MALFORMED));
        let (mut x, _) = Exchange::start(Mechanism::Login, "", "h");
        assert_eq!(x.next(b"*\r\n"), Step::Fail(CANCELLED));
        let (mut x, _) = Exchange::start(Mechanism::CramMd5, "", "h");
        assert_eq!(
            x.next(BASE64.encode("nospace").as_bytes()),
            Step::Fail(MALFORMED)
        );
    }
}

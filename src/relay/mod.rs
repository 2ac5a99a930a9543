//! Release and relay: a stored message sent on, unchanged, to the SMTP server the user set
//! (`--smtp-relay`). The raw bytes go as they were received, with two trace lines added at
//! the top (`Received:` and `X-Mailiy-Released:`); the envelope is chosen (release: the
//! recipients asked for; automatic relay: the copy's own envelope recipients).
//!
//! Loops are refused: never to one of our own SMTP listeners, and never a message that already
//! carries our own `X-Mailiy-Released` line (it came back to us through the relay).

mod auto;
pub mod deliveries;
pub mod mailpit;

use std::net::SocketAddr;

use lettre::address::Envelope as SmtpEnvelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::engine::Engine;
use crate::error::{Error, RelayError, Result};
use crate::relay_config::{RelayConfig, RelaySecurity};

pub(crate) use auto::run as run_auto;
pub use deliveries::RelayDelivery;

/// The trace header that marks mail sent on by a Mailiy (ours: with our instance id in it).
pub const RELEASED_HEADER: &str = "X-Mailiy-Released";

/// What a release did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Released {
    /// The relay, `HOST:PORT`.
    pub relay: String,
    pub to: Vec<String>,
    /// The relay's last reply ("250 2.0.0 Ok: queued as …").
    pub response: String,
}

/// Sends message `message_id` of mailbox `key` to `to` through the relay. The stored message
/// stays as it was whatever happens.
pub async fn release(
    engine: &Engine,
    key: &str,
    message_id: &str,
    to: &[String],
) -> Result<Released> {
    let cfg = current(engine).ok_or(Error::Relay(RelayError::NotConfigured))?;
    let cfg = &cfg;
    if to.is_empty() {
        return Err(Error::InvalidInput("to names no recipient".into()));
    }
    if to.len() > engine.config().smtp.max_recipients {
        return Err(Error::InvalidInput(format!(
            "at most {} recipients (--smtp-max-recipients)",
            engine.config().smtp.max_recipients
        )));
    }
    if let Some(refused) = to.iter().find(|a| !cfg.allows(a)) {
        return Err(RelayError::NotAllowed(refused.clone()).into());
    }
    let mailbox = engine.mailbox(key).await?;
    let message = engine
        .store()
        .message(mailbox.id.clone(), message_id.to_string())
        .await?
        .ok_or(Error::MessageNotFound)?;
    let raw = engine
        .store()
        .raw(mailbox.id, message_id.to_string())
        .await?
        .ok_or(Error::MessageNotFound)?;
    send(engine, cfg, &message.envelope.mail_from, to, &raw).await
}

/// The relay in force now (settings may change it while the engine runs).
fn current(engine: &Engine) -> Option<RelayConfig> {
    engine.relay_config()
}

/// Sends `raw` (with our trace lines on top) from `mail_from` to `to`, after the loop checks.
async fn send(
    engine: &Engine,
    cfg: &RelayConfig,
    mail_from: &str,
    to: &[String],
    raw: &[u8],
) -> Result<Released> {
    let instance = instance_id(engine);
    if carries_our_trace(raw, &instance) {
        return Err(
            RelayError::Loop("the message was already sent on by this Mailiy".into()).into(),
        );
    }
    refuse_ourselves(engine, cfg).await?;
    let envelope = envelope(mail_from, to)?;
    let hostname = &engine.config().smtp.hostname;
    let mut bytes = trace_lines(hostname, &instance, to).into_bytes();
    // lettre ends DATA with CRLF . CRLF after the bytes it is given, so the message's own last
    // CRLF is left to it (else the relay would store one more empty line).
    bytes.extend_from_slice(raw.strip_suffix(b"\r\n").unwrap_or(raw));
    let relay = format!("{}:{}", cfg.host, cfg.port);
    let transport = transport(cfg, hostname)?;
    let response = transport
        .send_raw(&envelope, &bytes)
        .await
        .map_err(|e| RelayError::Failed(format!("{relay}: {e}")))?;
    let response = format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    );
    tracing::info!(%relay, recipients = to.len(), "message relayed");
    Ok(Released {
        relay,
        to: to.to_vec(),
        response,
    })
}

fn envelope(mail_from: &str, to: &[String]) -> Result<SmtpEnvelope> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| Error::InvalidInput(format!("{a:?} is not an address: {e}")))
    };
    let from = match mail_from {
        "" => None,
        a => Some(parse(a)?),
    };
    let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>>>()?;
    SmtpEnvelope::new(from, to).map_err(|e| Error::InvalidInput(e.to_string()))
}

fn transport(cfg: &RelayConfig, hostname: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let failed = |e: lettre::transport::smtp::Error| RelayError::Failed(e.to_string());
    let tls = match cfg.security {
        RelaySecurity::Plain => Tls::None,
        RelaySecurity::StartTls | RelaySecurity::Implicit => {
            let mut params = TlsParameters::builder(cfg.host.clone());
            if let Some(path) = &cfg.ca {
                let pem = std::fs::read(path).map_err(|e| {
                    RelayError::Failed(format!("--smtp-relay-tls-ca {}: {e}", path.display()))
                })?;
                params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(failed)?);
            }
            let params = params.build_rustls().map_err(failed)?;
            match cfg.security {
                RelaySecurity::Implicit => Tls::Wrapper(params),
                _ => Tls::Required(params),
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
        .port(cfg.port)
        .tls(tls)
        .hello_name(ClientId::Domain(hostname.to_string()))
        .timeout(Some(cfg.timeout));
    if let Some((user, password)) = &cfg.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// This instance's mark in the trace header: the start of its certificate's fingerprint
/// (public, and stable for as long as the data directory lives).
fn instance_id(engine: &Engine) -> String {
    engine
        .tls()
        .fingerprint()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The two trace lines put on top of a message sent on.
fn trace_lines(hostname: &str, instance: &str, to: &[String]) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let rfc3339 = crate::clock::to_rfc3339(crate::clock::now_ms());
    let recipient = match to {
        [one] => format!(" for <{one}>"),
        _ => String::new(),
    };
    format!(
        "Received: by {hostname} (Mailiy release){recipient}; {date}\r\n\
         {RELEASED_HEADER}: {instance}; {rfc3339}\r\n"
    )
}

/// Whether the message's header section has our own `X-Mailiy-Released` line.
fn carries_our_trace(raw: &[u8], instance: &str) -> bool {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let name = format!("{}:", RELEASED_HEADER.to_ascii_lowercase());
    head.split("\r\n").any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with(&name) && lower[name.len()..].trim_start().starts_with(instance)
    })
}

/// Refuses a relay that is one of our own SMTP listeners (the relay would hand the message
/// straight back).
async fn refuse_ourselves(engine: &Engine, cfg: &RelayConfig) -> Result<()> {
    let ours: Vec<SocketAddr> = [Some(engine.smtp_addr()), engine.config().smtps_addr]
        .into_iter()
        .flatten()
        .filter(|a| a.port() != 0)
        .collect();
    let target = (cfg.host.as_str(), cfg.port);
    let resolved = tokio::net::lookup_host(target)
        .await
        .map_err(|e| RelayError::Failed(format!("{}:{}: {e}", cfg.host, cfg.port)))?;
    for addr in resolved {
        let is_ours = ours.iter().any(|o| {
            o.port() == addr.port()
                && (o.ip() == addr.ip() || o.ip().is_unspecified() || addr.ip().is_loopback())
        });
        if is_ours {
            return Err(RelayError::Loop(format!(
                "the relay {}:{} is this Mailiy's own SMTP listener",
                cfg.host, cfg.port
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_trace_is_found_in_the_header_only() {
        let ours = format!("{RELEASED_HEADER}: abcd; 2026-01-01T00:00:00Z\r\n");
        let msg = format!("{ours}Subject: x\r\n\r\nbody\r\n");
        assert!(carries_our_trace(msg.as_bytes(), "abcd"));
        assert!(
            !carries_our_trace(msg.as_bytes(), "ef01"),
            "another instance's"
        );
        let in_body = format!("Subject: x\r\n\r\n{ours}");
        assert!(!carries_our_trace(in_body.as_bytes(), "abcd"));
        let lines = trace_lines("h.test", "abcd", &["a@b.test".into()]);
        assert!(lines.starts_with("Received: by h.test (Mailiy release) for <a@b.test>; "));
        assert!(carries_our_trace(lines.as_bytes(), "abcd"));
    }
}

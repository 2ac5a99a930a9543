//! `mailiy send`: a sendmail-compatible entry for PHP `mail()`, cron and shell scripts.
//! Reads one message on standard input and submits it over SMTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};

/// Largest message read from standard input.
const MAX_MESSAGE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// Mailiy's SMTP address
    #[arg(long, env = "MAILIY_SMTP", default_value = "127.0.0.1:1025")]
    pub smtp: String,
    /// Envelope sender (sendmail -f; also -r)
    #[arg(short = 'f', visible_short_alias = 'r', value_name = "ADDRESS")]
    pub from: Option<String>,
    /// Read recipients from the To, Cc and Bcc headers (sendmail -t; also what happens when no
    /// recipient is named, as PHP's `sendmail_path = "mailiy send"` does)
    #[arg(short = 't')]
    pub from_headers: bool,
    /// A line with a single dot does not end the message (sendmail -i; always so here)
    #[arg(short = 'i')]
    pub ignore_dots: bool,
    /// sendmail -o options (e.g. -oi), accepted and ignored
    #[arg(short = 'o', value_name = "OPTION")]
    pub options: Vec<String>,
    /// Full name of the sender (sendmail -F), accepted and ignored
    #[arg(short = 'F', value_name = "NAME")]
    pub full_name: Option<String>,
    /// Recipients
    pub recipients: Vec<String>,
}

/// Addresses in the To, Cc and Bcc headers (unfolded), and the message without its Bcc header.
pub fn header_recipients(message: &[u8]) -> (Vec<String>, Vec<u8>) {
    let text = String::from_utf8_lossy(message);
    let head_end = text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .unwrap_or(text.len());
    let (head, body) = text.split_at(head_end);
    let mut fields: Vec<String> = Vec::new();
    for line in head.lines() {
        match (line.starts_with([' ', '\t']), fields.last_mut()) {
            (true, Some(last)) => last.push_str(line),
            _ => fields.push(line.to_string()),
        }
    }
    let mut recipients = Vec::new();
    let mut kept = String::new();
    for field in &fields {
        let (name, value) = field.split_once(':').unwrap_or((field, ""));
        let name = name.trim().to_ascii_lowercase();
        if matches!(name.as_str(), "to" | "cc" | "bcc") {
            recipients.extend(addresses_in(value));
        }
        if name != "bcc" {
            kept.push_str(field);
            kept.push_str("\r\n");
        }
    }
    kept.push_str("\r\n");
    kept.push_str(body.trim_start_matches(['\r', '\n']));
    (recipients, kept.into_bytes())
}

/// `a@b, "Name" <c@d>` -> [a@b, c@d].
fn addresses_in(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            let addr = match (part.rfind('<'), part.rfind('>')) {
                (Some(l), Some(r)) if l < r => &part[l + 1..r],
                _ => part,
            };
            let addr = addr.trim();
            addr.contains('@').then(|| addr.to_string())
        })
        .collect()
}

fn reply(reader: &mut impl BufRead) -> anyhow::Result<(u16, String)> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the SMTP server closed the connection");
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            return Ok((code, all.trim_end().to_string()));
        }
    }
}

/// Submits the message read from `input`. Returns the server's final reply.
pub fn send(args: &SendArgs, input: impl Read) -> anyhow::Result<String> {
    let mut message = Vec::new();
    input
        .take(MAX_MESSAGE + 1)
        .read_to_end(&mut message)
        .context("cannot read the message from standard input")?;
    if message.len() as u64 > MAX_MESSAGE {
        bail!("the message is larger than {MAX_MESSAGE} bytes");
    }
    let mut recipients = args.recipients.clone();
    if args.from_headers || recipients.is_empty() {
        let (more, without_bcc) = header_recipients(&message);
        recipients.extend(more);
        message = without_bcc;
    }
    if recipients.is_empty() {
        bail!("no recipients: name them as arguments, or put them in a To, Cc or Bcc header");
    }
    let from = args.from.clone().unwrap_or_else(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "mailiy".into());
        format!("{user}@localhost")
    });
    submit(&args.smtp, &from, &recipients, &message)
}

/// Sends one message over SMTP to `smtp` as it is (line ends made CRLF, dot-stuffed), from
/// `from` (empty: the null sender) to `recipients`. Returns the server's final reply.
pub fn submit(
    smtp: &str,
    from: &str,
    recipients: &[String],
    message: &[u8],
) -> anyhow::Result<String> {
    let stream =
        TcpStream::connect(smtp).with_context(|| format!("cannot connect to SMTP at {smtp}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    // Writes a command (or, for DATA, the message bytes as they are) and checks the reply.
    let mut step = |what: &str, bytes: &[u8], want: u16| -> anyhow::Result<String> {
        writer.write_all(bytes)?;
        let (code, text) = reply(&mut reader)?;
        if code != want {
            bail!("{what}: {text}");
        }
        Ok(text)
    };
    let command = |line: String| format!("{line}\r\n").into_bytes();
    step("greeting", b"", 220)?;
    step("EHLO", &command("EHLO localhost".into()), 250)?;
    step("MAIL FROM", &command(format!("MAIL FROM:<{from}>")), 250)?;
    for r in recipients {
        step(
            &format!("RCPT TO {r}"),
            &command(format!("RCPT TO:<{r}>")),
            250,
        )?;
    }
    step("DATA", &command("DATA".into()), 354)?;
    let mut data = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    for (i, &b) in message.iter().enumerate() {
        // Line ends become CRLF; a line starting with '.' gets another (dot-stuffing).
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            data.push(b'\r');
        }
        if at_line_start && b == b'.' {
            data.push(b'.');
        }
        data.push(b);
        at_line_start = b == b'\n';
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    let done = step("end of DATA", &data, 250)?;
    let _ = step("QUIT", &command("QUIT".into()), 221);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_to_cc_and_bcc_and_bcc_is_removed() {
        let msg = b"To: A <a@x.test>, b@x.test\r\nCc: c@x.test\r\nBcc: hidden@x.test,\r\n d@x.test\r\nSubject: s\r\n\r\nbody\r\n";
        let (r, out) = header_recipients(msg);
        assert_eq!(
            r,
            [
                "a@x.test",
                "b@x.test",
                "c@x.test",
                "hidden@x.test",
                "d@x.test"
            ]
        );
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("hidden"), "{out}");
        assert!(out.ends_with("Subject: s\r\n\r\nbody\r\n"), "{out:?}");
    }
}

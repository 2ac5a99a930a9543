//! `mailiy import` and `mailiy export`: mail in and out of a running server, by its normal
//! doors. Import submits each message over SMTP (so caps, parsing and refusals are exactly as
//! for any client); export reads the API's mbox stream and writes mbox, Maildir or `.eml` files.
//! One line per message that fails, the rest go on; a progress line on a terminal; a summary.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mailiy::mbox::{self, MboxMessage};

use crate::client::Api;
use crate::sendmail::{header_recipients, submit};

/// Largest message file read (the server's caps then apply as for SMTP).
const MAX_FILE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Mailiy's SMTP address
    #[arg(long, env = "MAILIY_SMTP", default_value = "127.0.0.1:1025")]
    pub smtp: String,
    /// Deliver every message to this address [default: the To, Cc and Bcc of each message]
    #[arg(long, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// `.eml` files, mbox files, Maildirs (with cur/ and new/) or directories of `.eml` files
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mbox,
    Maildir,
    Eml,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub api: Api,
    /// Mailbox to export (address or id; repeat for more) [default: every live mailbox]
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Vec<String>,
    /// What to write: one mbox file, a Maildir, or a directory of `.eml` files
    #[arg(long, value_enum, default_value = "mbox")]
    pub format: Format,
    /// The mbox file, Maildir or directory to write (made if missing)
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: PathBuf,
}

/// One message to import, with where it came from (for its failure line).
struct Item {
    origin: String,
    sender: Option<String>,
    raw: Vec<u8>,
}

/// Imports every message under `paths`; returns an error (after the summary) if any failed.
pub fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let mut items: Vec<anyhow::Result<Item>> = Vec::new();
    for path in &args.paths {
        collect(path, &mut items);
    }
    let total = items.len();
    let progress = Progress::new(total);
    let (mut ok, mut failed) = (0usize, 0usize);
    for (n, item) in items.into_iter().enumerate() {
        let result = item.and_then(|item| deliver(args, &item).with_context(|| item.origin));
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                failed += 1;
                progress.clear();
                eprintln!("mailiy import: {e:#}");
            }
        }
        progress.show(n + 1);
    }
    progress.clear();
    println!("imported {ok} of {total} messages ({failed} failed)");
    if failed > 0 {
        bail!("{failed} of {total} messages were not imported");
    }
    Ok(())
}

fn deliver(args: &ImportArgs, item: &Item) -> anyhow::Result<()> {
    let recipients = if args.to.is_empty() {
        header_recipients(&item.raw).0
    } else {
        args.to.clone()
    };
    if recipients.is_empty() {
        bail!("no recipient: the message has no To, Cc or Bcc (give --to ADDRESS)");
    }
    let from = match item.sender.as_deref() {
        Some("MAILER-DAEMON") | None => "",
        Some(s) => s,
    };
    submit(&args.smtp, from, &recipients, &item.raw)?;
    Ok(())
}

/// Finds the messages under `path`: a Maildir's files, a directory's `.eml` files, an mbox's
/// messages (a file starting with `From `), or one `.eml` file.
fn collect(path: &Path, items: &mut Vec<anyhow::Result<Item>>) {
    let shown = path.display().to_string();
    if path.is_dir() {
        let maildir = path.join("cur").is_dir() || path.join("new").is_dir();
        let dirs = if maildir {
            vec![path.join("new"), path.join("cur")]
        } else {
            vec![path.to_path_buf()]
        };
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
                Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    items.push(Err(anyhow::anyhow!("{}: {e}", dir.display())));
                    continue;
                }
            };
            files.sort();
            for file in files.into_iter().filter(|f| f.is_file()) {
                let eml = file
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("eml"));
                if maildir || eml {
                    items.push(read_file(&file));
                }
            }
        }
        return;
    }
    let mut head = [0u8; 5];
    let starts_like_mbox = File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"From ";
    if !starts_like_mbox {
        items.push(read_file(path));
        return;
    }
    match File::open(path) {
        Ok(f) => {
            for (n, m) in mbox::Reader::new(BufReader::new(f)).enumerate() {
                items.push(
                    m.map(|MboxMessage { sender, raw }| Item {
                        origin: format!("{shown}, message {}", n + 1),
                        sender,
                        raw,
                    })
                    .with_context(|| format!("{shown}: cannot read")),
                );
            }
        }
        Err(e) => items.push(Err(anyhow::anyhow!("{shown}: {e}"))),
    }
}

fn read_file(path: &Path) -> anyhow::Result<Item> {
    let shown = path.display().to_string();
    let mut raw = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut raw))
        .with_context(|| format!("{shown}: cannot read"))?;
    if raw.len() as u64 > MAX_FILE {
        bail!("{shown}: larger than {MAX_FILE} bytes");
    }
    if !looks_like_mail(&raw) {
        bail!("{shown}: not a message (no header line before the body)");
    }
    Ok(Item {
        origin: shown,
        sender: None,
        raw,
    })
}

/// A message has a header field (`Name: value`) before its first empty line, and no NUL byte
/// there; anything else (a binary file, a text note) is not mail. Lines of blanks before the
/// header are taken, as SMTP takes them.
fn looks_like_mail(raw: &[u8]) -> bool {
    let is_field = |line: &[u8]| match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|&b| b.is_ascii_graphic()),
        _ => false,
    };
    let mut lines = raw
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| !l.is_empty() && l.iter().all(u8::is_ascii_whitespace));
    lines
        .next()
        .is_some_and(|first| is_field(first) && !first.contains(&0))
}

/// A one-line progress bar on stderr, only when stderr is a terminal.
struct Progress {
    total: usize,
    on: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            on: std::io::stderr().is_terminal() && total > 1,
        }
    }

    fn show(&self, done: usize) {
        if self.on {
            let width = 30;
            let filled = done * width / self.total.max(1);
            eprint!(
                "\r[{}{}] {done}/{}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Writes the chosen mailboxes (or all) in the chosen format.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let mailboxes = if args.mailbox.is_empty() {
        args.api.mailbox_addresses()?
    } else {
        args.mailbox.clone()
    };
    let mut mbox_out = match args.format {
        Format::Mbox => Some(
            File::create(&args.out)
                .with_context(|| format!("cannot write {}", args.out.display()))?,
        ),
        Format::Maildir | Format::Eml => None,
    };
    let mut count = 0usize;
    for (b, address) in mailboxes.iter().enumerate() {
        let stream = args.api.mbox(address)?;
        if let Some(out) = mbox_out.as_mut() {
            let mut stream = stream;
            std::io::copy(&mut stream, out).with_context(|| format!("{address}: export"))?;
            continue;
        }
        for (n, m) in mbox::Reader::new(BufReader::new(stream)).enumerate() {
            let m = m.with_context(|| format!("{address}: export"))?;
            // Back to the stored form: every line ends CRLF, as SMTP stored it.
            let raw = lf_to_crlf(&m.raw);
            let name = format!("{:04}-{:06}", b + 1, n + 1);
            let path = match args.format {
                Format::Maildir => {
                    for sub in ["cur", "new", "tmp"] {
                        std::fs::create_dir_all(args.out.join(sub))?;
                    }
                    args.out.join("cur").join(format!("{name}.mailiy:2,S"))
                }
                _ => {
                    std::fs::create_dir_all(&args.out)?;
                    args.out.join(format!("{name}.eml"))
                }
            };
            std::fs::write(&path, raw)
                .with_context(|| format!("cannot write {}", path.display()))?;
            count += 1;
        }
    }
    match args.format {
        Format::Mbox => println!(
            "exported {} mailboxes to {}",
            mailboxes.len(),
            args.out.display()
        ),
        _ => println!(
            "exported {count} messages from {} mailboxes to {}",
            mailboxes.len(),
            args.out.display()
        ),
    }
    Ok(())
}

/// LF line ends made CRLF (bytes as they are otherwise, whatever their encoding).
fn lf_to_crlf(lf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 32);
    for &b in lf {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

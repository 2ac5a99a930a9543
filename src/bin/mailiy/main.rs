//! `mailiy`: the headless front door. Wiring only: flags -> config -> engine.

mod client;
mod sendmail;
mod transfer;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mailiy::config::{EngineArgs, Tier};

#[derive(Parser)]
#[command(
    name = "mailiy",
    version,
    about = "A local disposable-mail inbox: SMTP in, REST API and web UI out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant (every engine flag) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the SMTP server, the HTTP API and the expiry task until SIGINT/SIGTERM
    Serve {
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Create a mailbox and print its address
    New {
        #[command(flatten)]
        api: client::Api,
        /// Tier of the mailbox [default: the server's]
        #[arg(long)]
        tier: Option<Tier>,
        /// Lifetime in minutes [default: the server's]
        #[arg(long, value_name = "MINUTES")]
        ttl: Option<u64>,
        /// The part before the @ [default: a readable random one]
        #[arg(long)]
        local_part: Option<String>,
        /// The domain [default: the server's]
        #[arg(long)]
        domain: Option<String>,
        /// Print the whole mailbox as JSON
        #[arg(long)]
        json: bool,
    },
    /// Wait for mail to ADDRESS and print it (or its code, or its first link); exit 1 on timeout
    Wait {
        #[command(flatten)]
        api: client::Api,
        /// The mailbox (address or id)
        address: String,
        /// Seconds to wait
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Only a message whose subject contains this (case-insensitive)
        #[arg(long)]
        subject: Option<String>,
        /// Only a message whose sender contains this (case-insensitive)
        #[arg(long)]
        from: Option<String>,
        /// Only a message matching this search query (docs/api.md#search), e.g. 'from:shop has:code'
        #[arg(long)]
        query: Option<String>,
        /// Print only the one-time code
        #[arg(long, conflicts_with_all = ["link", "json"])]
        code: bool,
        /// Print only the first link
        #[arg(long, conflicts_with = "json")]
        link: bool,
        /// Print the whole message as JSON
        #[arg(long)]
        json: bool,
    },
    /// Send a message read on standard input (sendmail-compatible: -t, -f, -i, -oi)
    Send(sendmail::SendArgs),
    /// Import `.eml` files, mbox files and Maildirs into a running server, over its SMTP
    /// (caps and parsing as for any client); one line per message that fails, then a summary
    Import(transfer::ImportArgs),
    /// Export mailboxes (or all) from a running server as one mbox, a Maildir or `.eml` files
    Export(transfer::ExportArgs),
    /// Print the SMTP TLS certificate's path and SHA-256 fingerprint, and how to trust it (the
    /// certificate is made here if the server has not made it yet)
    Tls {
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Print the API token (made on first start, kept in the data directory)
    Token {
        /// Data directory [default: the OS data dir + /mailiy]
        #[arg(long, env = "MAILIY_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// Errors end the run with one line on stderr, the causes joined in it, and never a
/// backtrace (whatever `RUST_BACKTRACE` says): they are the user's to read, not a crash.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailiy: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve { .. } => {
            let flags = matches
                .subcommand_matches("serve")
                .context("no serve flags")?;
            serve(EngineArgs::config_from(flags).context("invalid settings")?)
        }
        Command::New {
            api,
            tier,
            ttl,
            local_part,
            domain,
            json,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(t) = tier {
                body.insert("tier".into(), t.as_str().into());
            }
            if let Some(t) = ttl {
                body.insert("ttlMinutes".into(), t.into());
            }
            if let Some(l) = local_part {
                body.insert("localPart".into(), l.into());
            }
            if let Some(d) = domain {
                body.insert("domain".into(), d.into());
            }
            client::new_mailbox(&api, body.into(), json)
        }
        Command::Wait {
            api,
            address,
            timeout,
            subject,
            from,
            query,
            code,
            link,
            json,
        } => {
            let show = match (code, link, json) {
                (true, _, _) => client::Show::Code,
                (_, true, _) => client::Show::Link,
                (_, _, true) => client::Show::Json,
                _ => client::Show::Message,
            };
            let arrived = client::wait(
                &api,
                client::WaitFor {
                    address: &address,
                    timeout: Duration::from_secs(timeout),
                    subject: subject.as_deref(),
                    from: from.as_deref(),
                    query: query.as_deref(),
                    show,
                },
            )?;
            if !arrived {
                eprintln!("no matching mail for {address} within {timeout} s");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Import(args) => transfer::import(&args),
        Command::Export(args) => transfer::export(&args),
        Command::Send(args) => {
            sendmail::send(&args, std::io::stdin().lock())?;
            Ok(())
        }
        Command::Tls { .. } => {
            let flags = matches.subcommand_matches("tls").context("no tls flags")?;
            let config = EngineArgs::config_from(flags).context("invalid settings")?;
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
            let tls = mailiy::tls::TlsIdentity::load(&config.smtp_tls)?;
            let path = tls.cert_path().display();
            println!("certificate: {path}");
            println!("sha256: {}", tls.fingerprint());
            println!(
                "trust it: curl --cacert {path}; Python ssl.create_default_context(cafile=\"{path}\"); \
                 nodemailer tls: {{ ca: fs.readFileSync(\"{path}\") }}"
            );
            Ok(())
        }
        Command::Token { data_dir } => {
            let dir = match data_dir {
                Some(d) => d,
                None => dirs::data_dir()
                    .map(|d| d.join("mailiy"))
                    .context("no OS data directory here: pass --data-dir")?,
            };
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            println!("{}", mailiy::token::load_or_create(&dir)?);
            Ok(())
        }
    }
}

fn serve(config: mailiy::config::Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mailiy")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data_dir = config.data_dir.clone();
        let running = mailiy::server::start(config).await.with_context(|| {
            format!("cannot start the engine (data dir {})", data_dir.display())
        })?;
        // One machine-readable line for scripts and tests that bind port 0.
        let smtps = match running.smtps_addr {
            Some(a) => format!(" smtps={a}"),
            None => String::new(),
        };
        println!(
            "mailiy ready smtp={} http={}{smtps} data={}",
            running.smtp_addr,
            running.http_addr,
            data_dir.display()
        );
        eprintln!(
            "Mailiy is running.\n  SMTP:  {} (STARTTLS){}\n  Web:   http://{}/\n  Data:  {}\n  TLS:   trust {}",
            running.smtp_addr,
            running
                .smtps_addr
                .map(|a| format!("\n  SMTPS: {a}"))
                .unwrap_or_default(),
            running.http_addr,
            data_dir.display(),
            running.engine.tls().cert_path().display()
        );
        wait_for_signal().await;
        running.shutdown().await;
        Ok(())
    })
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

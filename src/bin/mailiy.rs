//! `mailiy`: the headless front door. Wiring only: flags -> config -> engine.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mailiy::config::EngineArgs;
use mailiy::Engine;

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

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP server, the HTTP API and the expiry task until SIGINT/SIGTERM
    Serve {
        #[command(flatten)]
        engine: EngineArgs,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve { engine } => serve(engine),
    }
}

fn serve(args: EngineArgs) -> anyhow::Result<()> {
    let config = args.resolve().context("invalid settings")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mailiy")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data_dir = config.data_dir.clone();
        let running = Engine::start(config).await.with_context(|| {
            format!("cannot start the engine (data dir {})", data_dir.display())
        })?;
        // One machine-readable line for scripts and tests that bind port 0.
        println!(
            "mailiy ready smtp={} http={} data={}",
            running.smtp_addr,
            running.http_addr,
            data_dir.display()
        );
        eprintln!(
            "Mailiy is running.\n  SMTP:  {}\n  Web:   http://{}/\n  Data:  {}",
            running.smtp_addr,
            running.http_addr,
            data_dir.display()
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

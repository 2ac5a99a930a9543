//! The window lives in a process of its own (`mailiy-desktop-window`). Closing the window ends
//! its process, and with it every byte WebKit held. A fresh process then waits in standby
//! (GTK up, WebKit's libraries loaded, no web content) for `--window-standby-secs`, so a
//! reopen soon after skips the process start; at start-up one is started beside the engine.
//! The app steers it over its standard input (`crate::protocol`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::protocol::{FromWindow, ToWindow};
use crate::{lock, Action, Shell};

/// The window binary's name, beside the app's own.
pub const WINDOW_BINARY: &str = "mailiy-desktop-window";

/// The window process, while there is one.
#[derive(Default)]
pub struct WindowHost {
    process: Option<WindowProcess>,
}

struct WindowProcess {
    child: Child,
    stdin: ChildStdin,
    /// Taken when the window is first shown: from then on its reports are followed.
    stdout: Option<ChildStdout>,
    shown: bool,
    /// A standby process not shown by then is ended (it holds WebKit's libraries, ~45 MB).
    standby_until: Option<tokio::time::Instant>,
}

impl WindowHost {
    /// Starts a standby window process unless one runs, so the next `show` is quick. It is
    /// kept `keep` long if not shown by then (`None`: until shown).
    pub fn prepare(&mut self, keep: Option<Duration>) {
        if self.is_alive() || keep.is_some_and(|k| k.is_zero()) {
            return;
        }
        match spawn() {
            Ok(mut p) => {
                p.standby_until = keep.map(|k| tokio::time::Instant::now() + k);
                self.process = Some(p);
            }
            Err(e) => tracing::warn!(error = %e, "no standby window process"),
        }
    }

    /// When the standby process is due to end, if there is one.
    pub fn standby_until(&self) -> Option<tokio::time::Instant> {
        self.process
            .as_ref()
            .filter(|p| !p.shown)
            .and_then(|p| p.standby_until)
    }

    /// Ends a standby process that was not shown in time.
    pub async fn end_standby(&mut self) {
        if self.standby_until().is_some() {
            tracing::debug!("standby window process ended");
            self.close().await;
        }
    }

    /// Shows the window at `route`: tells the running window, or builds it in a standby
    /// process (started now if there is none, or if the one there just went away).
    pub async fn show(&mut self, shell: &Arc<Shell>, route: Option<String>) {
        for _ in 0..2 {
            if !self.is_alive() {
                match spawn() {
                    Ok(p) => self.process = Some(p),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot open the window");
                        crate::notify::tell(
                            shell,
                            crate::notify::Note::failure(
                                "Mailiy cannot open its window",
                                &e.to_string(),
                            ),
                        );
                        return;
                    }
                }
            }
            if self.try_show(shell, route.clone()).await {
                return;
            }
            self.process = None;
        }
        tracing::error!("the window process exits as soon as it starts");
    }

    async fn try_show(&mut self, shell: &Arc<Shell>, route: Option<String>) -> bool {
        let Some(p) = self.process.as_mut() else {
            return false;
        };
        let mut commands = Vec::new();
        if !p.shown {
            commands.push(ToWindow::Origin(shell.origin()));
            commands.push(ToWindow::Title(shell.window_title()));
            if let Some(g) = *lock(&shell.geometry) {
                commands.push(ToWindow::Place(g));
            }
        }
        commands.push(ToWindow::Show { route });
        for cmd in &commands {
            if !self.send(cmd).await {
                return false;
            }
        }
        if let Some(p) = self.process.as_mut() {
            if let Some(stdout) = p.stdout.take() {
                follow_reports(shell.clone(), p.child.id().unwrap_or_default(), stdout);
            }
            p.shown = true;
        }
        true
    }

    /// Tells the window process something; `false` if there is none (or it just went away).
    pub async fn send(&mut self, cmd: &ToWindow) -> bool {
        let Some(p) = self.process.as_mut() else {
            return false;
        };
        let line = cmd.to_line();
        p.stdin.write_all(line.as_bytes()).await.is_ok() && p.stdin.flush().await.is_ok()
    }

    fn is_alive(&mut self) -> bool {
        match self.process.as_mut().map(|p| p.child.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.process = None;
                false
            }
            None => false,
        }
    }

    /// Collects the exit of the window process `pid`, unless a newer window replaced it.
    pub async fn reap(&mut self, pid: u32) {
        let Some(p) = self.process.as_mut() else {
            return;
        };
        if p.child.id() != Some(pid) {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(3), p.child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                tracing::warn!(%status, "the window process failed");
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    pid,
                    "the window closed its output but did not exit; killing it"
                );
                let _ = p.child.kill().await;
            }
        }
        self.process = None;
    }

    /// Ends the window process (at quit): its input closes, so it exits; killed if it hangs.
    pub async fn close(&mut self) {
        if let Some(WindowProcess {
            mut child, stdin, ..
        }) = self.process.take()
        {
            drop(stdin);
            if tokio::time::timeout(Duration::from_secs(3), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

fn spawn() -> std::io::Result<WindowProcess> {
    let mut child = Command::new(window_binary()?)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the window's pipes are missing"));
    };
    tracing::debug!(pid = child.id(), "window process ready");
    Ok(WindowProcess {
        child,
        stdin,
        stdout: Some(stdout),
        shown: false,
        standby_until: None,
    })
}

/// Keeps the window's geometry as it reports it; at its end (the window closed), stores it
/// and tells the app.
fn follow_reports(shell: Arc<Shell>, pid: u32, stdout: ChildStdout) {
    tracing::info!(pid, "window opened");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(FromWindow::Geometry(g)) = FromWindow::parse(&line) {
                *lock(&shell.geometry) = Some(g);
            }
        }
        shell.remember_geometry().await;
        tracing::info!(pid, "window closed");
        shell.act(Action::WindowExited(pid));
    });
}

/// The window binary: beside this one (cargo's target dir, /usr/bin, an AppImage's root).
fn window_binary() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| std::io::Error::other("the app's own path has no directory"))?;
    let path = dir.join(format!("{WINDOW_BINARY}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is missing; reinstall Mailiy", path.display()),
        ))
    }
}

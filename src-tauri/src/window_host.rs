//! The window lives in a process of its own (`mailiy-desktop-window`): opening it starts the
//! process, closing it ends the process, and with it every byte WebKit held. The app steers it
//! over its standard input (`crate::protocol`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::protocol::{FromWindow, ToWindow};
use crate::{lock, Action, Shell};

/// The window binary's name, beside the app's own.
pub const WINDOW_BINARY: &str = "mailiy-desktop-window";

/// The window process, while there is one.
#[derive(Default)]
pub struct WindowHost {
    running: Option<(Child, ChildStdin)>,
}

impl WindowHost {
    /// Shows the window at `route`: tells the running window, or starts one.
    pub async fn show(&mut self, shell: &Arc<Shell>, route: Option<String>) {
        if self.is_open()
            && self
                .send(&ToWindow::Show {
                    route: route.clone(),
                })
                .await
        {
            return;
        }
        if let Err(e) = self.start(shell, route) {
            tracing::error!(error = %e, "cannot open the window");
            crate::notify::tell(
                shell,
                crate::notify::Note::failure("Mailiy cannot open its window", &e.to_string()),
            );
        }
    }

    /// Tells an open window something; `false` if there is none (or it just went away).
    pub async fn send(&mut self, cmd: &ToWindow) -> bool {
        let Some((_, stdin)) = self.running.as_mut() else {
            return false;
        };
        let line = cmd.to_line();
        stdin.write_all(line.as_bytes()).await.is_ok() && stdin.flush().await.is_ok()
    }

    fn is_open(&mut self) -> bool {
        match self.running.as_mut().map(|(child, _)| child.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.running = None;
                false
            }
            None => false,
        }
    }

    fn start(&mut self, shell: &Arc<Shell>, route: Option<String>) -> std::io::Result<()> {
        let mut cmd = Command::new(window_binary()?);
        cmd.arg("--url")
            .arg(shell.origin().as_str())
            .arg("--title")
            .arg(shell.window_title());
        if let Some(route) = route {
            cmd.arg("--route").arg(route);
        }
        if let Some(g) = *lock(&shell.geometry) {
            cmd.arg("--geometry").arg(g.to_arg());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the window's pipes are missing"));
        };
        let pid = child.id().unwrap_or_default();
        tracing::info!(pid, "window opened");
        let shell = shell.clone();
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
        self.running = Some((child, stdin));
        Ok(())
    }

    /// Collects the exit of the window process `pid`, unless a newer window replaced it.
    pub async fn reap(&mut self, pid: u32) {
        let Some((child, _)) = self.running.as_mut() else {
            return;
        };
        if child.id() != Some(pid) {
            return;
        }
        match tokio::time::timeout(Duration::from_secs(3), child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                tracing::warn!(%status, "the window process failed");
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    pid,
                    "the window closed its output but did not exit; killing it"
                );
                let _ = child.kill().await;
            }
        }
        self.running = None;
    }

    /// Closes the window (at quit): its input closes, so it exits; killed if it hangs.
    pub async fn close(&mut self) {
        if let Some((mut child, stdin)) = self.running.take() {
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

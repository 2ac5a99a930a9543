//! Real parts for the desktop tests: an X server (Xvfb), a D-Bus session bus with a
//! notification server that records every `Notify` call, the real app binary, raw SMTP, the
//! HTTP API, X11 for what a window manager and a user do (close a window, read the clipboard),
//! and WebDriver (tauri-driver in front of WebKitWebDriver) to look inside the window.

pub mod dbus;
pub mod tray;
pub mod webdriver;
pub mod x11;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use dbus::{Notifications, Notify};

/// The app under test, as cargo built it for this test run.
pub const APP: &str = env!("CARGO_BIN_EXE_mailiy-desktop");

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a program that must exist here, with a hint to the setup script when it does not.
pub fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start {what} ({e}); ./scripts/setup.sh installs what the desktop tests need")
    })
}

/// One desktop session: an X display, a D-Bus session bus with a notification server and a
/// tray host on it, and a home of its own (XDG dirs, and an `xdg-open` that records what it was asked to open).
pub struct Desktop {
    pub display: String,
    pub bus: String,
    pub notifications: Notifications,
    pub tray: tray::TrayHost,
    pub home: tempfile::TempDir,
    xvfb: Child,
    dbus: Child,
}

impl Desktop {
    pub fn start() -> Desktop {
        let home = tempfile::tempdir().expect("temp dir");
        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "Xvfb",
        );
        let mut number = String::new();
        BufReader::new(xvfb.stdout.take().expect("Xvfb stdout"))
            .read_line(&mut number)
            .expect("Xvfb prints its display number");
        let display = format!(":{}", number.trim());
        assert!(number.trim().parse::<u32>().is_ok(), "Xvfb did not start");

        // A bus of our own, with no service activation: nothing but the test answers Notify.
        let config = home.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>"#,
                home.path().display()
            ),
        )
        .expect("bus config");
        let mut dbus = spawn(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--nofork", "--nopidfile", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "dbus-daemon",
        );
        let mut bus = String::new();
        BufReader::new(dbus.stdout.take().expect("dbus stdout"))
            .read_line(&mut bus)
            .expect("dbus-daemon prints its address");
        let bus = bus.trim().to_string();
        let notifications = Notifications::serve(&bus);
        let tray = tray::TrayHost::serve(&bus);

        for dir in ["config", "data", "cache", "state", "bin"] {
            std::fs::create_dir_all(home.path().join(dir)).expect("xdg dir");
        }
        let runtime = home.path().join("runtime");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        set_mode(&runtime, 0o700);
        // The desktop's URL opener, recording instead of starting a browser.
        let opener = home.path().join("bin/xdg-open");
        std::fs::write(
            &opener,
            format!(
                "#!/bin/sh\necho \"$1\" >> '{}'\n",
                home.path().join("opened.txt").display()
            ),
        )
        .expect("fake xdg-open");
        set_mode(&opener, 0o755);
        Desktop {
            display,
            bus,
            notifications,
            tray,
            home,
            xvfb,
            dbus,
        }
    }

    /// A command running in this session (display, bus, home, a fresh profile per data dir),
    /// with engine ports left to the system.
    pub fn command(&self, program: &str, data_dir: &Path) -> Command {
        let h = self.home.path();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    h.join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", h)
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_CACHE_HOME", h.join("cache"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("XDG_RUNTIME_DIR", h.join("runtime"))
            .env("RUST_LOG", "info")
            .env("MAILIY_DATA_DIR", data_dir)
            .env("MAILIY_SMTP", "127.0.0.1:0")
            .env("MAILIY_HTTP", "127.0.0.1:0");
        cmd
    }

    /// The app's command in this session, driven by WebDriver on `inspector`: the one way the
    /// tests and the benchmark start an app they look into.
    pub fn automated(&self, data_dir: &Path, inspector: u16) -> Command {
        let mut cmd = self.command(APP, data_dir);
        cmd.envs(webdriver::automation_env(inspector));
        cmd
    }

    /// The URLs the app handed to the desktop's opener (the system browser).
    pub fn opened_urls(&self) -> Vec<String> {
        std::fs::read_to_string(self.home.path().join("opened.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn x11(&self) -> x11::X11 {
        x11::X11::connect(&self.display)
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for child in [&mut self.dbus, &mut self.xvfb] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The running app: its addresses (from its ready line) and its output.
pub struct App {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl App {
    /// Starts the app in `desktop` on `data_dir` with `env` added, and waits for its ready line.
    pub fn start(desktop: &Desktop, data_dir: &Path, env: &[(&str, &str)]) -> App {
        let mut cmd = desktop.command(APP, data_dir);
        cmd.envs(env.iter().copied());
        App::start_command(cmd, data_dir)
    }

    /// Starts the app as `cmd` says (see [`Desktop::command`]) and waits for its ready line.
    pub fn start_command(mut cmd: Command, data_dir: &Path) -> App {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = spawn(&mut cmd, "the app");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("no ready line; stderr:\n{}", stderr.lock().unwrap())
            });
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        };
        assert!(line.starts_with("mailiy-desktop ready "), "{line}");
        App {
            smtp: field("smtp"),
            http: field("http"),
            data_dir: data_dir.to_path_buf(),
            child,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Pids of the window processes showing a window: those running WebKit. (A standby
    /// window process, kept ready without a window, runs none.)
    pub fn open_window_pids(&self) -> Vec<u32> {
        self.window_pids()
            .into_iter()
            .filter(|pid| !webkit_pids(*pid).is_empty())
            .collect()
    }

    /// Pids of the window processes this app runs now, standby or showing a window.
    pub fn window_pids(&self) -> Vec<u32> {
        children(self.pid())
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.contains("mailiy-desktop-window") && !is_zombie(*pid))
            })
            .collect()
    }

    /// SIGTERM; then the exit status and everything the app wrote to stderr (killed after 20 s).
    pub fn stop(self) -> (ExitStatus, String) {
        signal(self.pid(), libc::SIGTERM);
        self.wait_for_exit(Duration::from_secs(20))
    }

    /// The exit status and everything the app wrote to stderr, once it exits by itself.
    pub fn wait_for_exit(mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The reader thread drains what is left once the pipe closes.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the app did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET an API path; the JSON answer.
    pub fn get(&self, path: &str) -> serde_json::Value {
        ureq::get(&format!("http://{}{path}", self.http))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_json()
            .expect("JSON")
    }

    /// POST/PATCH an API path with a JSON body; the JSON answer.
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        ureq::request(method, &format!("http://{}{path}", self.http))
            .send_json(body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            .into_json()
            .expect("JSON")
    }

    /// A new mailbox: (id, address).
    pub fn new_mailbox(&self, body: serde_json::Value) -> (String, String) {
        let m = self.send_json("POST", "/v1/mailbox", body);
        (
            m["id"].as_str().expect("id").to_string(),
            m["address"].as_str().expect("address").to_string(),
        )
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            for pid in self.window_pids() {
                signal(pid, libc::SIGKILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// The first GL driver file `pid` maps (Mesa's `*_dri.so` or `libgallium`, or the LLVM they
/// load), if any.
pub fn gl_driver_mapped(pid: u32) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|path| {
            let file = path.rsplit('/').next().unwrap_or_default();
            file.ends_with("_dri.so")
                || file.starts_with("libgallium")
                || file.starts_with("libLLVM")
        })
        .map(str::to_string)
}

/// WebKit's processes (web, network) under `pid`, at any depth.
pub fn webkit_pids(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .flat_map(|child| {
            let mine = std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|c| c.starts_with("WebKit") && !is_zombie(child));
            let mut found = webkit_pids(child);
            if mine {
                found.push(child);
            }
            found
        })
        .collect()
}

/// Direct children of `pid` (each thread lists the children it started).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// The process exists and has not exited.
pub fn alive(pid: u32) -> bool {
    !is_zombie(pid)
}

/// Sends one plain-text message over SMTP (lettre, a real client) and expects it accepted.
pub fn send_mail(smtp: SocketAddr, to: &str, subject: &str, body: &str) {
    send(
        smtp,
        to,
        subject,
        lettre::message::header::ContentType::TEXT_PLAIN,
        body,
    );
}

/// Sends one HTML message.
pub fn send_html(smtp: SocketAddr, to: &str, subject: &str, html: &str) {
    send(
        smtp,
        to,
        subject,
        lettre::message::header::ContentType::TEXT_HTML,
        html,
    );
}

fn send(
    smtp: SocketAddr,
    to: &str,
    subject: &str,
    kind: lettre::message::header::ContentType,
    body: &str,
) {
    use lettre::Transport;
    let message = lettre::Message::builder()
        .from("Alice Example <alice@example.com>".parse().expect("from"))
        .to(to.parse().expect("to"))
        .subject(subject)
        .header(kind)
        .body(body.to_string())
        .expect("message");
    lettre::SmtpTransport::builder_dangerous(smtp.ip().to_string())
        .port(smtp.port())
        .timeout(Some(Duration::from_secs(20)))
        .build()
        .send(&message)
        .unwrap_or_else(|e| panic!("SMTP to {smtp}: {e}"));
}

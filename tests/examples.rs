//! The user-facing examples in `examples/` (Playwright, pytest, shell) run against the real
//! server. They fail, never skip, when node, npm or pytest is missing: scripts/setup.sh
//! installs them. The Cypress example is not run (Cypress needs a downloaded binary).

use crate::common::{bin, Server};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` with MAILIY_API and MAILIY_SMTP pointing at `s`, killing its whole process group
/// after `limit`; panics with its output (and the server's log) unless it exits 0.
fn run(what: &str, s: &Server, cmd: &mut Command, limit: Duration) {
    cmd.env("MAILIY_API", format!("http://{}", s.http))
        .env("MAILIY_SMTP", s.smtp.to_string());
    check(what, Some(s), cmd, limit);
}

fn check(what: &str, s: Option<&Server>, cmd: &mut Command, limit: Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{what}: cannot run {:?}: {e} (scripts/setup.sh installs it)",
                cmd.get_program()
            )
        });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            // The group: npx and the test runner's workers, which would keep the pipes open.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        let how = match status {
            Some(st) => format!("exited with {st}"),
            None => format!("was killed after {limit:?}"),
        };
        let log = s.map(|s| s.log.lock().unwrap().clone()).unwrap_or_default();
        panic!(
            "{what} {how} after {took:.1?}\n--- stdout\n{out}\n--- stderr\n{err}\n--- server log\n{log}"
        );
    }
    eprintln!("{what}: passed in {took:.1?}\n{out}");
}

#[test]
fn playwright_example_passes() {
    let dir = root().join("examples/playwright");
    if !dir.join("node_modules/@playwright/test").exists() {
        check(
            "npm ci (examples/playwright)",
            None,
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
            Duration::from_secs(300),
        );
    }
    let s = Server::start(&[]);
    run(
        "npx playwright test",
        &s,
        Command::new("npx")
            .args(["--no", "playwright", "test"])
            .current_dir(&dir)
            .env("CI", "1"),
        Duration::from_secs(120),
    );
}

#[test]
fn pytest_example_passes() {
    let s = Server::start(&[]);
    run(
        "python3 -m pytest examples/pytest",
        &s,
        Command::new("python3")
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "examples/pytest",
            ])
            .current_dir(root())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
    );
}

#[test]
fn shell_example_passes() {
    let s = Server::start(&[]);
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    run(
        "examples/shell/signup.sh",
        &s,
        Command::new("bash")
            .arg("examples/shell/signup.sh")
            .current_dir(root())
            .env("PATH", path),
        Duration::from_secs(60),
    );
}

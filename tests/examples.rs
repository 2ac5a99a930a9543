//! The user-facing examples in `examples/` (Playwright, pytest, shell) run against the real
//! server. They fail, never skip, when node, npm or pytest is missing: scripts/setup.sh
//! installs them. The Cypress example is not run (Cypress needs a downloaded binary).

use crate::common::{bin, run_tool, Server};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` with MAILIY_API and MAILIY_SMTP pointing at `s`, killing its whole process group
/// after `limit`; panics with its output (and the server's log) unless it exits 0.
fn run(what: &str, s: &Server, cmd: &mut Command, limit: Duration) {
    cmd.env("MAILIY_API", format!("http://{}", s.http))
        .env("MAILIY_SMTP", s.smtp.to_string());
    run_tool(what, Some(s), cmd, limit);
}

#[test]
fn playwright_example_passes() {
    let dir = root().join("examples/playwright");
    if !dir.join("node_modules/@playwright/test").exists() {
        run_tool(
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

/// pytest-mailpit's fixtures (pinned in scripts/setup.sh) against the root, with catch-all on
/// as a Mailpit user runs it (its inboxes are unique addresses).
#[test]
fn pytest_mailpit_fixtures_pass() {
    let s = Server::start(&["--catch-all", "anon"]);
    run(
        "python3 -m pytest examples/pytest-mailpit",
        &s,
        Command::new("python3")
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "examples/pytest-mailpit",
            ])
            .current_dir(root())
            .env("MAILPIT_URL", format!("http://{}", s.http))
            .env("MAILPIT_SMTP", s.smtp.to_string())
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

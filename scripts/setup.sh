#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks, for one of two purposes. Idempotent.
# Sourced by scripts/run.sh (`setup_for_run`) and scripts/test.sh (`setup_for_test`); run alone
# as `scripts/setup.sh [run|test]` (test, everything, when not told).
#
#   setup_for_run   what running the app needs: a C compiler, pkg-config and the Rust toolchain;
#                   where there is a display also the desktop app's libraries (WebKitGTK, the
#                   tray library, librsvg). No test tool.
#   setup_for_test  all of that, the desktop libraries always, and every test tool: Chromium,
#                   Node.js and npm, Python and pytest, Xvfb, D-Bus, dunst, WebKit's WebDriver,
#                   tauri-driver, cargo-fuzz, and the real SMTP clients (msmtp, mutt, PHPMailer,
#                   ActionMailer, Jakarta Mail, Django, nodemailer), and SpamAssassin's spamd.
#
# MAILIY_SETUP_DRY_RUN=1 prints what would be installed and installs nothing.

have() { command -v "$1" >/dev/null 2>&1; }

# A Debian package that is installed (for libraries, which put no command on PATH).
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# A display to open the desktop app's window on (X11 or Wayland).
has_display() { [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; }

setup_dry_run() { [ "${MAILIY_SETUP_DRY_RUN:-0}" = 1 ]; }

# Says what is installed, and does it unless this is a dry run: `setup_do WHAT -- COMMAND...`.
setup_do() {
  local what=$1
  shift 2
  if setup_dry_run; then
    echo "[setup] would install $what"
    return 0
  fi
  echo "[setup] installing $what"
  "$@"
}

# The one apt-get install: every Debian package given, in one transaction.
apt_install() {
  [ $# -gt 0 ] || return 0
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  setup_do "(apt) $*" -- apt_get_install "$sudo_cmd" "$@"
}
apt_get_install() {
  local sudo_cmd=$1
  shift
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "$@"
}

# The packages each purpose needs, added to `need_apt` when missing (each once).
need() {
  local p
  for p in "${need_apt[@]}"; do [ "$p" = "$1" ] && return 0; done
  need_apt+=("$1")
}

# Building the engine: a C compiler (SQLite and ring are C), pkg-config, and curl for rustup
# when there is no Rust toolchain yet.
need_build_tools() {
  have cc || need build-essential
  have pkg-config || need pkg-config
  if ! have cargo && [ ! -x "$HOME/.cargo/bin/cargo" ] && ! have curl; then
    need curl
    need ca-certificates
  fi
}

# Building and running the desktop app (src-tauri): WebKitGTK, the tray library, librsvg.
need_desktop_libs() {
  pkg-config --exists webkit2gtk-4.1 2>/dev/null || need libwebkit2gtk-4.1-dev
  pkg-config --exists ayatana-appindicator3-0.1 2>/dev/null || need libayatana-appindicator3-dev
  pkg-config --exists librsvg-2.0 2>/dev/null || need librsvg2-dev
}

# The tests: Python (examples, icon script), git, Node.js and npm (UI unit tests, Playwright
# example, browser tests), Debian's Chromium for the browser tests; for the desktop tests an X
# server, a D-Bus session, a notification daemon and WebKit's WebDriver.
need_test_tools() {
  have python3 || need python3
  have curl || need curl
  have swaks || need swaks
  perl -MNet::SSLeay -e 1 >/dev/null 2>&1 || need libnet-ssleay-perl # swaks --tls
  have git || need git
  have node || need nodejs
  have npm || need npm
  have chromium || need chromium
  # Colour emoji for the browser tests' screenshots (a subject's emoji, not an empty box).
  have_deb fonts-noto-color-emoji || need fonts-noto-color-emoji
  have Xvfb || need xvfb
  have xauth || need xauth
  have dbus-daemon || need dbus
  have dbus-launch || need dbus-x11
  have dunst || need dunst
  have WebKitWebDriver || need webkit2gtk-driver
  # The real SMTP clients and app stacks of tests/smtp_clients.rs (about 20 s and 70 MB on a
  # machine that has none of them): msmtp, mutt, PHP with PHPMailer, Rails' ActionMailer, and
  # Jakarta Mail with a JDK (java runs JakartaSend.java from source; keytool makes the trust
  # store).
  have msmtp || need msmtp
  have mutt || need mutt
  have php || need php-cli
  have_deb libphp-phpmailer || need libphp-phpmailer
  have_deb ruby-actionmailer || need ruby-actionmailer
  have_deb libjakarta-mail-java || need libjakarta-mail-java
  have javac || need default-jdk-headless
  # SpamAssassin's spamd for the spam check (tests/checks.rs starts it on a loopback port).
  [ -x /usr/sbin/spamd ] || need spamassassin
}

# The Rust toolchain, with rustup when cargo is nowhere to be found.
install_rust() {
  have cargo && return 0
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
    return 0
  fi
  setup_do "the Rust toolchain 1.95.0 (rustup)" -- rustup_install
  export PATH="$HOME/.cargo/bin:$PATH"
}
rustup_install() {
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain 1.95.0
}

# The test tools that do not come from apt.
install_test_extras() {
  # tauri-driver: WebDriver in front of WebKitWebDriver, for the desktop tests.
  have tauri-driver ||
    setup_do "tauri-driver 2.1.0 (cargo install)" -- cargo install tauri-driver --version 2.1.0 --locked
  # cargo-fuzz, for the bounded fuzz runs of the test command (fuzz/run.sh).
  cargo fuzz --version >/dev/null 2>&1 ||
    setup_do "cargo-fuzz 0.13.2 (cargo install)" -- cargo install cargo-fuzz --version 0.13.2 --locked
  # pytest for examples/pytest, in the python3 that is on PATH (pip first: a pyenv python does
  # not see Debian's python3-pytest).
  python3 -c 'import pytest' >/dev/null 2>&1 ||
    setup_do "pytest 8.4.2 (pip, else apt python3-pytest)" -- pytest_install
  # Django for tests/smtp_clients.rs (its real django.core.mail), pinned like pytest.
  python3 -c 'import django' >/dev/null 2>&1 ||
    setup_do "Django 5.2.19 (pip)" -- python3 -m pip install --quiet 'Django==5.2.19'
  # pytest-mailpit for examples/pytest-mailpit (tests/examples.rs), pinned like Django.
  python3 -c 'import pytest_mailpit' >/dev/null 2>&1 ||
    setup_do "pytest-mailpit 0.4.1 (pip)" -- python3 -m pip install --quiet 'pytest-mailpit==0.4.1'
  # nodemailer for tests/smtp_clients.rs and mailpit-api for tests/mailpit.rs, pinned by
  # tests/clients/package-lock.json.
  local root clients_dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  clients_dir="$root/tests/clients"
  [ -d "$clients_dir/node_modules/nodemailer" ] && [ -d "$clients_dir/node_modules/mailpit-api" ] ||
    setup_do "nodemailer, mailpit-api (npm ci in tests/clients)" -- npm_ci "$clients_dir"
  # The Playwright example's packages, and axe-core for the accessibility browser test; no
  # browser download (it uses only the request fixture).
  local pw_dir="$root/examples/playwright"
  [ -d "$pw_dir/node_modules/@playwright/test" ] && [ -f "$pw_dir/node_modules/axe-core/axe.min.js" ] ||
    setup_do "the Playwright example's packages (npm ci in examples/playwright)" -- npm_ci "$pw_dir"
}
npm_ci() { (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund); }
pytest_install() {
  python3 -m pip install --quiet 'pytest==8.4.2' || apt_install python3-pytest
}

setup_for_run() {
  need_apt=()
  need_build_tools
  if has_display; then need_desktop_libs; fi
  apt_install "${need_apt[@]}"
  install_rust
}

setup_for_test() {
  need_apt=()
  need_build_tools
  need_desktop_libs
  need_test_tools
  apt_install "${need_apt[@]}"
  install_rust
  install_test_extras
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    run) setup_for_run ;;
    test | "") setup_for_test ;;
    *)
      echo "usage: scripts/setup.sh [run|test]   (MAILIY_SETUP_DRY_RUN=1: only print)" >&2
      exit 2
      ;;
  esac
fi

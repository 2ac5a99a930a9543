#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Mailiy. Idempotent.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run alone.
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)
have python3 || need_apt+=(python3)
have curl || need_apt+=(curl)
have git || need_apt+=(git)
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
have chromium || need_apt+=(chromium)
# The desktop app (src-tauri): WebKitGTK and the tray library to build it; an X server, a D-Bus
# session, a notification daemon and WebKit's WebDriver for its tests.
pkg-config --exists webkit2gtk-4.1 2>/dev/null || need_apt+=(libwebkit2gtk-4.1-dev)
pkg-config --exists ayatana-appindicator3-0.1 2>/dev/null || need_apt+=(libayatana-appindicator3-dev)
pkg-config --exists librsvg-2.0 2>/dev/null || need_apt+=(librsvg2-dev)
have Xvfb || need_apt+=(xvfb)
have xauth || need_apt+=(xauth)
have dbus-daemon || need_apt+=(dbus)
have dbus-launch || need_apt+=(dbus-x11)
have dunst || need_apt+=(dunst)
have WebKitWebDriver || need_apt+=(webkit2gtk-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "[setup] apt-get install ${need_apt[*]}"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if ! have cargo; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "[setup] installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# tauri-driver: WebDriver in front of WebKitWebDriver, for the desktop tests.
if ! have tauri-driver; then
  echo "[setup] cargo install tauri-driver"
  cargo install tauri-driver --version 2.1.0 --locked
fi

# cargo-fuzz, for the bounded fuzz runs of the test command (fuzz/run.sh).
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[setup] cargo install cargo-fuzz"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# pytest for examples/pytest, in the python3 that is on PATH (pip first: a pyenv python does not
# see Debian's python3-pytest).
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
  echo "[setup] installing pytest"
  python3 -m pip install --quiet 'pytest==8.4.2' || {
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends python3-pytest
  }
fi

# The Playwright example's packages; no browser download (it uses only the request fixture).
pw_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/examples/playwright"
if [ ! -d "$pw_dir/node_modules/@playwright/test" ]; then
  echo "[setup] npm ci in examples/playwright"
  (cd "$pw_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

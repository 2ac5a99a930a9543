#!/usr/bin/env bash
# Runs Mailiy: builds (release) and starts the desktop app where there is a display, and the
# headless server (`mailiy serve`) where there is none, on the default ports.
# Extra arguments go to the app or to `mailiy serve` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cargo build --locked --release -p mailiy-desktop
  exec target/release/mailiy-desktop "$@"
fi
cargo build --locked --release -p mailiy
exec target/release/mailiy serve "$@"

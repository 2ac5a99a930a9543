#!/usr/bin/env bash
# Runs Mailiy: builds (release) and starts the desktop app where there is a display, and the
# headless server (`mailiy serve`) where there is none, on the default ports. Installs first
# only what that needs (scripts/setup.sh: no test tools; the desktop's libraries only where
# there is a display). Extra arguments go to the app or to `mailiy serve` (see `--help`).
# MAILIY_SETUP_DRY_RUN=1 prints what it would install and run, and stops there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_for_run
if has_display; then
  package=mailiy-desktop
  start=(target/release/mailiy-desktop "$@")
else
  package=mailiy
  start=(target/release/mailiy serve "$@")
fi
if setup_dry_run; then
  echo "[run] would build $package (cargo build --locked --release -p $package) and run ${start[*]}"
  exit 0
fi
cargo build --locked --release -p "$package"
exec "${start[@]}"

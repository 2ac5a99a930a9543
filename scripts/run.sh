#!/usr/bin/env bash
# Runs Mailiy: builds (release) and starts the headless server on the default ports.
# Extra arguments go to `mailiy serve` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked --release -p mailiy
exec target/release/mailiy serve "$@"

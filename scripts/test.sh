#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the integration tests that drive the real
# binary over TCP and HTTP with the hostile corpus, the browser and desktop tests, the node
# tests and a bounded fuzz run. Installs what a fresh machine lacks first (scripts/setup.sh:
# everything the tests need). MAILIY_SETUP_DRY_RUN=1 prints what it would install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_for_test
if setup_dry_run; then exit 0; fi
export CARGO_TERM_COLOR=never
echo "[test] cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "[test] cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "[test] cargo test"
cargo test --locked --workspace
echo "[test] docs: every relative link and anchor"
python3 scripts/check-docs.py
echo "[test] node --test ui/js/"
node --test ui/js/
echo "[test] fuzz: every target for ${FUZZ_SECONDS:-60} s"
fuzz/run.sh

#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the integration tests that drive the real
# binary over TCP and HTTP with the hostile corpus. Installs what a fresh machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TERM_COLOR=never
echo "[test] cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "[test] cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "[test] cargo test"
cargo test --locked --workspace
echo "[test] node --test ui/js/"
node --test ui/js/
echo "[test] fuzz: every target for ${FUZZ_SECONDS:-60} s"
fuzz/run.sh

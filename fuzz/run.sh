#!/usr/bin/env bash
# Runs every fuzz target for a bounded time from its seeds, and prints how many inputs each
# one executed. FUZZ_SECONDS per target (default 60). A crash fails the run; libFuzzer leaves
# the input in fuzz/artifacts/TARGET/. Keep it as a regression: copy it to
# fuzz/regressions/TARGET/ (tests/hardening.rs replays those through the real server).
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-60}"
# cargo fuzz passes nightly-only flags to rustc; the stable 1.95 toolchain takes them this way.
export RUSTC_BOOTSTRAP=1
# Release semantics, as shipped (`--release`: without it cargo fuzz turns debug assertions on,
# and mail-parser has a debug_assert! on an input it then handles well).
flags=(--sanitizer none --release)

summary=()
run() {
  local target=$1 max_len=$2
  shift 2
  mkdir -p "corpus/$target" "regressions/$target"
  local log="target/fuzz-$target.log"
  mkdir -p target
  echo "[fuzz] $target for ${secs}s (seeds: $*)"
  if ! cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "regressions/$target" "$@" -- \
      -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "[fuzz] $target FAILED: the crashing input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  summary+=("$target: ${runs:-?} inputs in ${secs}s, no crash")
}

echo "[fuzz] building the targets"
cargo fuzz build "${flags[@]}"
run smtp_session 65536 ../tests/corpus/smtp
run mime_ingest 262144 ../tests/corpus/mime ../tests/corpus/real ../tests/corpus/xss
run sanitize 65536 seeds/sanitize
printf '[fuzz] %s\n' "${summary[@]}"

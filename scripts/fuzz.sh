#!/usr/bin/env bash
# Fuzzes the parsers that take outside input (fuzz/fuzz_targets/), each for SECONDS (default 8), with a
# fixed seed, starting from the corpus in fuzz/corpus/. Installs what it needs: a nightly toolchain and
# cargo-fuzz. CI runs the short version; the long one is, for example, `scripts/fuzz.sh 600`.
# A crash stops the script with the input that caused it in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-8}"
seed="${CAUDAL_FUZZ_SEED:-1}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  # New inputs go to a scratch copy, so that a run leaves the committed corpus as it was.
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$work/"
  log="$(mktemp)"
  echo "fuzzing $target for ${seconds}s (seed $seed)"
  status=0
  cargo +nightly fuzz run -O "$target" "$work" -- \
    -max_total_time="$seconds" -seed="$seed" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|new_units_added)" "$log" || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz target $target failed (exit $status): the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
  rm -f "$log"
done

#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/) for SECONDS (default 60) from its committed seed corpus
# and fails on the first crash, panic, timeout or out-of-memory. Needs the nightly toolchain
# and cargo-fuzz (installed here when missing). Prints "fuzz <target>: N executions" per target.
# Targets link libtorch, whose libraries do not run under AddressSanitizer here: they build
# with `--sanitizer none` (libFuzzer's coverage and its crash, timeout and RSS checks remain;
# the fuzzed code is safe Rust, where a bug is a panic rather than silent memory corruption).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
# The build is cached in CARGO_TARGET_DIR when set (.ci/run sets it), else in fuzz/target.
# The first build takes long (tch's C++ wrapper and every crate with coverage: ~30 min on 2
# busy cores here); later runs reuse it.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for target in decode_image model_files; do
  # Runs grow a scratch copy of the corpus; the committed seeds stay as they are.
  mkdir -p "$work/$target"
  log="$work/$target.log"
  if ! bash scripts/with-libtorch.sh cargo +nightly fuzz run --sanitizer none --release --fuzz-dir fuzz "$target" \
      "$work/$target" fuzz/corpus/$target -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -max_len=65536 \
      -artifact_prefix="$work/" >"$log" 2>&1; then
    status=1
    echo "fuzz $target: FAILED" >&2
    tail -40 "$log" >&2
    mkdir -p fuzz/artifacts && cp "$work"/crash-* "$work"/timeout-* "$work"/oom-* fuzz/artifacts/ 2>/dev/null || true
  fi
  executions="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')"
  echo "fuzz $target: $executions executions in ${seconds}s"
done
exit "$status"

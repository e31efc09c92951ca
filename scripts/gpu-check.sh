#!/usr/bin/env bash
# The GPU check, on the GPU machine (no Node, Rust or network there), in at most 9 minutes:
# unpacks the bundle that `npm run gpu:pack` wrote into .device/gpu (carry it), points the loader
# at the machine's own torch/lib, and runs
# 1. scripts/gpu-check.mjs (at most 4 minutes): every case prints one JSON line, also kept in
#    OUT_DIR/gpu-check.jsonl; its stderr is kept in OUT_DIR/gpu-check.log;
# 2. bench/gpu.mjs (at most 340 s; about 300 s expected on the H200: the 285 s of the first run
#    less its check, plus the time-to-model pair and the decode rates): the GPU benchmark rows,
#    side by side with the machine's own PyTorch, into OUT_DIR/gpu-latest.json and .md (written
#    row by row); its stderr is kept in OUT_DIR/gpu-bench.log;
# 3. scripts/repeated-warnings.mjs on both logs (issue 23): a warning that one case or one
#    child printed twice or more (libtorch's `[W<date> ...] Warning: ...`, Python's
#    `UserWarning: ...`) fails the check, as the cases "repeated-libtorch-warnings"
#    (gpu-check.log, counted per case) and "repeated-libtorch-warnings-bench" (gpu-bench.log,
#    counted per child process of bench/gpu.mjs); both lines also list every warning seen.
# The two limits add up to 580 s, under the device tool's 600 s per command.
# Then commit those files under bench/results/.
#
# usage: bash scripts/gpu-check.sh OUT_DIR [--device cuda|cpu] [--quick] [--no-bench]
#   (--device cpu --quick: a dry run anywhere)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bash scripts/gpu-check.sh OUT_DIR [--device cuda|cpu] [--quick] [--no-bench]}"
shift
mkdir -p "$out" && out="$(cd "$out" && pwd)"
bundle="$root/.device/gpu"
source "$root/scripts/gpu-runtime.sh" || exit 1
# The project's step and loader benchmark binaries (in the bundle; else the cargo build's) find
# libtorch here.
export LD_LIBRARY_PATH="${RESNET_NAPI_LIBTORCH}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[[ -x "$bundle/bin/train-step-bench" ]] && export BENCH_STEP_BINARY="$bundle/bin/train-step-bench"
[[ -x "$bundle/bin/loader-bench" ]] && export BENCH_LOADER_BINARY="$bundle/bin/loader-bench"
device=cuda quick=() bench=1
while (($#)); do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --no-bench) bench=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cd "${bundle}" 2>/dev/null || cd "$root"
# Runs a command with its stderr shown and kept in the file $1 (stdout passes through); returns
# the command's exit status, after tee has written everything.
keep_stderr() {
  local log="$1"; shift
  { "$@" 2>&1 1>&3 3>&- | tee "$log" >&2; return "${PIPESTATUS[0]}"; } 3>&1
}
# Appends the repeated-warnings case for the log $1 (named $2) to gpu-check.jsonl; returns 1 when
# a warning repeats.
check_warnings() {
  "$node" scripts/repeated-warnings.mjs "$@" | tee -a "$out/gpu-check.jsonl"
  return "${PIPESTATUS[0]}"
}
keep_stderr "$out/gpu-check.log" timeout 240 "$node" scripts/gpu-check.mjs "$out" --device "$device"
status=$?
check_warnings "$out/gpu-check.log" repeated-libtorch-warnings --split '[gpu-check] '
warnings_status=$?
((status == 0)) && status=$warnings_status
if ((bench)); then
  keep_stderr "$out/gpu-bench.log" timeout 340 "$node" bench/gpu.mjs "$out" --device "$device" "${quick[@]}"
  bench_status=$?
  echo "{\"case\": \"bench\", \"exit\": $bench_status}" | tee -a "$out/gpu-check.jsonl"
  ((status == 0)) && status=$bench_status
  check_warnings "$out/gpu-bench.log" repeated-libtorch-warnings-bench --split '[gpu-bench] '
  warnings_status=$?
  ((status == 0)) && status=$warnings_status
fi
passed="$(grep -c '"ok":true' "$out/gpu-check.jsonl" 2>/dev/null)"
failed="$(grep -c '"ok":false' "$out/gpu-check.jsonl" 2>/dev/null)"
echo "{\"case\": \"summary\", \"exit\": $status, \"passed\": ${passed:-0}, \"failed\": ${failed:-0}}" | tee -a "$out/gpu-check.jsonl"
exit $status

#!/usr/bin/env bash
# The whole test suite: builds the addon and the facade, runs cargo test (resnet-core) and
# ava, and ends with one line "N passed, N failed" totalling both.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Every missing tool named at once, before minutes of compiling (Chromium included).
bash scripts/check-prerequisites.sh --tests || exit 1
bash scripts/build-native.sh || exit 1
# The same addon with the fault-injection hooks, for __test__/panics.spec.mjs alone.
bash scripts/build-native.sh --test-hooks || exit 1
npx tsc -p tsconfig.json || exit 1
# torch + torchvision + safetensors for the parity tests against torchvision (tests/parity.rs).
RESNET_NAPI_TEST_PYTHONPATH="$(bash bench/setup-python.sh)" || exit 1
export RESNET_NAPI_TEST_PYTHONPATH
# The reference ONNX checker for the export test (tests/export.rs).
RESNET_NAPI_TEST_ONNX_PYTHONPATH="$(bash scripts/setup-onnx-python.sh)" || exit 1
export RESNET_NAPI_TEST_ONNX_PYTHONPATH

cargo_log="$(mktemp)"
ava_log="$(mktemp)"
trap 'rm -f "$cargo_log" "$ava_log"' EXIT

# --no-fail-fast: every test binary runs and counts, even after one fails.
bash scripts/with-libtorch.sh cargo test --release --no-fail-fast -p resnet-core 2>&1 | tee "$cargo_log"
cargo_status=${PIPESTATUS[0]}
npx ava --tap 2>&1 | tee "$ava_log"
ava_status=${PIPESTATUS[0]}

sum() { awk "$1" "$2"; }
cargo_passed=$(sum '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$cargo_log")
cargo_failed=$(sum '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$cargo_log")
ava_passed=$(sum '/^# pass/ { s += $3 } END { print s + 0 }' "$ava_log")
ava_failed=$(sum '/^# fail/ { s += $3 } END { print s + 0 }' "$ava_log")
# A runner that crashed before reporting counts as a failure even if it printed no count.
extra=0
[[ $cargo_status -ne 0 && $cargo_failed -eq 0 ]] && extra=$((extra + 1))
[[ $ava_status -ne 0 && $ava_failed -eq 0 ]] && extra=$((extra + 1))
passed=$((cargo_passed + ava_passed))
failed=$((cargo_failed + ava_failed + extra))
echo "cargo test: $cargo_passed passed, $cargo_failed failed; ava: $ava_passed passed, $ava_failed failed"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]

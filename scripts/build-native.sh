#!/usr/bin/env bash
# Builds the addon (release) against the project's libtorch into native/, with napi's loader.
# With --test-hooks: the test suite's addon, with the fault-injection entry points
# (crates/resnet-napi/src/fault_injection.rs), into native/test-hooks/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Fails in a second, naming every missing tool, instead of minutes into a CMake error.
bash scripts/check-prerequisites.sh
out=(--output-dir native)
if [[ "${1:-}" == "--test-hooks" ]]; then
  shift
  out=(--output-dir native/test-hooks --features test-hooks)
fi
exec bash scripts/with-libtorch.sh npx napi build --platform --release \
  --manifest-path crates/resnet-napi/Cargo.toml --package-json-path package.json \
  "${out[@]}" --js binding.cjs --dts binding.d.ts "$@"

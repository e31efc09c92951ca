#!/usr/bin/env bash
# Builds the addon (release) against the project's libtorch into native/, with napi's loader,
# and the options addon beside it.
# With --test-hooks: the test suite's addon, with the fault-injection entry points
# (crates/resnet-napi/src/fault_injection.rs), into native/test-hooks/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Fails in a second, naming every missing tool, instead of minutes into a CMake error.
bash scripts/check-prerequisites.sh
dir=native
features=()
if [[ "${1:-}" == "--test-hooks" ]]; then
  shift
  dir=native/test-hooks
  features=(--features test-hooks)
fi
# The option table and check, an addon without libtorch (crates/resnet-napi-options), into
# native/ for both builds: train() checks options with it before libtorch is loaded.
bash scripts/with-libtorch.sh npx napi build --platform --release \
  --manifest-path crates/resnet-napi-options/Cargo.toml --config-path crates/resnet-napi-options/napi.json \
  --output-dir native --no-js --dts options-binding.d.ts "$@"
bash scripts/with-libtorch.sh npx napi build --platform --release \
  --manifest-path crates/resnet-napi/Cargo.toml --package-json-path package.json \
  --output-dir "$dir" "${features[@]}" --js binding.cjs --dts binding.d.ts "$@"
# libresnet_nccl.so (NCCL for distributed runs on GPUs; crates/resnet-core/build.rs) goes beside
# the addon, which loads it from there only when a run asks for NCCL. A build without it (no
# CUDA in the libtorch built against) leaves none, and no stale copy either.
host="$(rustc -vV | sed -n 's/^host: //p')"
nccl="${CARGO_TARGET_DIR:-$root/target}/$host/release/libresnet_nccl.so"
rm -f "$dir/libresnet_nccl.so"
if [[ -f "$nccl" ]]; then
  cp "$nccl" "$dir/libresnet_nccl.so"
fi

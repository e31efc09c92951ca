#!/usr/bin/env bash
# Builds the addon (release) against the project's libtorch into native/, with napi's loader.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Fails in a second, naming every missing tool, instead of minutes into a CMake error.
bash scripts/check-prerequisites.sh
exec bash scripts/with-libtorch.sh npx napi build --platform --release \
  --manifest-path crates/resnet-napi/Cargo.toml --package-json-path package.json \
  --output-dir native --js binding.cjs --dts binding.d.ts "$@"

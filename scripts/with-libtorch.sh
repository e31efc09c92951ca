#!/usr/bin/env bash
# Runs a command with LIBTORCH pointing at the project's libtorch (see setup-libtorch.sh), and
# its lib/ on LD_LIBRARY_PATH for binaries that carry no rpath (cargo's test executables; the
# addon itself has one).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Development builds and tests use the CUDA build (what the published addon is built against,
# and what libresnet_nccl.so needs) unless RESNET_NAPI_TORCH says otherwise.
LIBTORCH="$(RESNET_NAPI_TORCH="${RESNET_NAPI_TORCH:-cuda}" bash "$here/setup-libtorch.sh")"
export LIBTORCH
if [[ ! -d "$LIBTORCH/include" ]]; then
  echo "$LIBTORCH has no C++ headers (the CPU-only install holds the libraries alone): build with the CUDA build (unset RESNET_NAPI_TORCH) or set LIBTORCH to a full libtorch" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"

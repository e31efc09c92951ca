#!/usr/bin/env bash
# Provides libtorch and prints its directory (the one holding include/ and lib/).
#
# If LIBTORCH is set and holds lib/libtorch.so, that is used. Otherwise PyPI's torch==2.11.0
# (a CUDA 13.0 build; its nvidia-* wheels are needed to load even without a GPU) is installed
# once into a cache outside the checkout, reused by every clone and every later run:
#   ${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}/torch-2.11.0/torch
# Idempotent: a completed install is marked and never redone. Progress goes to stderr: a line
# with bytes, rate and time left while the wheels download (scripts/fetch_wheels.py), which an
# interrupted run resumes. pip's own settings apply (PIP_INDEX_URL names another index).
set -euo pipefail

TORCH_VERSION=2.11.0
if [[ -n "${LIBTORCH:-}" ]]; then
  if [[ -f "$LIBTORCH/lib/libtorch.so" ]]; then
    echo "$LIBTORCH"
    exit 0
  fi
  echo "LIBTORCH=$LIBTORCH has no lib/libtorch.so; unset it to install torch==$TORCH_VERSION instead" >&2
  exit 1
fi

cache="${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}"
target="$cache/torch-$TORCH_VERSION"
marker="$target/.complete"
if [[ ! -f "$marker" ]]; then
  python="$(command -v python3 || command -v python || true)"
  if [[ -z "$python" ]]; then
    echo "python3 is needed to install torch==$TORCH_VERSION from PyPI (apt-get install python3 python3-pip)" >&2
    exit 1
  fi
  echo "Installing torch==$TORCH_VERSION from PyPI into $target (once; a few GB)..." >&2
  rm -rf "$target.partial"
  mkdir -p "$cache"
  pip=("$python" -m pip --disable-pip-version-check)
  # pip resolves the wheels, reading only their metadata (fast-deps: HTTP range requests; a
  # plain --dry-run would download every wheel once just to resolve), fetch_wheels.py downloads
  # them with a progress line, resuming an interrupted download and checking the free space
  # first, and pip installs from that folder. Where that resolution fails (a pip before 22.2
  # has no --report), pip installs the plain way.
  wheels="$cache/wheels-torch-$TORCH_VERSION"
  report="$cache/torch-$TORCH_VERSION-report.json"
  resolve_log="$(mktemp)"
  if "${pip[@]}" install --quiet --dry-run --ignore-installed --use-feature=fast-deps --report "$report" \
      "torch==$TORCH_VERSION" >"$resolve_log" 2>&1; then
    rm -f "$resolve_log"
    "$python" "$(dirname "${BASH_SOURCE[0]}")/fetch_wheels.py" "$report" "$wheels" || exit 1
    "${pip[@]}" install --quiet --no-compile --no-index --find-links "$wheels" \
      --target "$target.partial" "torch==$TORCH_VERSION" >&2
    rm -rf "$wheels" "$report"
  else
    echo "Resolving with pip's metadata-only mode failed; installing the plain way. pip said:" >&2
    cat "$resolve_log" >&2
    rm -f "$resolve_log"
    "${pip[@]}" install --quiet --no-compile --target "$target.partial" "torch==$TORCH_VERSION" >&2
  fi
  rm -rf "$target"
  mv "$target.partial" "$target"
  touch "$marker"
fi
# CUDA's C++ core headers (CCCL), which the wheel lacks and c10d's ProcessGroupNCCL.hpp needs
# (through cuda_fp16.h): with them the addon gets NCCL for distributed runs on GPUs
# (crates/resnet-core/build.rs). A few MB, once; without them Gloo moves CUDA tensors.
cccl="$target/cccl"
if [[ ! -f "$cccl/.complete" ]]; then
  rm -rf "$cccl.partial"
  if "${python:-python3}" -m pip install --quiet --no-compile --no-deps --disable-pip-version-check \
      --target "$cccl.partial" "nvidia-cuda-cccl==13.0.85" >&2; then
    rm -rf "$cccl"
    mv "$cccl.partial" "$cccl"
    touch "$cccl/.complete"
  else
    echo "Could not install nvidia-cuda-cccl: distributed runs on GPUs will use Gloo instead of NCCL" >&2
    rm -rf "$cccl.partial"
  fi
fi
echo "$target/torch"

#!/usr/bin/env bash
# Provides the `onnx` Python package (the reference checker of the ONNX spec) for the export
# test (crates/resnet-core/tests/export.rs) and prints the PYTHONPATH to use. Installed once
# into its own --target dir, ${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}/onnx-python.
# Idempotent: a completed install is marked and never redone. Progress goes to stderr.
set -euo pipefail

ONNX_VERSION=1.23.2
cache="${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}"
target="$cache/onnx-python"
marker="$target/.complete-$ONNX_VERSION"
if [[ ! -f "$marker" ]]; then
  echo "Installing onnx==$ONNX_VERSION into $target (once)..." >&2
  rm -rf "$target.partial"
  python3 -m pip install --quiet --no-compile --disable-pip-version-check --root-user-action=ignore \
    --target "$target.partial" "onnx==$ONNX_VERSION" >&2
  rm -rf "$target"
  mv "$target.partial" "$target"
  touch "$marker"
fi
PYTHONPATH="$target" python3 -c "import onnx; print('onnx', onnx.__version__)" >&2
echo "$target"

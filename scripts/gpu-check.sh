#!/usr/bin/env bash
# The GPU check, on the GPU machine (no Node, Rust or network there): unpacks the bundle that
# `npm run gpu:pack` wrote into .device/gpu (carry it), points the loader at the machine's own
# torch/lib, and runs scripts/gpu-check.mjs with a time limit; every case prints one JSON line,
# also kept in OUT_DIR/gpu-check.jsonl. Then commit that file under bench/results/.
#
# usage: bash scripts/gpu-check.sh OUT_DIR [--device cuda|cpu]   (--device cpu: a dry run anywhere)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bash scripts/gpu-check.sh OUT_DIR [--device cuda|cpu]}"
shift
mkdir -p "$out"
bundle="$root/.device/gpu"
node="$(command -v node || true)"
if [[ -f "$bundle/node.xz" ]]; then
  node=/tmp/gpu-check-node
  [[ -x "$node" ]] || { xz -dc "$bundle/node.xz" > "$node" && chmod +x "$node"; }
fi
[[ -n "$node" ]] || { echo "no node: run npm run gpu:pack on a build machine and carry .device/gpu" >&2; exit 1; }
# The machine's own libtorch (torch 2.11 in its python3), unless one is named already.
if [[ -z "${RESNET_NAPI_LIBTORCH:-}" ]]; then
  RESNET_NAPI_LIBTORCH="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)"
  export RESNET_NAPI_LIBTORCH
fi
cd "${bundle}" 2>/dev/null || cd "$root"
timeout 540 "$node" scripts/gpu-check.mjs "$out" "$@"
status=$?
passed="$(grep -c '"ok":true' "$out/gpu-check.jsonl" 2>/dev/null)"
failed="$(grep -c '"ok":false' "$out/gpu-check.jsonl" 2>/dev/null)"
echo "{\"case\": \"summary\", \"exit\": $status, \"passed\": ${passed:-0}, \"failed\": ${failed:-0}}" | tee -a "$out/gpu-check.jsonl"
exit $status

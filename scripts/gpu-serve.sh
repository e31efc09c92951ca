#!/usr/bin/env bash
# Serving on the GPU machine (issue 24, item 5: on a GPU, `resnet serve` at concurrency 64 answers
# at least 5x its throughput at concurrency 1), from the bundle `npm run gpu:pack-serve` writes
# into .device/serve (carry it alone: the check's and Fashion-MNIST's bundles do not fit beside
# it). Runs bench/serve.mjs on CUDA for (a) `resnet serve` and (b) the same with batching off
# (--max-batch 1), resnet34 at 224 px, 10 s per row at concurrency 1, 16 and 64, autocannon on
# the same machine; ONNX Runtime's CPU side (c) is left out. Writes OUT/serve-gpu.json and .md
# (commit them under bench/results/) and ends with one JSON line saying whether the goal was
# met. About 1.5 minutes after the machine starts (estimated; never run there yet).
#
# usage: bash scripts/gpu-serve.sh OUT [--device cuda|cpu] [--quick]
#   --device cpu --quick: a dry run anywhere (resnet18 at 64 px, 2 s per row, concurrency 1 and 8)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bash scripts/gpu-serve.sh OUT [--device cuda|cpu] [--quick]}"
shift
device=cuda args=(--arch resnet34 --image-size 224 --seconds 10 --concurrency 1,16,64)
while (($#)); do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) args=(--arch resnet18 --image-size 64 --seconds 2 --concurrency 1,8); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out" && out="$(cd "$out" && pwd)"
bundle="$root/.device/serve"
source "$root/scripts/gpu-runtime.sh" || exit 1
cd "$bundle" 2>/dev/null || cd "$root"
timeout 240 "$node" bench/serve.mjs --device "$device" --servers a,b --out "$out" "${args[@]}" 2> >(tee "$out/serve-gpu.log" >&2)
status=$?
name=serve-gpu
[[ "$device" == cpu ]] && name=serve
"$node" -e '
  const { readFileSync } = require("node:fs")
  const [file, status] = process.argv.slice(1)
  let goal = null
  try { goal = JSON.parse(readFileSync(file, "utf8")).goals[0] } catch {}
  console.log(JSON.stringify({ case: "serve-gpu", exit: Number(status), goal: goal?.name ?? null, ratio: goal?.ratio ?? null, wanted: goal?.wanted ?? null, met: goal?.met ?? false }))
' "$out/$name.json" "$status"
exit $status

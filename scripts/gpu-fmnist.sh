#!/usr/bin/env bash
# Fashion-MNIST on the GPU machine (issue 23, item 7), from the bundle `npm run gpu:pack-fmnist`
# writes into .device/fmnist (carry it; the check's .device/gpu need not come along): the IDX
# files to PNG class folders (all 60,000 training and 10,000 test images), then
# bench/fashion-mnist-gpu.mjs (resnet18, 15 epochs, 64 px then 32 px) within the time limit,
# its lines kept in OUT/fashion-mnist-gpu.jsonl, and a last line saying whether the best test
# accuracy reached 94%. About 4-6 minutes on an H200 (estimated; never run there yet).
#
# usage: bash scripts/gpu-fmnist.sh OUT [--device cuda|cpu] [--quick]
#   --device cpu --quick: a dry run anywhere (100 images a class, 1 epoch, 32 px)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bash scripts/gpu-fmnist.sh OUT [--device cuda|cpu] [--quick]}"
shift
device=cuda per_class=0 args=()
while (($#)); do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) per_class=100 args=(--epochs 1 --sizes 32); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out" && out="$(cd "$out" && pwd)"
bundle="$root/.device/fmnist"
source "$root/scripts/gpu-runtime.sh" || exit 1
# The bundle's IDX files, else Debian's (a build machine's dry run).
[[ -d "$bundle/fmnist" ]] && export FASHION_MNIST_DIR="$bundle/fmnist"
cd "$bundle" 2>/dev/null || cd "$root"
data=/tmp/fmnist-folders-$per_class
python3 bench/fashion_mnist_folders.py "$data" --train-per-class "$per_class" | tee "$out/fashion-mnist-gpu.jsonl" || exit 1
timeout 480 "$node" bench/fashion-mnist-gpu.mjs "$data" /tmp/fmnist-runs --device "$device" "${args[@]}" | tee -a "$out/fashion-mnist-gpu.jsonl"
status=${PIPESTATUS[0]}
best="$(grep '"kind":"result"' "$out/fashion-mnist-gpu.jsonl" | sed 's/.*"testAccuracy":\([0-9.]*\).*/\1/' | sort -g | tail -1)"
met="$(python3 -c "print('true' if '${best:-}' and float('${best:-0}') >= 0.94 else 'false')")"
echo "{\"case\": \"fashion-mnist-gpu\", \"exit\": $status, \"bestTestAccuracy\": ${best:-null}, \"goal\": 0.94, \"met\": $met}" | tee -a "$out/fashion-mnist-gpu.jsonl"
exit $status

#!/usr/bin/env bash
# Makes docs/report.png, the README's picture of a training report: trains the Fashion-MNIST
# benchmark recipe (bench/fashion-mnist.mjs: resnet18 at 32 px, AdamW one-cycle) on 300
# images per class for 5 epochs on the CPU, validating on the first 100 test images of each
# class, then screenshots the run's report.html in headless Chromium at 1280 px wide.
# usage: scripts/report-screenshot.sh [OUTPUT.png]   (needs dataset-fashion-mnist and chromium)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
png="${1:-docs/report.png}"
folders="bench/data/fashion-mnist-300"
data="bench/data/report-data"
run="bench/data/report-run"
PYTHONPATH="$(bash bench/setup-python.sh)" python3 bench/fashion_mnist_folders.py "$folders" --train-per-class 300
rm -rf "$data" "$run"
mkdir -p "$data/test"
ln -s "$PWD/$folders/train" "$data/train"
for class_dir in "$folders"/test/*/; do
  class="$(basename "$class_dir")"
  mkdir -p "$data/test/$class"
  find "$class_dir" -type f | sort | head -n 100 | while read -r file; do ln -s "$PWD/$file" "$data/test/$class/"; done
done
# Passive OpenMP threads: on a busy machine spinning ones slow libtorch down badly (docs/NOTES.md).
OMP_WAIT_POLICY=PASSIVE node bench/fashion-mnist.mjs --data "$data" --output "$run" --epochs 5 --lr 0.003
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --host-resolver-rules='MAP * ~NOTFOUND' --virtual-time-budget=10000 --user-data-dir="$profile" \
  --window-size=1280,1760 --screenshot="$png" "file://$PWD/$run/report.html" 2>/dev/null
echo "wrote $png from $run/report.html"

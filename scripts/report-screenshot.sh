#!/usr/bin/env bash
# Makes docs/report.png, the README's picture of a training report: trains the Fashion-MNIST
# benchmark recipe (bench/fashion-mnist.mjs) on 500 images per class for 6 epochs on the CPU
# (~3 minutes on 2 cores; validation on all 10,000 test images), then screenshots the run's
# report.html in headless Chromium at 1280 px wide.
# usage: scripts/report-screenshot.sh [OUTPUT.png]   (needs dataset-fashion-mnist and chromium)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
png="${1:-docs/report.png}"
data="bench/data/fashion-mnist-500"
run="bench/data/report-run"
PYTHONPATH="$(bash bench/setup-python.sh)" python3 bench/fashion_mnist_folders.py "$data" --train-per-class 500
rm -rf "$run"
node bench/fashion-mnist.mjs --data "$data" --output "$run" --epochs 6 --lr 0.003
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --host-resolver-rules='MAP * ~NOTFOUND' --virtual-time-budget=10000 --user-data-dir="$profile" \
  --window-size=1280,1760 --screenshot="$png" "file://$PWD/$run/report.html" 2>/dev/null
echo "wrote $png from $run/report.html"

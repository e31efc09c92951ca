#!/usr/bin/env bash
# The whole GPU-machine check (see docs/NOTES.md): the end-to-end API check, then the
# Fashion-MNIST accuracy run on the full training set. Carried in .device/: the node binary,
# the addon, dist/, jpeg-js and pngjs, and Debian's fashion-mnist IDX files in .device/fmnist.
set -uo pipefail
bash scripts/device-e2e.sh
mkdir -p /usr/share/datasets/fashion-mnist && cp .device/fmnist/* /usr/share/datasets/fashion-mnist/
python3 bench/fashion_mnist_folders.py /tmp/fmnist --train-per-class 0 | tee "$OUT/fmnist-convert.log"
/tmp/node bench/fashion-mnist-gpu.mjs /tmp/fmnist /tmp/fmnist-runs 2>&1 | tee "$OUT/fmnist-gpu.log"

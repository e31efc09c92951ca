#!/usr/bin/env bash
# Packs the Fashion-MNIST GPU run (issue 23, item 7: >= 94% test accuracy on the GPU) into
# .device/fmnist, a bundle of its own: the 30 MB of IDX files do not fit beside the GPU check's
# photos in one 64 MiB carry. It holds an xz-compressed node binary, dist/, the addon and napi's
# loader, the runtime node_modules, bench/fashion-mnist-gpu.mjs and fashion_mnist_folders.py,
# scripts/gpu-fmnist.sh, and the IDX files of Debian's dataset-fashion-mnist (the training
# images recompressed with xz: 22.6 MB against 26.4 as gzip). Run it on the GPU machine as
# `bash .device/fmnist/scripts/gpu-fmnist.sh OUT` (carry .device/fmnist).
# Refuses a bundle over 60 MiB.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source=/usr/share/datasets/fashion-mnist
[[ -f "$source/train-images-idx3-ubyte.gz" ]] || { echo "no Fashion-MNIST here: sudo apt-get install -y dataset-fashion-mnist" >&2; exit 1; }
bash scripts/build-native.sh
npx tsc -p tsconfig.json
bundle=.device/fmnist
rm -rf "$bundle"
mkdir -p "$bundle/native" "$bundle/scripts" "$bundle/node_modules" "$bundle/bench" "$bundle/fmnist"
xz -6 -T0 -c "$(command -v node)" > "$bundle/node.xz"
cp -r dist package.json "$bundle/"
cp native/binding.cjs native/*.node "$bundle/native/"
cp scripts/gpu-fmnist.sh "$bundle/scripts/"
cp bench/fashion-mnist-gpu.mjs bench/fashion_mnist_folders.py "$bundle/bench/"
zcat "$source/train-images-idx3-ubyte.gz" | xz -9 -T0 > "$bundle/fmnist/train-images-idx3-ubyte.xz"
cp "$source/train-labels-idx1-ubyte.gz" "$source/t10k-images-idx3-ubyte.gz" "$source/t10k-labels-idx1-ubyte.gz" "$bundle/fmnist/"
for module in uplot cli-progress commander string-width strip-ansi ansi-regex emoji-regex is-fullwidth-code-point; do
  [[ -d "node_modules/$module" ]] && cp -r "node_modules/$module" "$bundle/node_modules/"
done
bytes="$(du -sb "$bundle" | cut -f1)"
echo "packed $bundle: $((bytes / 1048576)) MiB"
((bytes < 60 * 1048576)) || { echo "the bundle is over 60 MiB" >&2; exit 1; }

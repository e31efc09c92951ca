#!/usr/bin/env bash
# Builds the addon and the facade, then packs what a GPU run needs into an ignored folder to
# carry to the GPU machine (no Node, Rust or network there). Every bundle holds the runtime: an
# xz-compressed node binary, dist/, the addon and napi's loader, package.json, and the runtime
# node_modules (uplot, cli-progress, commander and cli-progress's own dependencies).
#
# Default, .device/gpu, for scripts/gpu-check.sh: besides the runtime, the test image writers
# (jpeg-js, pngjs), the check's scripts (with scripts/repeated-warnings.mjs), the GPU benchmark
# (bench/gpu.mjs, its PyTorch and project sides, and the project's step and loader benchmark
# binaries), the weights manifest, and photos-224: the time-to-model rows' real photos (1,057
# TrashNet photos at shorter side 224, about 11 MB), copied from bench/data/gpu-photos-224,
# which bench/make_gpu_photos.py builds when missing (PHOTOS_GIT may name a local mirror of the
# TrashNet repository).
#
# --fmnist, .device/fmnist, for scripts/gpu-fmnist.sh (issue 23, item 7: its 30 MB of data do
# not fit beside the photos in one 64 MiB carry): besides the runtime, bench/fashion-mnist-gpu.mjs
# and fashion_mnist_folders.py, and the IDX files of Debian's dataset-fashion-mnist (the
# training images recompressed with xz: 22.6 MB against 26.4 as gzip).
#
# --serve, .device/serve, for scripts/gpu-serve.sh (issue 24, item 5, the GPU row): besides the
# runtime, bench/serve.mjs, scripts/make-dataset.mjs and the node_modules closure of fastify,
# autocannon, jpeg-js and pngjs (about 13 MiB).
#
# Refuses a bundle over 60 MiB (the device tool carries 64 MiB in all).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fmnist=/usr/share/datasets/fashion-mnist
if [[ "${1:-}" == --fmnist ]]; then
  [[ -f "$fmnist/train-images-idx3-ubyte.gz" ]] || { echo "no Fashion-MNIST here: sudo apt-get install -y dataset-fashion-mnist" >&2; exit 1; }
  bundle=.device/fmnist
elif [[ "${1:-}" == --serve ]]; then
  bundle=.device/serve
else
  bundle=.device/gpu
  # The photos first: their source is a git clone (PHOTOS_GIT), which fails in seconds where
  # GitHub is out of reach, before minutes of compiling.
  photos=bench/data/gpu-photos-224
  [[ -f "$photos/.complete" ]] || PYTHONPATH="$(bash bench/setup-python.sh)" python3 bench/make_gpu_photos.py "$photos"
fi
bash scripts/build-native.sh
npx tsc -p tsconfig.json
rm -rf "$bundle"
mkdir -p "$bundle/native" "$bundle/node_modules" "$bundle/bench"
xz -6 -T0 -c "$(command -v node)" > "$bundle/node.xz"
cp -r dist package.json "$bundle/"
cp native/binding.cjs native/*.node native/*.so "$bundle/native/"
for module in uplot cli-progress commander string-width strip-ansi ansi-regex emoji-regex is-fullwidth-code-point; do
  [[ -d "node_modules/$module" ]] && cp -r "node_modules/$module" "$bundle/node_modules/"
done

if [[ "$bundle" == .device/serve ]]; then
  mkdir -p "$bundle/scripts"
  cp bench/serve.mjs "$bundle/bench/"
  cp scripts/make-dataset.mjs "$bundle/scripts/"
  # Every package those four need, as npm laid them out (nested node_modules included).
  node scripts/module-closure.mjs fastify autocannon jpeg-js pngjs | while read -r module; do
    mkdir -p "$bundle/$(dirname "$module")"
    [[ -e "$bundle/$module" ]] || cp -r "$module" "$bundle/$module"
  done
elif [[ "$bundle" == .device/fmnist ]]; then
  mkdir -p "$bundle/fmnist"
  cp bench/fashion-mnist-gpu.mjs bench/fashion_mnist_folders.py "$bundle/bench/"
  zcat "$fmnist/train-images-idx3-ubyte.gz" | xz -9 -T0 > "$bundle/fmnist/train-images-idx3-ubyte.xz"
  cp "$fmnist/train-labels-idx1-ubyte.gz" "$fmnist/t10k-images-idx3-ubyte.gz" "$fmnist/t10k-labels-idx1-ubyte.gz" "$bundle/fmnist/"
else
  bash scripts/with-libtorch.sh cargo build --release -q -p resnet-core --example train-step-bench --example loader-bench
  mkdir -p "$bundle/scripts" "$bundle/bin"
  cp weights-manifest.json "$bundle/"
  cp scripts/gpu-check.mjs scripts/make-dataset.mjs scripts/repeated-warnings.mjs "$bundle/scripts/"
  cp bench/gpu.mjs bench/rows.mjs bench/project_epoch.mjs bench/project_predict.mjs bench/make_photos.py bench/pytorch_epoch.py \
    bench/pytorch_loader.py bench/pytorch_predict.py bench/pytorch_train_step.py \
    bench/project_time_to_model.mjs bench/pytorch_time_to_model.py bench/pytorch_recipe.py "$bundle/bench/"
  cp "${CARGO_TARGET_DIR:-target}/release/examples/train-step-bench" "${CARGO_TARGET_DIR:-target}/release/examples/loader-bench" "$bundle/bin/"
  cp -r "$photos" "$bundle/photos-224"
  cp -r node_modules/jpeg-js node_modules/pngjs "$bundle/node_modules/"
fi
bytes="$(du -sb "$bundle" | cut -f1)"
echo "packed $bundle: $((bytes / 1048576)) MiB"
((bytes < 60 * 1048576)) || { echo "the bundle is over 60 MiB" >&2; exit 1; }

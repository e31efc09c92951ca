#!/usr/bin/env bash
# Builds the addon and the facade, then packs what the GPU check needs into .device/gpu (an
# ignored folder; carry it to the GPU machine): an xz-compressed node binary, dist/, the addon
# and napi's loader, the runtime node_modules (uplot, cli-progress, commander) and the test
# image writers (jpeg-js, pngjs), the check's scripts (with scripts/repeated-warnings.mjs), the
# GPU benchmark (bench/gpu.mjs, its PyTorch and project sides, and the project's step and loader
# benchmark binaries), package.json, the weights manifest, and photos-224: the time-to-model
# rows' real photos (1,057 TrashNet photos at shorter side 224, about 11 MB), copied from
# bench/data/gpu-photos-224, which bench/make_gpu_photos.py builds when missing (PHOTOS_GIT may
# name a local mirror of the TrashNet repository: the GPU machine has no network).
# Refuses a bundle over 60 MiB (the device tool carries 64 MiB in all).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build-native.sh
npx tsc -p tsconfig.json
bash scripts/with-libtorch.sh cargo build --release -q -p resnet-core --example train-step-bench --example loader-bench
photos=bench/data/gpu-photos-224
[[ -f "$photos/.complete" ]] || PYTHONPATH="$(bash bench/setup-python.sh)" python3 bench/make_gpu_photos.py "$photos"
bundle=.device/gpu
rm -rf "$bundle"
mkdir -p "$bundle/native" "$bundle/scripts" "$bundle/node_modules" "$bundle/bench" "$bundle/bin"
xz -6 -T0 -c "$(command -v node)" > "$bundle/node.xz"
cp -r dist package.json weights-manifest.json "$bundle/"
cp native/binding.cjs native/*.node "$bundle/native/"
cp scripts/gpu-check.mjs scripts/make-dataset.mjs scripts/repeated-warnings.mjs "$bundle/scripts/"
cp bench/gpu.mjs bench/rows.mjs bench/project_epoch.mjs bench/project_predict.mjs bench/make_photos.py bench/pytorch_epoch.py \
  bench/pytorch_loader.py bench/pytorch_predict.py bench/pytorch_train_step.py \
  bench/project_time_to_model.mjs bench/pytorch_time_to_model.py bench/pytorch_recipe.py "$bundle/bench/"
cp "${CARGO_TARGET_DIR:-target}/release/examples/train-step-bench" "${CARGO_TARGET_DIR:-target}/release/examples/loader-bench" "$bundle/bin/"
cp -r "$photos" "$bundle/photos-224"
for module in uplot cli-progress commander jpeg-js pngjs; do cp -r "node_modules/$module" "$bundle/node_modules/"; done
# cli-progress's own dependencies.
for module in string-width strip-ansi ansi-regex emoji-regex is-fullwidth-code-point; do
  [[ -d "node_modules/$module" ]] && cp -r "node_modules/$module" "$bundle/node_modules/"
done
bytes="$(du -sb "$bundle" | cut -f1)"
echo "packed $bundle: $((bytes / 1048576)) MiB"
((bytes < 60 * 1048576)) || { echo "the bundle is over 60 MiB" >&2; exit 1; }

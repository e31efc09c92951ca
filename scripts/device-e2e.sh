#!/usr/bin/env bash
# Runs on the GPU machine (no Node, no Rust there): unpacks what was carried in .device/
# (node binary, the addon, the compiled facade, two image encoders) and runs device-e2e.mjs
# against that machine's own torch/lib. Results go to $OUT.
set -uo pipefail
xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p native node_modules
cp .device/resnet-napi.linux-x64-gnu.node native/
rm -rf dist && cp -r .device/dist dist
cp -r .device/node_modules/. node_modules/
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
export RESNET_NAPI_LIBTORCH="$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
python3 -c 'import torch; print("python torch", torch.__version__, torch.cuda.is_available())' | tee -a "$OUT/gpu.txt"
/tmp/node scripts/device-e2e.mjs /tmp/resnet-e2e 2>&1 | tee "$OUT/device-e2e.log"

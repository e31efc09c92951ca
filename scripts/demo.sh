#!/usr/bin/env bash
# The main job on a generated dataset: set up libtorch and build (once), make 3 classes of
# images, train resnet18 with a live progress bar, then predict on test images.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build-native.sh
npx tsc -p tsconfig.json
node scripts/make-dataset.mjs .demo/shapes
node dist/cli.js train --data .demo/shapes --arch resnet18 --epochs 3 --image-size 64 \
  --batch-size 16 --learning-rate 0.001 --output .demo/run
node dist/cli.js predict --model .demo/run --top-k 3 \
  .demo/shapes/test/disc/disc-000.jpg .demo/shapes/test/square/square-000.jpg .demo/shapes/test/stripes/stripes-000.jpg

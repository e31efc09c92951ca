#!/usr/bin/env bash
# Does bf16 autocast on the CPU cost accuracy? The check behind `precision: 'auto'` picking bf16
# on processors with native bf16 (issue 17): the same training in float32 and in bf16, seeds 1
# and 2, one after the other on this machine:
# - Fashion-MNIST (10,000 training / 10,000 test images, the recipe of bench/fashion-mnist.mjs,
#   15 epochs); the goal: bf16 within 0.5 point of float32 on the mean of the seeds;
# - the real-photo bench's data and setting (TrashNet, resnet18, 128 px, 12 epochs, the
#   project's defaults, bench/photos.mjs); the goal: within 1 point.
# Writes bench/results/precision.json and .md (every run, its accuracy and its training time).
# Each run's result is kept in bench/data/precision-rows.jsonl as it finishes, and a rerun skips
# the runs already there (delete the file to start afresh).
#
# usage: bench/precision.sh [--seeds 1,2] [--quick] [--photo-fp32-from bench/results/photos.json]
#   --quick: 1 epoch each, a smoke test (its own rows file).
#   --photo-fp32-from: take the float32 photo runs from the photo bench's results (its
#   "project-defaults" side, the same training in float32) instead of training them again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seeds=1,2 fmnist_epochs=15 photo_epochs=12 quick=false photo_fp32_from=
while (($#)); do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --quick) fmnist_epochs=1 photo_epochs=1 quick=true; shift ;;
    --photo-fp32-from) photo_fp32_from="$2"; shift 2 ;;
    *) echo "usage: bench/precision.sh [--seeds 1,2] [--quick] [--photo-fp32-from FILE]" >&2; exit 2 ;;
  esac
done
fmnist=bench/data/fashion-mnist-1000
photos=bench/data/trashnet
[[ -f "$photos/.complete" ]] || { echo "no $photos: bash bench/photos.sh prepares it (run it once, or with --quick)" >&2; exit 1; }
if [[ ! -d "$fmnist/train" ]]; then
  PYTHONPATH="$(bash bench/setup-python.sh)" python3 bench/fashion_mnist_folders.py "$fmnist" --train-per-class 1000
fi
rows=bench/data/precision-rows.jsonl
[[ $quick == true ]] && rows=bench/data/precision-rows-quick.jsonl
touch "$rows"
trap 'echo "precision: FAILED (line $LINENO); no results written (finished runs are in $rows)" >&2' ERR
addon="$(sha256sum native/*.node | cut -d' ' -f1)"
done_already() { grep -q "\"bench\": \"$1\", \"precision\": \"$2\", \"seed\": $3," "$rows"; }

if [[ -n "$photo_fp32_from" ]]; then
  for seed in ${seeds//,/ }; do
    done_already photos fp32 "$seed" || python3 -c "
import json, sys
results = json.load(open('$photo_fp32_from'))
run = next(r for r in results['finals']['project-defaults'] if r['seed'] == $seed)
print(json.dumps({'bench': 'photos', 'precision': 'fp32', 'seed': $seed, 'accuracy': run['valAccuracy'], 'trainSeconds': run['trainSeconds'], 'source': '$photo_fp32_from at ' + results['commit'][:7]}))" | tee -a "$rows"
  done
fi
for seed in ${seeds//,/ }; do
  for precision in fp32 bf16; do
    done_already fashion-mnist "$precision" "$seed" || node bench/fashion-mnist.mjs --data "$fmnist" --output bench/data/precision-run --epochs "$fmnist_epochs" --lr 0.003 \
      --seed "$seed" --precision "$precision" | grep '"kind":"project"' \
      | python3 -c "import json, sys; r = json.loads(sys.stdin.read()); print(json.dumps({'bench': 'fashion-mnist', 'precision': '$precision', 'seed': $seed, 'accuracy': r['testAccuracy'], 'trainSeconds': r['trainSeconds']}))" \
      | tee -a "$rows"
    done_already photos "$precision" "$seed" || node bench/photos.mjs --data "$photos" --output bench/data/precision-run --epochs "$photo_epochs" --image-size 128 \
      --seed "$seed" --settings defaults --precision "$precision" | grep '"kind":"final"' \
      | python3 -c "import json, sys; r = json.loads(sys.stdin.read()); print(json.dumps({'bench': 'photos', 'precision': '$precision', 'seed': $seed, 'accuracy': r['valAccuracy'], 'trainSeconds': r['trainSeconds']}))" \
      | tee -a "$rows"
  done
done
python3 bench/precision_report.py "$rows" "$quick" "$addon" "$fmnist_epochs" "$photo_epochs"

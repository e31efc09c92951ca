#!/usr/bin/env bash
# Transfer benchmark: pretrain on Fashion-MNIST classes 0-4, fine-tune on classes 5-9 with 100
# images per class, against training from scratch for the same epochs (bench/transfer.mjs).
# Writes bench/results/transfer.json and .md (mean +- std over the seeds).
#
# usage: bench/transfer.sh [--seeds 1,2,3] [--epochs 10] [--pretrain-epochs 5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seeds=1,2,3 epochs=10 pretrain_epochs=5
while (($#)); do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --pretrain-epochs) pretrain_epochs="$2"; shift 2 ;;
    *) echo "usage: bench/transfer.sh [--seeds 1,2,3] [--epochs E] [--pretrain-epochs E]" >&2; exit 2 ;;
  esac
done
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "needs the Fashion-MNIST IDX files: apt-get install dataset-fashion-mnist (as root)" >&2
  exit 1
fi
folders=bench/data/fashion-mnist-1000
pythonpath="$(bash bench/setup-python.sh)"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
trap 'echo "transfer: FAILED (line $LINENO); no results written" >&2' ERR
PYTHONPATH="$pythonpath" python3 bench/fashion_mnist_folders.py "$folders" --train-per-class 1000 >&2
node bench/transfer.mjs --folders "$folders" --work bench/data/transfer --pretrain-epochs "$pretrain_epochs" \
  --epochs "$epochs" --seeds "$seeds" | tee "$rows"

mkdir -p bench/results
python3 bench/transfer_report.py "$rows"

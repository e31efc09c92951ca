#!/usr/bin/env bash
# Real-photo quality benchmark: the project's defaults against torchvision + torch.optim with the
# same recipe, transforms, epochs and image size, over several seeds, on real phone photos; plus
# the project with the Kaggle notebook's settings (recipe 'notebook') on the same seeds, and
# test-time augmentation of the default models. Writes bench/results/photos.json and .md
# (mean +- standard deviation of the last epoch's validation accuracy per side).
#
# The photos: TrashNet (Gary Thung and Mindy Yang, 2017, MIT licence): 2,527 phone photos
# (iPhone 7 Plus, 5S, SE) of cardboard, glass, metal, paper, plastic and trash on a white
# poster board, 512x384 JPEGs as the authors published them (their dataset-resized folder),
# taken from the copy in github.com/congduytran12/Trash-Classification- at commit
# 00212f2c18dcdb9045c74481eaae5baaf72537df, path dataset-resized/. Split here per class by file
# number: every 4th image (number divisible by 4) validates, the rest trains: 1,898 / 629.
#
# usage: bench/photos.sh [--seeds 1,2,3] [--epochs 12] [--image-size 128] [--quick]
#   PHOTOS_GIT: where to clone the repository from (default its GitHub URL; a local clone or
#   bare mirror works offline). --quick: 2 epochs and one seed, a smoke test of the chain.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seeds=1,2,3 epochs=12 size=128 quick=false
while (($#)); do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --image-size) size="$2"; shift 2 ;;
    --quick) seeds=1 epochs=2 quick=true; shift ;;
    *) echo "usage: bench/photos.sh [--seeds 1,2,3] [--epochs E] [--image-size S] [--quick]" >&2; exit 2 ;;
  esac
done
repo_url="${PHOTOS_GIT:-https://github.com/congduytran12/Trash-Classification-.git}"
commit=00212f2c18dcdb9045c74481eaae5baaf72537df
data=bench/data/trashnet

if [[ ! -f "$data/.complete" ]]; then
  echo "Preparing $data from $repo_url at $commit..." >&2
  clone="$(mktemp -d)"
  git clone --quiet --no-checkout "$repo_url" "$clone/repo"
  git -C "$clone/repo" archive "$commit" dataset-resized | tar -x -C "$clone"
  rm -rf "$data"
  for class_dir in "$clone"/dataset-resized/*/; do
    class="$(basename "$class_dir")"
    mkdir -p "$data/train/$class" "$data/val/$class"
    for file in "$class_dir"*.jpg; do
      number="$(basename "$file" .jpg)"; number="${number//[!0-9]/}"
      if ((number % 4 == 0)); then cp "$file" "$data/val/$class/"; else cp "$file" "$data/train/$class/"; fi
    done
  done
  rm -rf "$clone"
  touch "$data/.complete"
fi
echo "{\"kind\": \"data\", \"train\": $(find "$data/train" -name '*.jpg' | wc -l), \"val\": $(find "$data/val" -name '*.jpg' | wc -l)}"

addon="$(sha256sum native/*.node | cut -d' ' -f1)"
pythonpath="$(bash bench/setup-python.sh)"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
trap 'echo "photos: FAILED (line $LINENO); no results written" >&2' ERR

# Each seed runs the three sides one after the other, so a slow spell of the machine hits
# every side alike; every step prints JSON lines (tee shows them live).
for seed in ${seeds//,/ }; do
  for settings in defaults notebook; do
    node bench/photos.mjs --data "$data" --output "bench/data/photos-run" --epochs "$epochs" --image-size "$size" \
      --seed "$seed" --settings "$settings" | tee -a "$rows"
  done
  PYTHONPATH="$pythonpath" python3 bench/photos_pytorch.py --data "$data" --epochs "$epochs" --image-size "$size" \
    --seed "$seed" | tee -a "$rows"
done

mkdir -p bench/results
python3 bench/photos_report.py "$rows" "$quick" "$addon" "$commit" "$epochs" "$size"

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
python3 - "$rows" <<'PY'
import datetime, json, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
pretrain = next(r for r in rows if r["kind"] == "pretrain")
runs = {start: [r for r in rows if r["kind"] == "run" and r["start"] == start] for start in ("pretrained", "scratch")}
def spread(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}
summary = {start: spread([r["valAccuracy"] for r in found]) for start, found in runs.items()}
out = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "pretrain": pretrain, "summary": summary, "runs": runs,
       "setup": "resnet18, 32 px (stretch, random crops of 70-100% + flip), batch 64, default recipe (AdamW 0.003, "
                "one-cycle, label smoothing 0.1); fine-tuning adds the default freezeEpochs 1 and bodyLrFactor 0.1"}
json.dump(out, open("bench/results/transfer.json", "w"), indent=2)
pct = lambda s: f"{100 * s['mean']:.1f}% ± {100 * s['std']:.1f}"
md = [f"# Transfer benchmark ({out['date']})", "",
      f"Pretrained on Fashion-MNIST classes 0-4 ({', '.join(pretrain['classes'])}), 1,000 training images each, "
      f"{pretrain['epochs']} epochs: {100 * pretrain['valAccuracy']:.1f}% on their 5,000 test images.",
      f"Then classes 5-9 with 100 training images each, {runs['scratch'][0]['epochs']} epochs, tested on all 5,000 of their "
      f"test images. {out['setup']}.", "",
      "| start | accuracy on classes 5-9 (mean ± std) | runs |", "|---|---|---|"]
for start, label in (("pretrained", "from the classes 0-4 model (pretrained: dir)"), ("scratch", "from scratch")):
    md.append(f"| {label} | **{pct(summary[start])}** | {', '.join(f'{100 * v:.1f}' for v in summary[start]['runs'])} |")
md += ["", f"Pretrained minus scratch: {100 * (summary['pretrained']['mean'] - summary['scratch']['mean']):+.1f} points."]
open("bench/results/transfer.md", "w").write("\n".join(md) + "\n")
print(json.dumps({k: round(v["mean"], 4) for k, v in summary.items()}))
PY

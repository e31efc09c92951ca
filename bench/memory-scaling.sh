#!/usr/bin/env bash
# Memory without the cache must not grow with the number of images: the project's loader
# reads 1,000 and then 8,000 generated photos (one epoch, cache off) and the peak RSS of the
# two runs is compared (goal: within 10%). Writes bench/results/memory-scaling.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pythonpath="$(bash bench/setup-python.sh)"
bash scripts/with-libtorch.sh cargo build --release -q -p resnet-core --example loader-bench
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
for n in 1000 8000; do
  data="bench/data/photos-$n"
  PYTHONPATH="$pythonpath" python3 bench/make_photos.py "$data" "$n" 80 >/dev/null
  bash scripts/with-libtorch.sh target/release/examples/loader-bench --data "$data" --epochs 1 --cache off | tee -a "$rows"
done
mkdir -p bench/results
python3 - "$rows" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
peaks = {r["images"]: r["peakRssBytes"] for r in rows if r["kind"] == "memory"}
small, large = peaks[1000], peaks[8000]
summary = {"peakRss1k": small, "peakRss8k": large, "growth": round(large / small - 1, 4), "goal": 0.10}
json.dump({"rows": rows, "summary": summary}, open("bench/results/memory-scaling.json", "w"), indent=2)
print(json.dumps(summary))
PY

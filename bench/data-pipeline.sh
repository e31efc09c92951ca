#!/usr/bin/env bash
# Data-pipeline benchmark: images/second delivered by the project's batch loader (without and
# with its in-memory cache) against PyTorch's DataLoader fed by the seed notebook's dataset
# class, on the same generated photos, machine and run. Writes bench/results/data-pipeline.json
# and .md. --quick uses 400 photos instead of 2000.
#
# PROJECT_LOADER_CMD overrides the project's side (e.g. with a stub while it is being written);
# it is run through bash with the loader arguments appended.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in
  "") n=2000 ;;
  --quick) n=400 ;;
  *) echo "usage: bench/data-pipeline.sh [--quick]" >&2; exit 2 ;;
esac
data="bench/data/photos-$n"
cores="$(nproc)"
: "${PROJECT_LOADER_CMD:=bash scripts/with-libtorch.sh cargo run --release -q -p resnet-core --example loader-bench --}"

pythonpath="$(bash bench/setup-python.sh)"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
trap 'echo "data-pipeline: FAILED (line $LINENO); no results written" >&2' ERR

# Every side prints JSON lines on stdout; tee shows them live and pipefail makes a failing side
# fail the whole run.
PYTHONPATH="$pythonpath" python3 bench/make_photos.py "$data" "$n" 80 | tee -a "$rows"
for cache in off memory; do
  bash -c "$PROJECT_LOADER_CMD \"\$@\"" project-loader \
    --data "$data" --image-size 256 --batch-size 64 --epochs 2 --cache "$cache" | tee -a "$rows"
done
PYTHONPATH="$pythonpath" python3 bench/pytorch_loader.py \
  --data "$data" --epochs 2 --workers "$cores" --batch-size 64 --image-size 256 | tee -a "$rows"

mkdir -p bench/results
python3 - "$rows" "$cores" <<'PY'
import datetime, json, re, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def ips(kind, **match):
    got = {r["epoch"]: r["imagesPerSecond"] for r in rows
           if r.get("kind") == kind and all(r.get(k) == v for k, v in match.items())}
    if not {1, 2} <= got.keys():  # a side that printed nothing usable is a failure, not a zero
        sys.exit(f"missing epochs 1 and 2 for {kind} {match}: {got}")
    return got
off, mem, pt = ips("loader", cache="off"), ips("loader", cache="memory"), ips("pytorch_loader")
cpu = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
project, pytorch = max(off.values()), max(pt.values())
out = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cores": int(sys.argv[2]), "cpu": cpu.group(1) if cpu else "unknown"},
    "rows": rows,
    "summary": {"projectImagesPerSecond": project, "pytorchImagesPerSecond": pytorch,
                "ratio": round(project / pytorch, 2), "goal": 3,
                "cacheEpoch2OverEpoch1": round(mem[2] / mem[1], 2), "cacheGoal": 5},
}
json.dump(out, open("bench/results/data-pipeline.json", "w"), indent=2)

s, m = out["summary"], out["machine"]
md = [f"# Data-pipeline benchmark ({out['date']})", "",
      f"{m['cores']} cores, {m['cpu']}; 256x256 batches of 64, 2 epochs each.", "",
      "| side | cache | epoch | images | seconds | images/s |", "|---|---|---|---|---|---|"]
for r in rows:
    if r["kind"] in ("loader", "pytorch_loader"):
        side = "project" if r["kind"] == "loader" else f"PyTorch DataLoader ({r['workers']} workers)"
        md.append(f"| {side} | {r.get('cache', '-')} | {r['epoch']} | {r['images']} | {r['seconds']} | {r['imagesPerSecond']} |")
md += ["", f"- project / PyTorch (best epochs, cache off): **{s['ratio']}x** (goal {s['goal']}x)",
       f"- cache=memory epoch 2 / epoch 1: **{s['cacheEpoch2OverEpoch1']}x** (goal {s['cacheGoal']}x)"]
open("bench/results/data-pipeline.md", "w").write("\n".join(md) + "\n")
print(json.dumps(s))
PY

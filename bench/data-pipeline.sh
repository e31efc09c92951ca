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
  "") n=2000 rounds=3 ;;
  --quick) n=400 rounds=1 ;;
  *) echo "usage: bench/data-pipeline.sh [--quick]" >&2; exit 2 ;;
esac
data="bench/data/photos-$n"
cores="$(nproc)"
: "${PROJECT_LOADER_CMD:=bash scripts/with-libtorch.sh cargo run --release -q -p resnet-core --example loader-bench --}"

pythonpath="$(bash bench/setup-python.sh)"
# libtorch's huge pages for large CPU tensors: the project's facade turns them on by default,
# so both sides get them here.
export THP_MEM_ALLOC_ENABLE=1
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
trap 'echo "data-pipeline: FAILED (line $LINENO); no results written" >&2' ERR

# Every side prints JSON lines on stdout; tee shows them live and pipefail makes a failing side
# fail the whole run.
PYTHONPATH="$pythonpath" python3 bench/make_photos.py "$data" "$n" 80 | tee -a "$rows"
loader() {
  bash -c "$PROJECT_LOADER_CMD \"\$@\"" project-loader \
    --data "$data" --image-size 256 --batch-size 64 --epochs 2 --cache "$1" --output "$2" | tee -a "$rows"
}
# The ratio's two sides (float: normalised tensors, the same product as PyTorch's side) run in
# interleaved rounds, as the machine's speed drifts over minutes; each side's median counts.
for round in $(seq "$rounds"); do
  echo "{\"kind\": \"round\", \"round\": $round}" | tee -a "$rows"
  loader off float
  PYTHONPATH="$pythonpath" python3 bench/pytorch_loader.py \
    --data "$data" --epochs 2 --workers "$cores" --batch-size 64 --image-size 256 | tee -a "$rows"
done
# Once each: the in-memory cache, and the uint8 batches a GPU gets (it normalises them itself;
# shown for reference, not in the ratio).
echo '{"kind": "round", "round": null}' | tee -a "$rows"
loader memory float
loader off uint8
loader memory uint8

mkdir -p bench/results
python3 - "$rows" "$cores" <<'PY'
import datetime, json, re, sys

import statistics
rows, current = [], None
for line in open(sys.argv[1]):
    if line.startswith("{"):
        row = json.loads(line)
        if row.get("kind") == "round":
            current = row["round"]
        else:
            rows.append({**row, "round": current})
def ips(kind, round=None, **match):
    got = {r["epoch"]: r["imagesPerSecond"] for r in rows
           if r.get("kind") == kind and r["round"] == round and all(r.get(k) == v for k, v in match.items())}
    if not {1, 2} <= got.keys():  # a side that printed nothing usable is a failure, not a zero
        sys.exit(f"missing epochs 1 and 2 for {kind} {match} in round {round}: {got}")
    return got
rounds = sorted({r["round"] for r in rows if r["round"] is not None})
# Each round's better epoch, then the median over rounds.
project = statistics.median(max(ips("loader", k, cache="off", output="float").values()) for k in rounds)
pytorch = statistics.median(max(ips("pytorch_loader", k).values()) for k in rounds)
mem = ips("loader", cache="memory", output="float")
gpu_off, gpu_mem = ips("loader", cache="off", output="uint8"), ips("loader", cache="memory", output="uint8")
cpu = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
out = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cores": int(sys.argv[2]), "cpu": cpu.group(1) if cpu else "unknown"},
    "rows": rows,
    "summary": {"projectImagesPerSecond": project, "pytorchImagesPerSecond": pytorch,
                "ratio": round(project / pytorch, 2), "goal": 3, "rounds": len(rounds),
                "cacheEpoch2OverEpoch1": round(mem[2] / mem[1], 2), "cacheGoal": 5,
                "uint8ImagesPerSecond": max(gpu_off.values()),
                "uint8Ratio": round(max(gpu_off.values()) / pytorch, 2),
                "uint8CacheEpoch2OverEpoch1": round(gpu_mem[2] / gpu_mem[1], 2)},
}
json.dump(out, open("bench/results/data-pipeline.json", "w"), indent=2)

s, m = out["summary"], out["machine"]
md = [f"# Data-pipeline benchmark ({out['date']})", "",
      f"{m['cores']} cores, {m['cpu']}; 256x256 batches of 64, 2 epochs each; the ratio's sides in {s['rounds']} interleaved round(s), medians of each round's better epoch.", "",
      "| round | side | output | cache | epoch | images | seconds | images/s |", "|---|---|---|---|---|---|---|---|"]
for r in rows:
    if r["kind"] in ("loader", "pytorch_loader"):
        side = "project" if r["kind"] == "loader" else f"PyTorch DataLoader ({r['workers']} workers)"
        output = r.get("output", "float")
        md.append(f"| {r['round'] or '-'} | {side} | {output} | {r.get('cache', '-')} | {r['epoch']} | {r['images']} | {r['seconds']} | {r['imagesPerSecond']} |")
md += ["", f"- project / PyTorch, float tensors both sides (cache off; median over rounds of the better epoch): {project:.1f} / {pytorch:.1f} img/s, **{s['ratio']}x** (goal {s['goal']}x)",
       f"- cache=memory epoch 2 / epoch 1, float tensors: **{s['cacheEpoch2OverEpoch1']}x** (goal {s['cacheGoal']}x)",
       f"- uint8 batches for a GPU (normalised on the device): {s['uint8ImagesPerSecond']} img/s, "
       f"**{s['uint8Ratio']}x** PyTorch; cache epoch 2 / epoch 1 **{s['uint8CacheEpoch2OverEpoch1']}x**"]
open("bench/results/data-pipeline.md", "w").write("\n".join(md) + "\n")
print(json.dumps(s))
PY

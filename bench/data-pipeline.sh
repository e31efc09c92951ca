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
# libtorch's huge pages for large CPU tensors: the project's facade turns them on by default,
# so both sides get them here.
export THP_MEM_ALLOC_ENABLE=1
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
trap 'echo "data-pipeline: FAILED (line $LINENO); no results written" >&2' ERR

# Every side prints JSON lines on stdout; tee shows them live and pipefail makes a failing side
# fail the whole run.
PYTHONPATH="$pythonpath" python3 bench/make_photos.py "$data" "$n" 80 | tee -a "$rows"
# float: normalised tensors, the same product as PyTorch's side. uint8: the batches the loader
# hands to a GPU, which normalises them itself (shown for reference, not in the ratio).
for output in float uint8; do
  for cache in off memory; do
    bash -c "$PROJECT_LOADER_CMD \"\$@\"" project-loader \
      --data "$data" --image-size 256 --batch-size 64 --epochs 2 --cache "$cache" --output "$output" | tee -a "$rows"
  done
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
off, mem, pt = ips("loader", cache="off", output="float"), ips("loader", cache="memory", output="float"), ips("pytorch_loader")
gpu_off, gpu_mem = ips("loader", cache="off", output="uint8"), ips("loader", cache="memory", output="uint8")
cpu = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
project, pytorch = max(off.values()), max(pt.values())
out = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cores": int(sys.argv[2]), "cpu": cpu.group(1) if cpu else "unknown"},
    "rows": rows,
    "summary": {"projectImagesPerSecond": project, "pytorchImagesPerSecond": pytorch,
                "ratio": round(project / pytorch, 2), "goal": 3,
                "cacheEpoch2OverEpoch1": round(mem[2] / mem[1], 2), "cacheGoal": 5,
                "uint8ImagesPerSecond": max(gpu_off.values()),
                "uint8Ratio": round(max(gpu_off.values()) / pytorch, 2),
                "uint8CacheEpoch2OverEpoch1": round(gpu_mem[2] / gpu_mem[1], 2)},
}
json.dump(out, open("bench/results/data-pipeline.json", "w"), indent=2)

s, m = out["summary"], out["machine"]
md = [f"# Data-pipeline benchmark ({out['date']})", "",
      f"{m['cores']} cores, {m['cpu']}; 256x256 batches of 64, 2 epochs each.", "",
      "| side | output | cache | epoch | images | seconds | images/s |", "|---|---|---|---|---|---|---|"]
for r in rows:
    if r["kind"] in ("loader", "pytorch_loader"):
        side = "project" if r["kind"] == "loader" else f"PyTorch DataLoader ({r['workers']} workers)"
        output = r.get("output", "float")
        md.append(f"| {side} | {output} | {r.get('cache', '-')} | {r['epoch']} | {r['images']} | {r['seconds']} | {r['imagesPerSecond']} |")
md += ["", f"- project / PyTorch, float tensors both sides (best epochs, cache off): **{s['ratio']}x** (goal {s['goal']}x)",
       f"- cache=memory epoch 2 / epoch 1, float tensors: **{s['cacheEpoch2OverEpoch1']}x** (goal {s['cacheGoal']}x)",
       f"- uint8 batches for a GPU (normalised on the device): {s['uint8ImagesPerSecond']} img/s, "
       f"**{s['uint8Ratio']}x** PyTorch; cache epoch 2 / epoch 1 **{s['uint8CacheEpoch2OverEpoch1']}x**"]
open("bench/results/data-pipeline.md", "w").write("\n".join(md) + "\n")
print(json.dumps(s))
PY

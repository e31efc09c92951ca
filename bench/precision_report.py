"""Writes bench/results/precision.json and .md from bench/precision.sh's rows: per bench, each
seed's accuracy in float32 and bf16, the means, and whether bf16 stays within the goal."""
import json, statistics, subprocess, sys
from datetime import datetime, timezone

rows_file, quick, addon, fmnist_epochs, photo_epochs = sys.argv[1:6]
rows = [json.loads(line) for line in open(rows_file) if line.strip()]
goals = {"fashion-mnist": 0.005, "photos": 0.01}
settings = {
    "fashion-mnist": f"10,000 train / 10,000 test, resnet18 32 px, bench/fashion-mnist.mjs's recipe, {fmnist_epochs} epochs",
    "photos": f"TrashNet 1,898 train / 629 val, resnet18 128 px, the project's defaults, {photo_epochs} epochs",
}
benches = {}
for bench, goal in goals.items():
    # Only seeds measured in both precisions compare (a run cut short leaves one side alone).
    both = lambda seed: {r["precision"] for r in rows if r["bench"] == bench and r["seed"] == seed} == {"fp32", "bf16"}
    runs = [r for r in rows if r["bench"] == bench and both(r["seed"])]
    mean = lambda p: statistics.mean(r["accuracy"] for r in runs if r["precision"] == p)
    seconds = lambda p: statistics.mean(r["trainSeconds"] for r in runs if r["precision"] == p)
    difference = mean("bf16") - mean("fp32")
    benches[bench] = {
        "setting": settings[bench], "runs": runs, "meanFp32": mean("fp32"), "meanBf16": mean("bf16"),
        "difference": difference, "goal": f"bf16 >= fp32 - {goal}", "met": difference >= -goal,
        "trainSecondsFp32": seconds("fp32"), "trainSecondsBf16": seconds("bf16"),
    }
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
document = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": quick == "true", "commit": commit,
            "addonSha256": addon, "machine": f"{cpu}, avx512_bf16", "benches": benches,
            "note": "Training seconds depend on what else ran on this 2-core machine at the time; accuracy does not."}
suffix = "-quick" if quick == "true" else ""
json.dump(document, open(f"bench/results/precision{suffix}.json", "w"), indent=2)
lines = [f"# bf16 autocast against float32 on the CPU ({document['date']})", "",
         f"{document['machine']}; commit {commit}. The same training in each precision, one after the other. {document['note']}", ""]
for bench, b in benches.items():
    lines += [f"## {bench}", "", b["setting"] + ".", "", "| seed | fp32 accuracy | bf16 accuracy | fp32 s | bf16 s |", "|---|---|---|---|---|"]
    for seed in sorted({r["seed"] for r in b["runs"]}):
        get = lambda p, k: next(r[k] for r in b["runs"] if r["seed"] == seed and r["precision"] == p)
        lines.append(f"| {seed} | {get('fp32', 'accuracy'):.4f} | {get('bf16', 'accuracy'):.4f} | {get('fp32', 'trainSeconds'):.0f} | {get('bf16', 'trainSeconds'):.0f} |")
    sources = sorted({r["source"] for r in b["runs"] if "source" in r})
    if sources:
        lines += ["", "float32 runs taken from " + ", ".join(sources) + " (the same training, measured there)."]
    lines += ["", f"Mean: fp32 {b['meanFp32']:.4f}, bf16 {b['meanBf16']:.4f}, difference {100 * b['difference']:+.2f} points; "
              f"goal {b['goal']}: {'met' if b['met'] else 'NOT met'}. Training time: fp32 {b['trainSecondsFp32']:.0f} s, bf16 {b['trainSecondsBf16']:.0f} s.", ""]
open(f"bench/results/precision{suffix}.md", "w").write("\n".join(lines))
print(json.dumps({"kind": "summary", **{k: {"difference": v["difference"], "met": v["met"]} for k, v in benches.items()}}))

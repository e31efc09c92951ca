"""Writes bench/results/photos.json and .md from the JSON lines bench/photos.sh collected.

usage: photos_report.py ROWS QUICK ADDON_SHA256 DATA_COMMIT EPOCHS IMAGE_SIZE
"""
import datetime, json, os, re, statistics, subprocess, sys

rows_file, quick, addon, data_commit, epochs, size = sys.argv[1:7]
rows = [json.loads(line) for line in open(rows_file) if line.startswith("{")]
SIDES = {
    "project-defaults": "project, defaults (no options)",
    "pytorch": "torchvision + torch.optim, the same recipe",
    "project-notebook": "project, recipe 'notebook' (the notebook's settings)",
}


def spread(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}


finals = {side: [r for r in rows if r["kind"] == "final" and r["side"] == side] for side in SIDES}
seeds = sorted({r["seed"] for r in rows if r["kind"] == "final"})
for side, found in finals.items():
    if sorted(r["seed"] for r in found) != seeds:  # a side that failed a seed is a failure, not a gap
        sys.exit(f"{side}: results for seeds {[r['seed'] for r in found]}, expected {seeds}")
summary = {side: spread([r["valAccuracy"] for r in found]) for side, found in finals.items()}
summary["project-defaults-tta"] = spread([r["ttaAccuracy"] for r in finals["project-defaults"]])
summary["project-notebook-tta"] = spread([r["ttaAccuracy"] for r in finals["project-notebook"]])
gap = summary["project-defaults"]["mean"] - summary["pytorch"]["mean"]
curves = {}
for side in SIDES:
    by_epoch = {}
    for r in rows:
        if r["kind"] == "epoch" and r["side"] == side:
            by_epoch.setdefault(r["epoch"], []).append(r)
    curves[side] = [{"epoch": e, "loss": statistics.mean(x["loss"] for x in rs),
                     "valAccuracy": statistics.mean(x["valAccuracy"] for x in rs)} for e, rs in sorted(by_epoch.items())]

cpu = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
# The folder bench/photos.sh prepared (the report runs from the repository root).
data = {split: sum(len(files) for _, _, files in os.walk(os.path.join("bench/data/trashnet", split))) for split in ("train", "val")}
out = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "quick": quick == "true",
    "machine": {"cores": os.cpu_count(), "cpu": cpu.group(1) if cpu else "unknown"},
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "addonSha256": addon,
    "data": {"name": "TrashNet (dataset-resized, 512x384 phone photos, 6 classes)",
             "source": "github.com/congduytran12/Trash-Classification-", "commit": data_commit,
             "split": "per class, file number divisible by 4 validates", "train": data["train"], "val": data["val"]},
    "recipe": {"arch": "resnet18", "imageSize": int(size), "epochs": int(epochs), "batchSize": 64, "device": "cpu",
               "optimizer": "adamw lr 0.003, weight decay 0.05 not on BN/bias", "schedule": "onecycle",
               "labelSmoothing": 0.1, "train": "random-resized-crop area 0.35-1, ratio 3/4-4/3, flip",
               "eval": "resize round(size/0.875) + centre crop", "normalise": "ImageNet mean/std"},
    "seeds": seeds,
    "summary": summary,
    "projectMinusPytorch": gap,
    "goal": "project defaults' mean within 1 point of torchvision's or above",
    "met": gap >= -0.01,
    "curves": curves,
    "finals": finals,
}
json.dump(out, open("bench/results/photos.json", "w"), indent=2)

pct = lambda s: f"{100 * s['mean']:.1f}% ± {100 * s['std']:.1f}"
runs = lambda s: ", ".join(f"{100 * v:.1f}" for v in s["runs"])
r = out["recipe"]
md = [f"# Real-photo benchmark ({out['date']}{', --quick' if out['quick'] else ''})", "",
      f"{out['data']['name']}, from {out['data']['source']} at {data_commit[:12]}: {data['train']} training / "
      f"{data['val']} validation images ({out['data']['split']}). {out['machine']['cores']} cores, {out['machine']['cpu']}.",
      f"{r['arch']} at {r['imageSize']} px, {r['epochs']} epochs, batch 64, from scratch, seeds {', '.join(map(str, seeds))}. "
      f"Recipe on both sides of the comparison: {r['optimizer']}, {r['schedule']}, label smoothing 0.1; "
      f"{r['train']}; eval {r['eval']}; {r['normalise']}.", "",
      "| side | validation accuracy (mean ± std) | runs | with TTA (flip) |", "|---|---|---|---|"]
for side, label in SIDES.items():
    tta = summary.get(f"{side}-tta")
    md.append(f"| {label} | **{pct(summary[side])}** | {runs(summary[side])} | {pct(tta) if tta else '-'} |")
md += ["", f"Project defaults minus torchvision: {100 * gap:+.1f} points. Goal: within 1 point or above: "
       f"{'met' if out['met'] else 'NOT met'}.", "",
       "Mean per epoch (training loss is plain cross-entropy on both sides; validation accuracy):", "",
       "| epoch | " + " | ".join(f"{s} loss | {s} val acc" for s in SIDES) + " |",
       "|---" * (1 + 2 * len(SIDES)) + "|"]
for index in range(len(curves["pytorch"])):
    cells = []
    for side in SIDES:
        c = curves[side][index] if index < len(curves[side]) else None
        cells += [f"{c['loss']:.3f}", f"{c['valAccuracy']:.3f}"] if c else ["-", "-"]
    md.append(f"| {index + 1} | " + " | ".join(cells) + " |")
open("bench/results/photos.md", "w").write("\n".join(md) + "\n")
print(json.dumps({"summary": {k: round(v["mean"], 4) for k, v in summary.items()}, "gap": round(gap, 4), "met": out["met"]}))

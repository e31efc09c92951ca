"""Writes bench/results/transfer.json and .md from the JSON lines bench/transfer.mjs printed.

usage: transfer_report.py ROWS
"""
import datetime, json, statistics, subprocess, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
pretrain = next(r for r in rows if r.get("kind") == "pretrain")
runs = {start: [r for r in rows if r.get("kind") == "run" and r["start"] == start] for start in ("pretrained", "scratch")}
if not runs["pretrained"] or len(runs["pretrained"]) != len(runs["scratch"]):
    sys.exit(f"expected as many pretrained as scratch runs, found {len(runs['pretrained'])} and {len(runs['scratch'])}")


def spread(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": values}


summary = {start: spread([r["valAccuracy"] for r in found]) for start, found in runs.items()}
curves = {start: [statistics.mean(epoch) for epoch in zip(*(r["curve"] for r in found))] for start, found in runs.items()}
out = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "pretrain": pretrain, "summary": summary, "meanCurves": curves, "runs": runs,
       "setup": "resnet18, 32 px (stretch, random crops of 70-100% + flip), batch 64, default recipe (AdamW 0.003, "
                "one-cycle, label smoothing 0.1); fine-tuning adds the default freezeEpochs 1 and bodyLrFactor 0.1"}
json.dump(out, open("bench/results/transfer.json", "w"), indent=2)
pct = lambda s: f"{100 * s['mean']:.1f}% ± {100 * s['std']:.1f}"
epochs = len(curves["scratch"])
md = [f"# Transfer benchmark ({out['date']})", "",
      f"Pretrained on Fashion-MNIST classes 0-4 ({', '.join(pretrain['classes'])}), 1,000 training images each, "
      f"{pretrain['epochs']} epochs: {100 * pretrain['valAccuracy']:.1f}% on their 5,000 test images.",
      f"Then classes 5-9 ({', '.join(runs['scratch'][0]['classes'])}) with 100 training images each, {epochs} epochs, "
      f"tested on all 5,000 of their test images, seeds {', '.join(str(r['seed']) for r in runs['scratch'])}. {out['setup']}.", "",
      "| start | accuracy after the last epoch (mean ± std) | runs |", "|---|---|---|"]
labels = {"pretrained": "from the classes 0-4 model (`pretrained: dir`)", "scratch": "from scratch"}
for start, label in labels.items():
    md.append(f"| {label} | **{pct(summary[start])}** | {', '.join(f'{100 * v:.1f}' for v in summary[start]['runs'])} |")
md += ["", f"Pretrained minus scratch after {epochs} epochs: "
       f"{100 * (summary['pretrained']['mean'] - summary['scratch']['mean']):+.1f} points.", "",
       "Mean test accuracy after each epoch. Each run's one-cycle schedule spans all its epochs (the pretrained run's: "
       "one frozen epoch, then the rest), so the middle columns show how steady training is, not what a shorter run "
       "would reach:", "",
       "| epoch | " + " | ".join(str(e + 1) for e in range(epochs)) + " |", "|---" * (epochs + 1) + "|"]
for start in labels:
    md.append(f"| {start} | " + " | ".join(f"{100 * v:.1f}" for v in curves[start]) + " |")
open("bench/results/transfer.md", "w").write("\n".join(md) + "\n")
print(json.dumps({k: round(v["mean"], 4) for k, v in summary.items()}))

"""PyTorch side of the prediction benchmark, done as a PyTorch user deploys the notebook's
model: the notebook's preprocessing (OpenCV imread, ToTensor, Normalize, resize) and
torchvision's ResNet in eval mode under inference_mode. Batch-1 latency over single files (one
image per call, median), and batch throughput through a DataLoader with one worker per core.
Prints JSON lines.

usage: pytorch_predict.py --arch resnet34 --image-size 256 --classes 80 --latency-files F... 
       --batch-files-list LIST --batch-size 64
"""
import argparse, json, os, statistics, time

import torch, torchvision
from torch.utils.data import DataLoader

from pytorch_loader import SeedDataset


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet34")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--latency-files", required=True, help="a text file listing one JPEG per line")
    ap.add_argument("--batch-files", required=True, help="a text file listing JPEGs for the batch run")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast with channels_last, as PyTorch documents it")
    a = ap.parse_args()
    torch.set_num_threads(a.workers)
    device = torch.device(a.device)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes).eval().to(device)
    layout = torch.channels_last if a.bf16 else torch.contiguous_format
    model = model.to(memory_format=layout)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16)
    single = open(a.latency_files).read().split("\n")
    single = [p for p in single if p]
    one = SeedDataset(single, [0] * len(single), a.image_size)

    def predict_one(i):
        x, _ = one[i]
        with torch.inference_mode(), autocast():
            logits = model(x[None].to(device).contiguous(memory_format=layout)).float()
            return torch.softmax(logits, 1).topk(min(5, a.classes))[0].cpu()

    for i in range(3):  # warm-up
        predict_one(i % len(single))
    times = []
    for i in range(len(single)):
        t0 = time.perf_counter()
        predict_one(i)
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"kind": "pytorch_latency", "calls": len(times), "medianMs": statistics.median(times), "bf16": a.bf16}), flush=True)

    files = [p for p in open(a.batch_files).read().split("\n") if p]
    dl = DataLoader(SeedDataset(files, [0] * len(files), a.image_size), batch_size=a.batch_size,
                    num_workers=a.workers, persistent_workers=True)
    for _ in dl:  # starts the workers and warms the model path, as a long-running server would be
        break
    t0, n = time.perf_counter(), 0
    with torch.inference_mode(), autocast():
        for x, _ in dl:
            logits = model(x.to(device).contiguous(memory_format=layout)).float()
            torch.softmax(logits, 1).topk(min(5, a.classes))[0].cpu()
            n += x.shape[0]
    s = time.perf_counter() - t0
    print(json.dumps({"kind": "pytorch_batch", "images": n, "seconds": s, "imagesPerSecond": n / s, "bf16": a.bf16}), flush=True)


if __name__ == "__main__":
    main()

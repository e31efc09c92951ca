"""PyTorch side of the end-to-end epoch benchmark: the seed notebook's pipeline (its dataset
class through a DataLoader with one worker per core) feeding torchvision's ResNet trained with
Adam, one loop per epoch. Prints one JSON line per epoch with images per second.

usage: pytorch_epoch.py --data ROOT --arch resnet18 --image-size 128 --batch-size 64 --epochs 1
       [--device cuda]   (on CUDA as the notebook's anchor: non_blocking copies, cuDNN autotuning)
"""
import argparse, json, os, time

import torch, torchvision
from torch.utils.data import DataLoader

from pytorch_loader import SeedDataset, folder_samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast with channels_last, as PyTorch documents it")
    a = ap.parse_args()
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(a.workers)  # the same intra-op threads as the project's libtorch

    paths, labels = folder_samples(a.data)
    dl = DataLoader(SeedDataset(paths, labels, a.image_size), batch_size=a.batch_size, shuffle=True,
                    num_workers=a.workers, persistent_workers=True)
    model = getattr(torchvision.models, a.arch)(num_classes=len(set(labels))).to(device)
    if a.bf16:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()
    for epoch in range(1, a.epochs + 1):
        t0, n = time.perf_counter(), 0
        for x, y in dl:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if a.bf16:
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16):
                loss = lossf(model(x), y)
            loss.backward()
            opt.step()
            n += x.shape[0]
        if device.type == "cuda":
            torch.cuda.synchronize()
        s = time.perf_counter() - t0
        print(json.dumps({"kind": "pytorch_epoch", "epoch": epoch, "images": n, "seconds": round(s, 3),
                          "imagesPerSecond": round(n / s, 1), "bf16": a.bf16}), flush=True)


if __name__ == "__main__":
    main()

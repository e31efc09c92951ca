"""PyTorch side of the GPU benchmark's time-to-model rows (bench/gpu.mjs): one whole training
job written as a careful PyTorch user would, with the project's default recipe (as
bench/photos_pytorch.py): torchvision's ResNet with its own initialisation;
RandomResizedCrop(size, scale=(0.35, 1), ratio=(3/4, 4/3)) + horizontal flip for training;
Resize(round(size / 0.875)) + CenterCrop(size) for validation; ImageNet mean/std; AdamW (lr 3e-3,
weight decay 0.05, none on batch-norm weights and biases) with OneCycleLR stepped per batch;
cross-entropy with label smoothing 0.1. On the device: a DataLoader with one worker per core
(pin_memory on CUDA, persistent workers), channels_last, fused AdamW on CUDA, bf16 autocast (on
the CPU only with --bf16), cudnn.benchmark; validation after every epoch; nothing saved. Losses
and hits are summed on the device and read once per epoch.

Prints one JSON line:
  {kind: "pytorch_time_to_model", seconds, secondsSinceProcessStart, firstBatchSeconds, firstBatchSinceProcessStart,
   importSeconds, epochs: [per-epoch seconds], finalValAccuracy}
seconds: from this script's first line (before `import torch`) to the trained model in memory
after the last validation; secondsSinceProcessStart: the same moment counted from the process's
start (Python's own start-up included); firstBatchSeconds: the same origin to the end of the first training
step (synchronised); firstBatchSinceProcessStart: the same moment counted from the process's
start (/proc/self/stat, 10 ms resolution); importSeconds: importing torch and torchvision.

usage: pytorch_time_to_model.py --train DIR --val DIR --epochs 30 --image-size 224 --batch-size 64
       --arch resnet34 --device cuda --seed 1 [--workers N] [--bf16]
"""
import time

STARTED = time.perf_counter()  # the first statement: before `import torch`

import os, sys  # noqa: E402


def seconds_since_process_start():
    """How long this process has lived, from the kernel's start time of it (clock ticks)."""
    with open("/proc/self/stat") as stat:
        start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")


# How old the process was at STARTED.
PROCESS_AGE_AT_START = seconds_since_process_start() - (time.perf_counter() - STARTED)

import argparse, json, random  # noqa: E402

import torch, torch.nn as nn, torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision.datasets import ImageFolder  # noqa: E402

from pytorch_recipe import adamw_groups  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - STARTED
LR, WEIGHT_DECAY, LABEL_SMOOTHING = 0.003, 0.05, 0.1
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--arch", default="resnet34")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU too (always on CUDA)")
    a = ap.parse_args()
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    bf16 = cuda or a.bf16
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    size = a.image_size

    train_tf = T.Compose([T.RandomResizedCrop(size, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
                          T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    eval_tf = T.Compose([T.Resize(round(size / 0.875), antialias=True), T.CenterCrop(size), T.ToTensor(),
                         T.Normalize(MEAN, STD)])
    train = ImageFolder(a.train, train_tf)
    val = ImageFolder(a.val, eval_tf)
    assert train.classes == val.classes, (train.classes, val.classes)
    loader = dict(num_workers=a.workers, pin_memory=cuda, persistent_workers=a.workers > 0)
    train_dl = DataLoader(train, a.batch_size, shuffle=True, drop_last=False, **loader)
    val_dl = DataLoader(val, a.batch_size, **loader)

    net = getattr(torchvision.models, a.arch)(num_classes=len(train.classes)).to(device, memory_format=torch.channels_last)
    train_loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    opt = torch.optim.AdamW(adamw_groups(net, WEIGHT_DECAY), lr=LR, betas=(0.9, 0.999), fused=cuda)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=a.epochs * len(train_dl), pct_start=0.3,
                                                   anneal_strategy="cos", div_factor=25, final_div_factor=1e4,
                                                   cycle_momentum=False)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    to_device = lambda x, y: (x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last),
                              y.to(device, non_blocking=True))
    epoch_seconds, first_batch = [], None
    for epoch in range(1, a.epochs + 1):
        started = time.perf_counter()
        net.train()
        train_loss = torch.zeros((), device=device)
        for x, y in train_dl:
            x, y = to_device(x, y)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = train_loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            train_loss += loss.detach() * len(y)
            if first_batch is None:
                sync()
                first_batch = time.perf_counter() - STARTED
        net.eval()
        correct = torch.zeros((), device=device, dtype=torch.long)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            for x, y in val_dl:
                x, y = to_device(x, y)
                correct += (net(x).argmax(1) == y).sum()
        val_accuracy = correct.item() / len(val)  # .item() waits for the device
        epoch_seconds.append(round(time.perf_counter() - started, 3))
        print(f"[pytorch time-to-model] epoch {epoch}/{a.epochs}: {epoch_seconds[-1]} s, training loss "
              f"{train_loss.item() / len(train):.4f}, val accuracy {val_accuracy:.4f}", file=sys.stderr, flush=True)
    sync()
    seconds = time.perf_counter() - STARTED
    print(json.dumps({"kind": "pytorch_time_to_model", "seconds": round(seconds, 3),
                      "secondsSinceProcessStart": round(PROCESS_AGE_AT_START + seconds, 3),
                      "firstBatchSeconds": round(first_batch, 3),
                      "firstBatchSinceProcessStart": round(PROCESS_AGE_AT_START + first_batch, 3),
                      "importSeconds": round(IMPORT_SECONDS, 3), "epochs": epoch_seconds,
                      "finalValAccuracy": val_accuracy, "workers": a.workers, "bf16": bf16,
                      "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()

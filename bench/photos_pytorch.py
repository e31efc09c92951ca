"""PyTorch side of the real-photo benchmark (bench/photos.sh): the project's standard recipe in
torchvision on the same folders, printing the same JSON shape as bench/photos.mjs.

Recipe (the project's defaults, recipe 'standard'): torchvision's resnet18 with its own
initialisation; RandomResizedCrop(size, scale=(0.35, 1), ratio=(3/4, 4/3)) + horizontal flip
for training; Resize(round(size / 0.875)) + CenterCrop(size) for evaluation; ImageNet
mean/std; AdamW (lr 0.003, weight decay 0.05 not on batch-norm weights and biases) with
OneCycleLR stepped per batch (pct 0.3, cosine, div 25, final div 1e4, momentum not cycled, as
the project's); cross-entropy with label smoothing 0.1; batch 64.

usage: photos_pytorch.py --data ROOT --epochs E --image-size S --seed N
ROOT holds train/<class>/ and val/<class>/. The validation folder is evaluated after every
epoch; the final line (kind "pytorch") reports the last epoch's accuracy.
"""
import argparse, json, os, random, time

import numpy as np
import torch, torch.nn as nn, torchvision
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from pytorch_recipe import adamw_groups, evaluate, train_epoch

BATCH, WORKERS, LR, WEIGHT_DECAY, LABEL_SMOOTHING = 64, 2, 0.003, 0.05, 0.1
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--image-size", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    size = a.image_size
    torch.set_num_threads(os.cpu_count())  # the project's libtorch uses one thread per core too
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)

    # Bilinear resizes with antialias: the project's filter.
    train_tf = T.Compose([T.RandomResizedCrop(size, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
                          T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    eval_tf = T.Compose([T.Resize(round(size / 0.875), antialias=True), T.CenterCrop(size), T.ToTensor(),
                         T.Normalize(MEAN, STD)])
    train = ImageFolder(os.path.join(a.data, "train"), train_tf)
    val = ImageFolder(os.path.join(a.data, "val"), eval_tf)
    assert train.classes == val.classes
    train_dl = DataLoader(train, BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=True)
    val_dl = DataLoader(val, BATCH, num_workers=WORKERS, persistent_workers=True)
    net = torchvision.models.resnet18(num_classes=len(train.classes))
    # Training loss smooths labels; the reported losses are plain cross-entropy, as the project's.
    train_loss_fn, loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING), nn.CrossEntropyLoss()
    groups = adamw_groups(net, WEIGHT_DECAY)
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999))
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=a.epochs * len(train_dl), pct_start=0.3,
                                                   anneal_strategy="cos", div_factor=25, final_div_factor=1e4,
                                                   cycle_momentum=False)
    started = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        # The reported training loss is plain cross-entropy, as the project's.
        train_loss, train_acc = train_epoch(net, train_dl, opt, schedule, train_loss_fn, loss_fn)
        val_loss, val_acc, count = evaluate(net, val_dl, loss_fn)
        print(json.dumps({"kind": "epoch", "side": "pytorch", "seed": a.seed, "epoch": epoch, "loss": train_loss,
                          "accuracy": train_acc, "valLoss": val_loss, "valAccuracy": val_acc,
                          "seconds": time.perf_counter() - t0}), flush=True)
    print(json.dumps({"kind": "final", "side": "pytorch", "seed": a.seed, "valAccuracy": val_acc, "valLoss": val_loss,
                      "valCount": count, "trainSeconds": round(time.perf_counter() - started, 1),
                      "torch": torch.__version__, "torchvision": torchvision.__version__}), flush=True)


if __name__ == "__main__":
    main()

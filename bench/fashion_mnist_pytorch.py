"""PyTorch side of the Fashion-MNIST accuracy benchmark: the project's recipe (see
bench/fashion-mnist.mjs) in torchvision on the same PNG folders, printing the same JSON shape
(kind "pytorch"): random-resized-crop (area 0.7-1) + flip, stretch to 32 for evaluation,
ImageNet statistics, AdamW (no decay on batch-norm weights and biases) with OneCycleLR stepped
per batch, cross-entropy with label smoothing 0.1.

usage: fashion_mnist_pytorch.py --data ROOT --epochs E --lr LR
ROOT holds train/<class>/ and test/<class>/ (bench/fashion_mnist_folders.py). As on the project's
side, the test folder is evaluated after every epoch, and the final line repeats the last one.
"""
import argparse, json, os, time

import torch, torch.nn as nn, torchvision
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from pytorch_recipe import adamw_groups, evaluate, train_epoch

SIZE, BATCH, SEED, WORKERS = 32, 128, 1, 2
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet statistics, as the recipe
# ImageFolder's default loader converts to RGB, so greyscale PNGs become 3 equal channels, as in
# the project's decoder. Resizes are bilinear with antialias, the project's filter.
TRAIN = T.Compose([T.RandomResizedCrop(SIZE, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
                   T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
EVAL = T.Compose([T.Resize((SIZE, SIZE), antialias=True), T.ToTensor(), T.Normalize(MEAN, STD)])
WEIGHT_DECAY, LABEL_SMOOTHING = 0.05, 0.1


def model():
    """torchvision's resnet18 with its own initialisation, which the project's now equals
    (Kaiming-normal fan_out convs, BN 1/0, nn.Linear's default for fc; before the real-photo
    fix the project's fc started as N(0, 0.01) and this side copied that)."""
    return torchvision.models.resnet18(num_classes=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())  # the project's libtorch uses one thread per core too
    torch.manual_seed(SEED)

    train = ImageFolder(os.path.join(a.data, "train"), TRAIN)
    test = ImageFolder(os.path.join(a.data, "test"), EVAL)
    assert train.classes == test.classes
    # persistent_workers: the workers start once, as the project's decoding threads do.
    train_dl = DataLoader(train, BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=True)
    test_dl = DataLoader(test, BATCH, num_workers=WORKERS, persistent_workers=True)
    # Training loss smooths labels; the reported validation loss is plain cross-entropy, as the project's.
    net, train_loss_fn, loss_fn = model(), nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING), nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(adamw_groups(net, WEIGHT_DECAY),
                            lr=a.lr, betas=(0.9, 0.999))
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * len(train_dl), pct_start=0.3,
                                                   anneal_strategy="cos", div_factor=25, final_div_factor=1e4,
                                                   cycle_momentum=False)
    print(json.dumps({"kind": "pytorch-start", "trainImages": len(train), "validationImages": len(test),
                      "classes": len(train.classes), "threads": torch.get_num_threads()}), flush=True)

    started = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(net, train_dl, opt, schedule, train_loss_fn, train_loss_fn)
        val_loss, val_acc, _ = evaluate(net, test_dl, loss_fn)
        print(json.dumps({"kind": "pytorch-epoch", "accuracy": train_acc, "epoch": epoch, "epochs": a.epochs,
                          "learningRate": a.lr, "loss": train_loss, "seconds": time.perf_counter() - t0,
                          "valAccuracy": val_acc, "valLoss": val_loss}), flush=True)
    train_seconds = time.perf_counter() - started

    t0 = time.perf_counter()
    test_loss, test_acc, count = evaluate(net, test_dl, loss_fn)
    print(json.dumps({"kind": "pytorch", "testAccuracy": test_acc, "testLoss": test_loss, "testCount": count,
                      "trainSeconds": round(train_seconds, 1), "evalSeconds": round(time.perf_counter() - t0, 1),
                      "arch": "resnet18", "imageSize": SIZE, "batchSize": BATCH, "learningRate": a.lr,
                      "optimizer": "adamw", "schedule": "onecycle", "weightDecay": WEIGHT_DECAY,
                      "labelSmoothing": LABEL_SMOOTHING, "device": "cpu", "seed": SEED, "recipe": "standard",
                      "workers": WORKERS, "epochs": a.epochs, "torch": torch.__version__,
                      "torchvision": torchvision.__version__}), flush=True)


if __name__ == "__main__":
    main()

"""PyTorch side of the data-pipeline benchmark: the seed notebook's dataset class fed through a
DataLoader, timed per epoch. Prints one JSON line per epoch.

usage: pytorch_loader.py --data ROOT --epochs E --workers W --batch-size 64 --image-size 256
ROOT is a folder of class folders of JPEGs (bench/make_photos.py); labels follow sorted names.
"""
import argparse, glob, json, os, time

import cv2, numpy as np, torch
import torchvision.transforms as transforms, torchvision.transforms.functional as TF
from torch.utils.data import DataLoader, Dataset

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])


class SeedDataset(Dataset):
    """The notebook's CustomDataset in behaviour (as shared/anchors/anchor_e2e.py): OpenCV
    imread, vertical flip, ToTensor + Normalize, flip back on both axes, resize to a square."""

    def __init__(self, paths, labels, size):
        self.p, self.l, self.size = paths, labels, size

    def __len__(self):
        return len(self.p)

    def __getitem__(self, i):
        im = np.array(cv2.flip(cv2.imread(self.p[i]), 0))
        im = transform(im)
        im = TF.resize(torch.flip(im, [0, 1]), (self.size, self.size))
        return im, torch.tensor(self.l[i])


def folder_samples(root):
    """The JPEGs of a folder of class folders and their labels (classes in sorted order)."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    paths, labels = [], []
    for k, c in enumerate(classes):
        found = sorted(glob.glob(os.path.join(root, c, "*.jpg")))
        paths += found
        labels += [k] * len(found)
    if not paths:
        raise SystemExit(f"no jpgs under {root}/*/")
    return paths, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=256)
    a = ap.parse_args()

    # Threads are set equal on both sides: the project's loader runs with W threads, so the
    # main process gets W intra-op threads too. The workers keep PyTorch's own default, which
    # is one thread each (DataLoader's worker loop calls torch.set_num_threads(1)), as in the
    # notebook; we do not change it.
    torch.set_num_threads(a.workers)

    paths, labels = folder_samples(a.data)

    dl = DataLoader(SeedDataset(paths, labels, a.image_size), batch_size=a.batch_size, shuffle=True,
                    num_workers=a.workers, persistent_workers=a.workers > 0)
    for epoch in range(1, a.epochs + 1):
        # Epoch 1 includes starting the workers, as a first epoch does for the notebook.
        t0, n = time.perf_counter(), 0
        for x, _ in dl:
            n += x.shape[0]
        s = time.perf_counter() - t0
        print(json.dumps({"kind": "pytorch_loader", "epoch": epoch, "images": n, "seconds": round(s, 3),
                          "imagesPerSecond": round(n / s, 1), "workers": a.workers}), flush=True)


if __name__ == "__main__":
    main()

"""fashion_mnist_folders.py OUT [--train-per-class N]: Fashion-MNIST as PNG class folders.

Both sides of the accuracy benchmark read images from folders (the project has no IDX reader),
so the IDX files of Debian's dataset-fashion-mnist (gzipped or not) become greyscale PNGs in
OUT/train/<class>/ and OUT/test/<class>/. The training subset is the first N images of each
class in file order (0 = all 60,000); the test set is always all 10,000. Work is skipped when
OUT's marker names the same N. Prints one JSON line. FASHION_MNIST_DIR names another folder of
the IDX files (as .gz or .xz; the GPU bundle carries them there).
"""
import argparse, gzip, json, lzma, os, shutil, struct, time
from multiprocessing import Pool

import numpy as np
from PIL import Image

SRC = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
# Fashion-MNIST's labels 0-9, as folder names without spaces or slashes.
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read_idx(stem):
    """An IDX file as a numpy array; STEM, STEM.gz or STEM.xz, whichever exists."""
    path = os.path.join(SRC, stem)
    if os.path.exists(path):
        raw = open(path, "rb").read()
    elif os.path.exists(path + ".xz"):
        raw = lzma.open(path + ".xz", "rb").read()
    else:
        raw = gzip.open(path + ".gz", "rb").read()
    _, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert dtype == 0x08, f"{stem}: expected unsigned bytes, found IDX type {dtype:#x}"
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def pick(labels, per_class):
    """Indices of the first per_class images of each class, in file order (0 = all)."""
    if per_class == 0:
        return np.arange(len(labels))
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASSES))])
    return np.sort(keep)


def save(job):
    path, image = job
    Image.fromarray(image, "L").save(path)


def write_split(pool, root, split, images, labels, indices):
    for name in CLASSES:
        os.makedirs(os.path.join(root, split, name), exist_ok=True)
    # The file-order index in the name keeps files traceable to the IDX record.
    jobs = ((os.path.join(root, split, CLASSES[labels[i]], f"{i:05d}.png"), images[i]) for i in indices)
    pool.map(save, jobs, chunksize=256)
    return len(indices)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train-per-class", type=int, default=1000)
    a = ap.parse_args()
    t0 = time.time()
    marker = os.path.join(a.out, ".complete")
    want = {"trainPerClass": a.train_per_class}
    if os.path.exists(marker) and json.load(open(marker))["want"] == want:
        counts, cached = json.load(open(marker))["counts"], True
    else:
        # Written beside OUT and renamed at the end, so an interrupted run never looks complete.
        partial = a.out + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        train_x, train_y = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")
        test_x, test_y = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")
        with Pool(os.cpu_count()) as pool:
            counts = {"train": write_split(pool, partial, "train", train_x, train_y, pick(train_y, a.train_per_class)),
                      "test": write_split(pool, partial, "test", test_x, test_y, np.arange(len(test_y)))}
        json.dump({"want": want, "counts": counts}, open(os.path.join(partial, ".complete"), "w"))
        shutil.rmtree(a.out, ignore_errors=True)
        os.rename(partial, a.out)
        cached = False
    print(json.dumps({"kind": "folders", "out": a.out, **counts, "cached": cached,
                      "seconds": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()

"""make_photos.py ROOT N CLASSES: writes N photo-like JPEGs into ROOT/c00..cNN/.

Same generator as the seed notebook's anchor (shared/anchors/anchor_e2e.py): per-image seeded
random size 300-1024 px a side, a coarse random colour grid upscaled bilinearly (smooth like
a photo, so JPEG decode cost is realistic), quality 90. Skips all work when ROOT already holds
exactly N jpgs, so the runner can call it every time. Prints one JSON line.
"""
import functools, glob, json, multiprocessing as mp, os, sys, time

import numpy as np
from PIL import Image


def make(root, classes, i):
    rng = np.random.default_rng(i)  # seeded per image: same files whatever the pool order
    w, h = int(rng.integers(300, 1025)), int(rng.integers(300, 1025))
    base = rng.integers(0, 255, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    d = os.path.join(root, f"c{i % classes:02d}")
    os.makedirs(d, exist_ok=True)
    Image.fromarray(base).resize((w, h), Image.BILINEAR).save(os.path.join(d, f"{i}.jpg"), quality=90)


def jpgs(root):
    return glob.glob(os.path.join(root, "*", "*.jpg"))


if __name__ == "__main__":
    root, n, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = time.time()
    if len(jpgs(root)) != n:
        with mp.Pool(os.cpu_count()) as pool:
            pool.map(functools.partial(make, root, classes), range(n), chunksize=16)
    paths = jpgs(root)
    if len(paths) != n:  # e.g. a leftover folder with other files: refuse to benchmark on it
        sys.exit(f"{root} holds {len(paths)} jpgs, expected {n}; remove it and rerun")
    mean_kb = sum(map(os.path.getsize, paths)) / n / 1024
    print(json.dumps({"kind": "gen", "n": n, "seconds": round(time.time() - t0, 1), "meanKb": round(mean_kb, 1)}), flush=True)

"""Real photos for the GPU benchmark's time-to-model rows (bench/gpu.mjs): about 1,000 TrashNet
photos (6 classes), shrunk to shorter side 224, as OUT/train/<class>/ and OUT/val/<class>/.
scripts/gpu-pack.sh puts the folder into the GPU bundle (the GPU machine has no network).

The photos: TrashNet (Gary Thung and Mindy Yang, 2017, MIT licence), the same copy as
bench/photos.sh: github.com/congduytran12/Trash-Classification- at commit 00212f2c18dc...,
path dataset-resized/ (512x384 JPEGs). Split per class by file number as bench/photos.sh does
(number divisible by 4 validates, the rest trains), then per class the lowest-numbered
TRAIN_PER_CLASS training and VAL_PER_CLASS validation photos: 853 train / 204 val (the class
'trash' has only 137 photos, so 103 / 34 of it). Each is resized with Pillow (bicubic,
shorter side 224, aspect kept) and saved as JPEG quality 85: about 11 MB in all.

usage: make_gpu_photos.py OUT_DIR
  PHOTOS_GIT: where to clone the repository from (default its GitHub URL; a local clone or a
  bare mirror works offline). Prints one JSON line {kind: "gpu_photos", train, val, bytes}.
  A finished folder holds OUT_DIR/.complete and is not rebuilt.
"""
import json, os, re, shutil, subprocess, sys, tarfile, tempfile

from PIL import Image

COMMIT = "00212f2c18dcdb9045c74481eaae5baaf72537df"
DEFAULT_GIT = "https://github.com/congduytran12/Trash-Classification-.git"
TRAIN_PER_CLASS, VAL_PER_CLASS, SHORTER_SIDE, QUALITY = 150, 34, 224, 85


def folder_bytes(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)


def counts(root):
    return {split: sum(len(files) for _, _, files in os.walk(os.path.join(root, split))) for split in ("train", "val")}


def shrink(source, target):
    with Image.open(source) as image:
        image = image.convert("RGB")
        scale = SHORTER_SIDE / min(image.size)
        size = (max(SHORTER_SIDE, round(image.width * scale)), max(SHORTER_SIDE, round(image.height * scale)))
        image.resize(size, Image.BICUBIC).save(target, "JPEG", quality=QUALITY)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_gpu_photos.py OUT_DIR")
    out = os.path.abspath(sys.argv[1])
    if not os.path.exists(os.path.join(out, ".complete")):
        source = os.environ.get("PHOTOS_GIT", DEFAULT_GIT)
        print(f"Preparing {out} from {source} at {COMMIT}...", file=sys.stderr)
        with tempfile.TemporaryDirectory() as work:
            clone = os.path.join(work, "repo")
            subprocess.run(["git", "clone", "--quiet", "--no-checkout", source, clone], check=True)
            archive = os.path.join(work, "photos.tar")
            with open(archive, "wb") as file:
                subprocess.run(["git", "-C", clone, "archive", COMMIT, "dataset-resized"], stdout=file, check=True)
            with tarfile.open(archive) as tar:
                tar.extractall(work, filter="data")
            photos = os.path.join(work, "dataset-resized")
            partial = out + ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            for label in sorted(os.listdir(photos)):
                files = [f for f in os.listdir(os.path.join(photos, label)) if f.endswith(".jpg")]
                numbered = sorted(files, key=lambda f: int(re.sub(r"\D", "", f)))
                picked = {
                    "val": [f for f in numbered if int(re.sub(r"\D", "", f)) % 4 == 0][:VAL_PER_CLASS],
                    "train": [f for f in numbered if int(re.sub(r"\D", "", f)) % 4 != 0][:TRAIN_PER_CLASS],
                }
                for split, names in picked.items():
                    os.makedirs(os.path.join(partial, split, label))
                    for name in names:
                        shrink(os.path.join(photos, label, name), os.path.join(partial, split, label, name))
            shutil.rmtree(out, ignore_errors=True)
            os.rename(partial, out)
            open(os.path.join(out, ".complete"), "w").close()
    print(json.dumps({"kind": "gpu_photos", **counts(out), "bytes": folder_bytes(out)}), flush=True)


if __name__ == "__main__":
    main()

"""Downloads the wheels pip resolved for an install (`pip install --dry-run --report FILE`) into
a folder, with one progress line for them all (bytes, rate, time left), resuming a file an
interrupted run left half-done (HTTP Range), checking each file's sha256, and refusing to
start when the disk cannot hold the downloads and the install. scripts/setup-libtorch.sh then
installs from that folder without the network. The standard library only: it runs before
anything else is installed.

usage: python3 fetch_wheels.py REPORT.json WHEEL_DIR [--install-factor 2.5]
  --install-factor: installed bytes per downloaded byte, for the free-space check (the CUDA
  build of torch unpacks to about 2.2 times its wheels).
"""
import argparse, hashlib, json, os, shutil, sys, time, urllib.error, urllib.request

CHUNK = 1 << 20
RETRIES = 5
GB = 1e9


def human(n):
    return f"{n / GB:.2f} GB" if n >= 0.1 * GB else f"{n / 1e6:.1f} MB"


def duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Progress:
    """One line for every file: on a terminal redrawn in place, else printed every 10 s."""

    def __init__(self, total, done):
        self.total, self.done, self.started_done = total, done, done
        self.started = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def add(self, n, name, final=False):
        self.done += n
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 10):
            return
        self.last = now
        rate = (self.done - self.started_done) / max(now - self.started, 1e-6)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        line = (f"  {human(self.done)} of {human(self.total)}  {rate / 1e6:.1f} MB/s  "
                f"{duration(left) if left != float('inf') else '?'} left  {name}")
        print(f"\r{line:<110}" if self.tty else line, end="" if self.tty and not final else "\n", file=sys.stderr, flush=True)


def head_size(url):
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.headers["Content-Length"])


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest


def download(url, path, size, sha256, progress):
    """Fetches `url` into `path` through `path`.partial, continuing what a partial file holds."""
    partial = path + ".partial"
    name = os.path.basename(path)
    for attempt in range(RETRIES):
        have = os.path.getsize(partial) if os.path.exists(partial) else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if have and response.status != 206:
                    progress.add(-have, name)  # the server ignored the range: start over
                    have = 0
                with open(partial, "ab" if have else "wb") as out:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        progress.add(len(block), name)
        except (urllib.error.URLError, OSError) as error:
            print(f"\n  {name}: {error}; retrying ({attempt + 1} of {RETRIES})", file=sys.stderr, flush=True)
            time.sleep(min(2 ** attempt, 10))
            continue
        if os.path.getsize(partial) < size:
            continue  # the connection ended early: resume
        found = sha256_of(partial).hexdigest()
        if sha256 and found != sha256:
            progress.add(-size, name)
            os.remove(partial)
            raise SystemExit(f"{name}: expected sha256 {sha256}, found {found} (downloaded from {url}); nothing kept")
        os.replace(partial, path)
        return
    raise SystemExit(f"{name}: could not download {url} after {RETRIES} tries; run again to resume")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("dest")
    ap.add_argument("--install-factor", type=float, default=2.5)
    a = ap.parse_args()
    os.makedirs(a.dest, exist_ok=True)
    wheels = []
    for item in json.load(open(a.report))["install"]:
        info = item["download_info"]
        url = info["url"]
        sha256 = info.get("archive_info", {}).get("hashes", {}).get("sha256") or info.get("archive_info", {}).get("hash", "").removeprefix("sha256=")
        wheels.append((url, os.path.join(a.dest, os.path.basename(url.split("#")[0])), sha256))
    sizes = [os.path.getsize(path) if os.path.exists(path) else head_size(url) for url, path, _ in wheels]
    total = sum(sizes)
    done = sum(size if os.path.exists(path) else os.path.getsize(path + ".partial") if os.path.exists(path + ".partial") else 0
               for (url, path, _), size in zip(wheels, sizes))
    needed = (total - done) + total * a.install_factor
    free = shutil.disk_usage(a.dest).free
    if free < needed:
        raise SystemExit(
            f"Not enough disk space in {a.dest}: this install downloads {human(total - done)} more and unpacks to about "
            f"{human(total * a.install_factor)}, about {human(needed)} in all; {human(free)} is free. Free some space, or "
            f"point RESNET_NAPI_CACHE at a larger disk, and run again (what is downloaded is kept).")
    print(f"Downloading {len(wheels)} wheels, {human(total)}" + (f" ({human(done)} already here)" if done else "") + f", into {a.dest}",
          file=sys.stderr, flush=True)
    progress = Progress(total, done)
    for (url, path, sha256), size in zip(wheels, sizes):
        if not os.path.exists(path):
            download(url, path, size, sha256, progress)
    progress.add(0, "done", final=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Provides the Python side of the benchmarks and of the torchvision parity tests, and prints
# the PYTHONPATH to use.
#
# torch comes from the project's own torch==2.11.0 install (scripts/setup-libtorch.sh), so the
# benchmark's PyTorch is the very build the Rust side links against, and nothing multi-GB is
# downloaded twice. torchvision (--no-deps, else pip would pull a second torch) and the
# notebook's other imports go into a separate --target dir beside it:
#   ${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}/bench-python
# Idempotent: a completed install is marked and never redone. Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The CUDA build: the CPU-only one is installed as libtorch alone, which Python cannot import.
torch_site="$(dirname "$(bash "$here/../scripts/setup-libtorch.sh" --cuda)")"
cache="${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}"
target="$cache/bench-python"
# The marker names the package set: a changed set reinstalls.
marker="$target/.complete-v2"
pip=(python3 -m pip install --quiet --no-compile --disable-pip-version-check --root-user-action=ignore)

if [[ ! -f "$marker" ]]; then
  echo "Installing torchvision==0.26.0, opencv, pillow, numpy, safetensors into $target (once)..." >&2
  rm -rf "$target.partial"
  # Two calls because --no-deps applies to a whole call; the two sets share no top-level dirs.
  "${pip[@]}" --target "$target.partial" --no-deps "torchvision==0.26.0" >&2
  "${pip[@]}" --target "$target.partial" opencv-python-headless pillow numpy safetensors >&2
  rm -rf "$target"
  mv "$target.partial" "$target"
  touch "$marker"
fi

# The two dirs hold disjoint packages, so either order imports; the torch site goes first so
# that the project's torch build wins even if a torch ever lands in bench-python.
pythonpath="$torch_site:$target"
TORCH_SITE="$torch_site" PYTHONPATH="$pythonpath" python3 - >&2 <<'PY'
import os, torch, torchvision, cv2, safetensors
assert torch.__file__.startswith(os.environ["TORCH_SITE"] + "/"), torch.__file__
assert torchvision.__version__.split("+")[0] == "0.26.0", torchvision.__version__
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, cv2 {cv2.__version__}")
PY
echo "$pythonpath"

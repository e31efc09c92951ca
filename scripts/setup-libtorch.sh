#!/usr/bin/env bash
# Provides libtorch and prints its directory (the one holding include/ and lib/).
#
# usage: setup-libtorch.sh [--cpu | --cuda] [--index-url URL]
#
# If LIBTORCH is set and holds lib/libtorch.so, that is used. Otherwise torch==2.11.0 is
# installed once into a cache outside the checkout, reused by every clone and every later run:
#   --cuda: PyPI's build (CUDA 13.0; its nvidia-* wheels, about 4.5 GB, are needed to load
#           even without a GPU), into ${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}/torch-2.11.0
#   --cpu:  PyTorch's CPU-only build from PyTorch's own index (https://download.pytorch.org/whl/cpu),
#           libtorch's libraries alone, to run the prebuilt addon (no Python dependencies, no
#           Python sources, no C++ headers; about 200 MB to download), into .../torch-2.11.0-cpu.
#           Building from source needs the headers: it uses the CUDA build (with-libtorch.sh).
# The variant may also come from RESNET_NAPI_TORCH (cpu, cuda or auto) and the index from
# RESNET_NAPI_TORCH_INDEX_URL (as pip's --index-url; for --cuda pip's own settings apply
# otherwise, PIP_INDEX_URL included). The default, auto: the CUDA build where an NVIDIA driver
# is present; elsewhere a variant already installed, else the CPU-only build, falling back to
# PyPI's CUDA build (saying so) when PyTorch's index cannot be reached.
#
# Idempotent: a completed install is marked and never redone. Progress goes to stderr: a line
# with bytes, rate and time left while the wheels download (scripts/fetch_wheels.py), which an
# interrupted run resumes.
set -euo pipefail

TORCH_VERSION=2.11.0
CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

variant="${RESNET_NAPI_TORCH:-auto}"
index_url="${RESNET_NAPI_TORCH_INDEX_URL:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) variant=cpu ;;
    --cuda) variant=cuda ;;
    --index-url)
      [[ $# -ge 2 ]] || { echo "--index-url needs a URL" >&2; exit 1; }
      index_url="$2"
      shift
      ;;
    --index-url=*) index_url="${1#--index-url=}" ;;
    *) echo "unknown option $1 (expected --cpu, --cuda or --index-url URL)" >&2; exit 1 ;;
  esac
  shift
done
case "$variant" in
  cpu | cuda | auto) ;;
  *) echo "RESNET_NAPI_TORCH=$variant: expected cpu, cuda or auto" >&2; exit 1 ;;
esac

if [[ -n "${LIBTORCH:-}" ]]; then
  if [[ -f "$LIBTORCH/lib/libtorch.so" ]]; then
    echo "$LIBTORCH"
    exit 0
  fi
  echo "LIBTORCH=$LIBTORCH has no lib/libtorch.so; unset it to install torch==$TORCH_VERSION instead" >&2
  exit 1
fi

cache="${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}"
target_of() { [[ "$1" == cpu ]] && echo "$cache/torch-$TORCH_VERSION-cpu" || echo "$cache/torch-$TORCH_VERSION"; }
has_nvidia_driver() { [[ -e /proc/driver/nvidia/version ]]; }

# auto: what the machine can use, without downloading anything already here.
fallback=0
if [[ "$variant" == auto ]]; then
  if has_nvidia_driver; then
    variant=cuda
  elif [[ -f "$(target_of cpu)/.complete" ]]; then
    variant=cpu
  elif [[ -f "$(target_of cuda)/.complete" ]]; then
    variant=cuda
  else
    variant=cpu
    fallback=1
  fi
fi

python="$(command -v python3 || command -v python || true)"
pip=("${python:-python3}" -m pip --disable-pip-version-check)

# Installs torch==2.11.0 of `variant` into its cache folder. pip resolves the wheels, reading
# only their metadata (fast-deps: HTTP range requests; a plain --dry-run would download every
# wheel once just to resolve), fetch_wheels.py downloads them with a progress line, resuming an
# interrupted download and checking the free space first, and pip installs from that folder.
# Returns 2 when the resolution fails (the index cannot be reached, or has no such torch).
install() {
  local variant="$1" target
  target="$(target_of "$variant")"
  [[ -f "$target/.complete" ]] && return 0
  if [[ -z "$python" ]]; then
    echo "python3 is needed to install torch==$TORCH_VERSION (apt-get install python3 python3-pip)" >&2
    exit 1
  fi
  local source=(--index-url "${index_url:-$CPU_INDEX_URL}") deps=(--no-deps) what="PyTorch's CPU-only build from ${index_url:-$CPU_INDEX_URL} (once; about 200 MB)"
  if [[ "$variant" == cuda ]]; then
    source=()
    [[ -n "$index_url" ]] && source=(--index-url "$index_url")
    deps=()
    what="PyPI's CUDA build${index_url:+ from $index_url} (once; a few GB)"
  fi
  echo "Installing torch==$TORCH_VERSION, $what, into $target..." >&2
  mkdir -p "$cache"
  rm -rf "$target.partial"
  local wheels="$cache/wheels-torch-$TORCH_VERSION-$variant" report="$cache/torch-$TORCH_VERSION-$variant-report.json" log
  log="$(mktemp)"
  if "${pip[@]}" install --quiet --dry-run --ignore-installed --use-feature=fast-deps --report "$report" \
      "${source[@]}" "${deps[@]}" "torch==$TORCH_VERSION" >"$log" 2>&1; then
    rm -f "$log"
    "$python" "$here/fetch_wheels.py" "$report" "$wheels" || exit 1
    "${pip[@]}" install --quiet --no-compile --no-index --find-links "$wheels" "${deps[@]}" \
      --target "$target.partial" "torch==$TORCH_VERSION" >&2 || exit 1
    rm -rf "$wheels" "$report"
  elif grep -q "no such option\|invalid choice" "$log"; then
    # A pip before 22.2 has no --report: install the plain way.
    echo "This pip cannot resolve metadata-only; installing the plain way." >&2
    rm -f "$log"
    "${pip[@]}" install --quiet --no-compile "${source[@]}" "${deps[@]}" --target "$target.partial" "torch==$TORCH_VERSION" >&2 || exit 1
  else
    echo "Could not resolve torch==$TORCH_VERSION${source[1]:+ from ${source[1]}}. pip said:" >&2
    grep -v "lazily downloaded wheels" "$log" | tail -n 5 >&2
    rm -f "$log"
    return 2
  fi
  if [[ "$variant" == cpu ]]; then
    # The libraries alone: the prebuilt addon loads torch/lib and `resnet doctor` reads
    # torch/version.py; nothing imports torch in Python from this folder, and nothing builds
    # against it (the headers are 62 MB).
    find "$target.partial/torch" -mindepth 1 -maxdepth 1 ! -name lib ! -name version.py -exec rm -rf {} + || exit 1
    rm -f "$target.partial/torch/lib/libtorch_python.so"
  fi
  # Called as `install ... || status=$?`, where bash ignores `set -e`: each step checks itself.
  rm -rf "$target" && mv "$target.partial" "$target" && touch "$target/.complete" || exit 1
}

status=0
install "$variant" || status=$?
if [[ $status -eq 2 && $fallback -eq 1 ]]; then
  echo "No NVIDIA driver here, so the CPU-only build was tried, but PyTorch's index did not answer." >&2
  echo "Installing PyPI's CUDA build instead, which also runs on the CPU (to insist on the CPU-only build: resnet setup --cpu, with --index-url for a mirror)." >&2
  variant=cuda
  index_url=""
  status=0
  install cuda || status=$?
fi
[[ $status -eq 0 ]] || exit 1
target="$(target_of "$variant")"

# CUDA's C++ core headers (CCCL), which the wheel lacks and c10d's ProcessGroupNCCL.hpp needs
# (through cuda_fp16.h): with them the build makes libresnet_nccl.so for distributed runs on
# GPUs (crates/resnet-core/build.rs). A few MB, once; without them Gloo moves CUDA tensors.
cccl="$target/cccl"
if [[ "$variant" == cuda && ! -f "$cccl/.complete" ]]; then
  rm -rf "$cccl.partial"
  if "${pip[@]}" install --quiet --no-compile --no-deps --target "$cccl.partial" "nvidia-cuda-cccl==13.0.85" >&2; then
    rm -rf "$cccl"
    mv "$cccl.partial" "$cccl"
    touch "$cccl/.complete"
  else
    echo "Could not install nvidia-cuda-cccl: distributed runs on GPUs will use Gloo instead of NCCL" >&2
    rm -rf "$cccl.partial"
  fi
fi
echo "$target/torch"

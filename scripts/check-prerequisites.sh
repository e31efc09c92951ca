#!/usr/bin/env bash
# Checks, in about a second and before anything compiles, what building from source needs:
# cargo, a C++ compiler, make, cmake and nasm (libjpeg-turbo's SIMD build), gloo's headers
# (c10d's ProcessGroupGloo.hpp includes them), and python3 with pip (to install the torch
# wheel). Names every missing one with the command that installs it, in one message, and
# exits 1; prints nothing when all are there.
set -uo pipefail

missing=()
packages=()
note() {
  missing+=("$1")
  [[ -n "${2:-}" ]] && packages+=("$2")
}

command -v cargo >/dev/null 2>&1 || note "cargo (Rust): curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
compiler="$(command -v c++ || command -v g++ || true)"
[[ -n "$compiler" ]] || note "a C++ compiler (g++)" g++
command -v make >/dev/null 2>&1 || note "make" make
command -v cmake >/dev/null 2>&1 || note "cmake" cmake
command -v nasm >/dev/null 2>&1 || note "nasm" nasm
if [[ -n "$compiler" ]] && ! echo '#include <gloo/rendezvous/store.h>' | "$compiler" -std=c++17 -fsyntax-only -x c++ - >/dev/null 2>&1; then
  note "gloo's headers (libgloo-dev)" libgloo-dev
fi
if ! command -v python3 >/dev/null 2>&1; then
  note "python3 with pip" "python3 python3-pip"
elif ! python3 -m pip --version >/dev/null 2>&1; then
  note "pip for python3" python3-pip
fi

if ((${#missing[@]})); then
  {
    echo "resnet-napi cannot be built from source here; missing:"
    for item in "${missing[@]}"; do echo "  - $item"; done
    if ((${#packages[@]})); then
      echo "On Debian or Ubuntu: sudo apt-get install -y ${packages[*]}"
    fi
  } >&2
  exit 1
fi

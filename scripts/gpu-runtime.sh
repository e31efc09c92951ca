# Sourced by the GPU machine's scripts (gpu-check.sh, gpu-fmnist.sh), with $bundle naming the
# carried bundle: sets $node to the bundle's node (unpacked once from node.xz into /tmp; else the
# node on PATH) and exports RESNET_NAPI_LIBTORCH as the machine's own torch/lib (torch 2.11 in
# its python3), unless one is named already. Returns 1, saying so, when there is no node.
node="$(command -v node || true)"
if [[ -f "$bundle/node.xz" ]]; then
  node="/tmp/$(basename "$bundle")-node"
  [[ -x "$node" ]] || { xz -dc "$bundle/node.xz" > "$node" && chmod +x "$node"; }
fi
[[ -n "$node" ]] || { echo "no node: pack the bundle on a build machine (npm run gpu:pack) and carry it" >&2; return 1; }
if [[ -z "${RESNET_NAPI_LIBTORCH:-}" ]]; then
  RESNET_NAPI_LIBTORCH="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)"
  export RESNET_NAPI_LIBTORCH
fi

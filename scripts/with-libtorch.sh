#!/usr/bin/env bash
# Runs a command with LIBTORCH pointing at the project's libtorch (see setup-libtorch.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIBTORCH="$(bash "$here/setup-libtorch.sh")"
export LIBTORCH
exec "$@"

#!/usr/bin/env bash
# CTest's genkit_official_tools: installs the pinned official Genkit tools
# (install.sh; a no-op when the cache is current) and runs
# official_tools.test.mjs against SERVER_BINARY.
#
#   tests/genkit_tools/run.sh SERVER_BINARY CACHE_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SERVER_BINARY CACHE_DIR" >&2
  exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
bash "$HERE/install.sh" "$2"
GENKIT_ENDPOINTS_BINARY="$1" GENKIT_TOOLS_DIR="$(cd "$2" && pwd)" \
  exec node --test --test-reporter=spec "$HERE/official_tools.test.mjs"

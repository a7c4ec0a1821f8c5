#!/usr/bin/env bash
# Installs what is missing, builds (Release), and starts genkit-endpoints on
# its defaults (0.0.0.0:8080, mock/echo without GEMINI_API_KEY). Arguments
# are passed to the server: ./run.sh --port 9090 --workers 4
set -euo pipefail
cd "$(dirname "$0")"
bash packaging/install-deps.sh --run
if [ ! -f build-release/build.ninja ]; then
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF >/dev/null
fi
cmake --build build-release --target genkit-endpoints
exec ./build-release/supervisor/genkit-endpoints "$@"

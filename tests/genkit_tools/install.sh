#!/usr/bin/env bash
# Installs the official Genkit tools pinned by package.json and
# package-lock.json beside this script (genkit for genkit/beta/client,
# genkit-cli for the `genkit` command) into CACHE_DIR with `npm ci`, for
# official_tools.test.mjs. A cache whose stamp matches this lockfile,
# package.json and .npmrc is reused as it is (no npm call), so reruns are fast.
#
#   tests/genkit_tools/install.sh CACHE_DIR
#
# Needs node and npm (packaging/install-deps.sh installs Debian's when node is
# missing) and the npm registry. No install script of a dependency is run
# (--ignore-scripts): the test needs none of them.
#
# Another version: edit package.json (exact versions), then in this folder
# `npm install --package-lock-only`; .npmrc keeps the registry's addresses
# ("resolved") out of package-lock.json, which this script checks.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 CACHE_DIR" >&2
  exit 2
fi
SRC="$(cd "$(dirname "$0")" && pwd)"
CACHE="$1"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "genkit_tools/install.sh: '$tool' is not installed: the official Genkit tools test needs Node.js and npm" >&2
    echo "  (run packaging/install-deps.sh, or: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

if grep -q '"resolved"' "$SRC/package-lock.json"; then
  echo "genkit_tools/install.sh: $SRC/package-lock.json names download addresses (\"resolved\"): regenerate it with this folder's .npmrc" >&2
  exit 1
fi

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
FILES=(package.json package-lock.json .npmrc)
stamp="$(cd "$SRC" && sha256sum "${FILES[@]}" | sha256sum | cut -d' ' -f1) node-$(node --version)"

# One install at a time per cache (two build trees never share one, but a
# test run by hand beside ctest could).
exec 9>"$CACHE/.install.lock"
flock -w 240 9 || { echo "genkit_tools/install.sh: $CACHE is locked by another install" >&2; exit 1; }

if [ -f "$CACHE/.installed" ] && [ "$(cat "$CACHE/.installed")" = "$stamp" ] \
   && [ -x "$CACHE/node_modules/.bin/genkit" ] && [ -f "$CACHE/node_modules/genkit/package.json" ]; then
  exit 0
fi

echo "genkit_tools/install.sh: npm ci into $CACHE (node $(node --version), npm $(npm --version))" >&2
rm -f "$CACHE/.installed"
for f in "${FILES[@]}"; do cp "$SRC/$f" "$CACHE/$f"; done
start=$(date +%s)
(cd "$CACHE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
echo "genkit_tools/install.sh: installed in $(( $(date +%s) - start )) s" >&2
echo "$stamp" > "$CACHE/.installed"

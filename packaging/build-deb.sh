#!/usr/bin/env bash
# Builds the Debian package with Debian's tools (dpkg-buildpackage, debhelper)
# out of a clean copy of the source tree, and leaves
# genkit-endpoints_<version>_amd64.deb (with its -dbgsym package, .buildinfo
# and .changes) in OUTDIR; the last line printed is the .deb's path.
#
#   packaging/build-deb.sh [OUTDIR]          default OUTDIR: ./build-deb
#
# The copy holds the files git knows of plus new untracked ones (what
# `git ls-files --cached --others --exclude-standard` lists, so work in
# progress is packaged and build*/, .deps/ and .git are not), with
# packaging/debian/ as debian/. The package version is the CMake project
# VERSION plus the Debian revision of packaging/debian/changelog; when the
# changelog is behind the CMake version, an entry is added to the copy (not
# to the source).
#
# Environment: BUILD_ROOT (where the copy is made; default
# /var/tmp/genkit-endpoints-deb, kept at one path so ccache hits), KEEP_BUILD=1
# (keep the copy), LINTIAN=0 (skip lintian), CCACHE_DIR (default
# /var/cache/genkit-endpoints-ccache; ccache is used when installed).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUTDIR="${1:-$ROOT/build-deb}"  # build*/ is git-ignored
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
BUILD_ROOT="${BUILD_ROOT:-/var/tmp/genkit-endpoints-deb}"

log() { printf 'build-deb: %s\n' "$*" >&2; }

# Build dependencies: the project's -dev packages and the packaging tools.
bash "$ROOT/packaging/install-deps.sh" --package >&2

upstream=$(sed -n 's/^project(genkit-endpoints VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$upstream" ] || { log "no 'project(genkit-endpoints VERSION x.y.z' in CMakeLists.txt"; exit 1; }

# --- the clean copy -------------------------------------------------------
src="$BUILD_ROOT/genkit-endpoints-$upstream"
case "$BUILD_ROOT" in /|"") log "refusing BUILD_ROOT=$BUILD_ROOT"; exit 1 ;; esac
rm -rf "$BUILD_ROOT"
mkdir -p "$src"
cleanup() {
  if [ "${KEEP_BUILD:-0}" = 1 ]; then log "kept $BUILD_ROOT"; else rm -rf "$BUILD_ROOT"; fi
}
trap cleanup EXIT

if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Files deleted in the work tree but still in the index are skipped.
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do
      if [ -e "$ROOT/$f" ] || [ -L "$ROOT/$f" ]; then printf '%s\0' "$f"; fi
    done |
    tar -C "$ROOT" --null --no-recursion -T - -cf - | tar -C "$src" -xf -
else
  tar -C "$ROOT" --exclude='./build*' --exclude=./.git --exclude=./.deps --exclude=./.cache \
    -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -a "$ROOT/packaging/debian" "$src/debian"

# --- version --------------------------------------------------------------
cl_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
cl_upstream=${cl_version%-*}
if [ "$cl_upstream" != "$upstream" ]; then
  if dpkg --compare-versions "$cl_upstream" gt "$upstream"; then
    log "packaging/debian/changelog ($cl_version) is ahead of CMakeLists.txt ($upstream)"
    exit 1
  fi
  log "changelog says $cl_upstream, CMakeLists.txt $upstream: adding an entry $upstream-1 to the copy"
  maint=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)
  dist=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Distribution)
  { printf 'genkit-endpoints (%s-1) %s; urgency=medium\n\n' "$upstream" "$dist"
    printf '  * Upstream version %s (entry added by packaging/build-deb.sh).\n\n' "$upstream"
    printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
    cat "$src/debian/changelog"; } > "$src/debian/changelog.new"
  mv "$src/debian/changelog.new" "$src/debian/changelog"
fi
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

# --- build ----------------------------------------------------------------
if command -v ccache >/dev/null; then
  export GENKIT_COMPILER_LAUNCHER=ccache
  export CCACHE_DIR="${CCACHE_DIR:-/var/cache/genkit-endpoints-ccache}"
  mkdir -p "$CCACHE_DIR"
fi
log "building genkit-endpoints $version ($arch) in $src"
start=$SECONDS
(cd "$src" && dpkg-checkbuilddeps && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$BUILD_ROOT/build.log" 2>&1 || {
  tail -60 "$BUILD_ROOT/build.log" >&2
  log "dpkg-buildpackage failed (full log: $BUILD_ROOT/build.log, kept)"
  KEEP_BUILD=1
  exit 1
}
log "built in $((SECONDS - start)) s"

deb="genkit-endpoints_${version}_${arch}.deb"
[ -f "$BUILD_ROOT/$deb" ] || { log "no $deb produced"; exit 1; }
for f in "$BUILD_ROOT"/genkit-endpoints_"${version}"_"${arch}".{deb,buildinfo,changes} \
         "$BUILD_ROOT"/genkit-endpoints-dbgsym_"${version}"_"${arch}".deb; do
  [ -f "$f" ] && cp "$f" "$OUTDIR/"
done

if [ "${LINTIAN:-1}" = 1 ]; then
  log "lintian $deb"
  # Errors fail the build; warnings and below are printed. The overrides
  # shipped in the package say why each remaining tag is accepted.
  lintian --fail-on error --display-info --tag-display-limit 0 "$OUTDIR/$deb" >&2
fi

ls -l "$OUTDIR/$deb" >&2
echo "$OUTDIR/$deb"

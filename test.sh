#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal
# build, then an AddressSanitizer + UndefinedBehaviorSanitizer build; runs
# every fuzz target briefly; then builds the Debian package and checks it
# under a booted systemd.
set -euo pipefail
cd "$(dirname "$0")"
bash packaging/install-deps.sh
jobs=$(nproc)

run_suite() {  # dir, extra cmake args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  fi
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
}

echo "== tests (RelWithDebInfo) =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== tests (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DGENKIT_SANITIZE=ON
# Every libFuzzer target for a short time from its seed corpus, so that a
# parser change that crashes on a known shape surfaces here (long runs:
# tests/fuzz/README.md).
echo "== fuzzing (tests/fuzz, ${FUZZ_SECONDS:=20} s per target) =="
tests/fuzz/run.sh --seconds "$FUZZ_SECONDS"
# The Debian package, installed and run under a real systemd in a
# systemd-nspawn container (packaging/README.md; needs root: sudo otherwise).
echo "== the Debian package under systemd (systemd-nspawn) =="
if [ "$(id -u)" -eq 0 ]; then
  packaging/test-in-nspawn.sh
else
  sudo packaging/test-in-nspawn.sh
fi

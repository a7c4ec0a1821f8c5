#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# given time from its seed corpus (tests/fuzz/corpus/<name>), keeping what
# it finds in the build tree. Prints a line per target: executions, speed,
# the coverage reached (edges hit of the binary's edges) and the corpus
# size; exits 1 when a target crashed, leaked, ran out of memory or timed
# out (the input is saved as <build>/artifacts/<name>-crash-…).
#
#   tests/fuzz/run.sh [--seconds N] [--build DIR] [--runs N] [name...]
#
#   --seconds N  time per target (default 30)
#   --runs N     stop a target after N executions instead (long runs:
#                --runs 10000000 --seconds 0)
#   --build DIR  build tree (default build-fuzz)
#   name         targets to run (fuzz_ prefix optional; default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=30 runs=-1 build=build-fuzz names=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("${1#fuzz_}"); shift ;;
  esac
done

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENKIT_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_targets
[ ${#names[@]} -gt 0 ] || names=($(cd tests/fuzz && ls fuzz_*.cc | sed 's/^fuzz_//; s/\.cc$//'))

dict_for() {
  case $1 in
    json|flow_input|gemini_reply|openai_reply) echo tests/fuzz/dict/json.dict ;;
    upstream_http1) echo tests/fuzz/dict/http1.dict ;;
    *) [ -f "tests/fuzz/dict/$1.dict" ] && echo "tests/fuzz/dict/$1.dict" ;;
  esac
  return 0
}

mkdir -p "$build/artifacts" "$build/logs"
failed=0
printf '%-16s %12s %9s %18s %8s  %s\n' target executions exec/s "coverage (edges)" corpus result
for name in "${names[@]}"; do
  bin="$build/tests/fuzz/fuzz_$name"
  [ -x "$bin" ] || { echo "run.sh: no target fuzz_$name" >&2; exit 2; }
  work="$build/corpus/$name"
  mkdir -p "$work"
  args=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -max_total_time="$seconds" -runs="$runs"
        -artifact_prefix="$build/artifacts/$name-")
  dict=$(dict_for "$name")
  [ -n "$dict" ] && args+=(-dict="$dict")
  log="$build/logs/$name.log"
  result=ok
  # (detect_leaks: every run's allocations are freed or reachable from the
  # target's long-lived state; a leak is a finding.)
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "${args[@]}" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1 || result="FAILED (see $log)"
  [ "$result" = ok ] || failed=1
  execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -1)
  edges=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  total=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
  corpus=$(grep -ao 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-16s %12s %9s %18s %8s  %s\n' "$name" "${execs:-?}" "${speed:-?}" "${edges:-?} of ${total:-?}" "${corpus:-?}" "$result"
done
exit $failed

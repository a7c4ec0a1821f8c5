#!/usr/bin/env bash
# Soak: a mixed load on every route of genkit-endpoints — REST and gRPC,
# unary and streaming, cache hits and misses, refused requests, injected
# upstream errors — at a moderate rate for a given time, while every
# process's RSS and open fds are sampled from /proc. After a warm-up (the
# first 20 %), no process may grow beyond noise and no reply may be
# unexplained. Prints the figures and a text sparkline per process (and a
# PNG when python3-matplotlib is installed).
#
#   bash bench/soak.sh                          # 30 minutes (after the build)
#   bash bench/soak.sh --minutes 3              # a short run
#   bash bench/soak.sh --build build-release    # use (and build the targets in) that build directory
#
# Unlike the other bench scripts it asserts: exit 0 when everything held,
# 1 when a process grew, an fd leaked, a process was replaced, a reply was
# unexplained or the server did not exit 0 on SIGTERM; 2 when the harness
# itself could not run. Everything stays on 127.0.0.1; the load is bounded
# in rate, concurrency and time.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=/usr/bin/python3

MINUTES=30
BUILD=${BENCH_BUILD:-$ROOT/build-soak}
usage() { echo "usage: bench/soak.sh [--minutes N] [--build DIR]" >&2; exit 2; }
while (($#)); do
  case $1 in
    --minutes) [[ ${2:-} =~ ^[1-9][0-9]{0,3}$ ]] || usage; MINUTES=$2; shift 2 ;;
    --build) [[ -n ${2:-} ]] || usage; BUILD=$(cd "$ROOT" && realpath -m "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done
RUN_SECS=$((MINUTES * 60))
SAMPLE_SECS=${SOAK_SAMPLE_SECS:-$((MINUTES >= 10 ? 10 : 5))}
RATE=${SOAK_RATE:-25}                # calls started per second
CONCURRENCY=${SOAK_CONCURRENCY:-8}   # calls in flight at most
INJECT_EVERY=${SOAK_INJECT_EVERY:-15}  # seconds between injected upstream errors
WORKERS=${SOAK_WORKERS:-2}
START_TIMEOUT=20
OUT=${SOAK_OUT:-$BUILD/soak-$(date -u +%Y%m%dT%H%M%SZ)}  # kept: samples, load summary, server log, plot

log() { printf '[soak] %s\n' "$*" >&2; }
die() { printf '[soak] ERROR: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------- tools, build
missing=()
for p in python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc curl procps; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
for p in "${missing[@]}"; do apt_install "$p" || die "cannot install $p"; done
for t in cmake ninja protoc /usr/bin/grpc_python_plugin curl pgrep "$PY"; do
  command -v "$t" >/dev/null || die "$t is missing"
done

mkdir -p "$BUILD" "$OUT" || die "cannot create $BUILD or $OUT"
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  log "configuring (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=ON \
    >"$OUT/configure.log" 2>&1 || { tail -n 30 "$OUT/configure.log" >&2; die "cmake configure failed"; }
fi
log "building genkit-endpoints, genkit-endpoints-grpcd, fake_llm in $BUILD (log: $OUT/build.log)"
cmake --build "$BUILD" -j "${BENCH_JOBS:-2}" --target genkit-endpoints genkit-endpoints-grpcd fake_llm \
  >"$OUT/build.log" 2>&1 || { grep -m 8 -E 'error|Error' "$OUT/build.log" >&2; die "the build failed"; }
BIN=$BUILD/supervisor/genkit-endpoints
FAKE_BIN=$BUILD/tests/fake_llm
for b in "$BIN" "$BUILD/supervisor/genkit-endpoints-grpcd" "$FAKE_BIN"; do [[ -x $b ]] || die "$b was not built"; done

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-soak.XXXXXX") || die "mktemp failed"
SUP="" FAKE_PID="" LOAD_PID=""
cleanup() {
  [[ -n $LOAD_PID ]] && stop_pid "$LOAD_PID" TERM 5
  [[ -n $SUP ]] && stop_tree "$SUP" TERM 15
  [[ -n $FAKE_PID ]] && stop_pid "$FAKE_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- fake upstream, server
"$FAKE_BIN" --port 0 --delay-ms 10 --chunk-delay-ms 5 >"$TMP/fake.out" 2>"$OUT/fake.err" &
FAKE_PID=$!
for _ in $(seq 100); do grep -q port "$TMP/fake.out" 2>/dev/null && break; sleep 0.1; done
FAKE_PORT=$(grep -o '[0-9]\+' "$TMP/fake.out" | head -n1)
[[ -n $FAKE_PORT ]] || { cat "$OUT/fake.err" >&2; die "fake_llm did not start"; }
FAKE_URL="http://127.0.0.1:$FAKE_PORT"

PORT=$(free_port) || die "no free port"
GPORT=$(free_port) || die "no free port"
[[ $GPORT == "$PORT" ]] && { GPORT=$(free_port) || die "no free port"; }
# No recycling (MAX_REQUESTS=0): the same processes live all along, so a
# leak shows and a replaced process is a crash. The limiter is on, at a rate
# this one client never reaches. Cache entries expire every minute: the
# fixed inputs miss again (and coalesce) now and then.
(cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_FORMAT=json LOG_LEVEL=warning \
  MAX_REQUESTS=0 RATE_LIMIT_DEFAULT=1000000000/second CACHE_TTL=60 GEMINI_API_KEY=soak GEMINI_BASE_URL="$FAKE_URL" \
  "$BIN" --port "$PORT" --grpc-port "$GPORT" --workers "$WORKERS") >"$OUT/server.log" 2>&1 &
SUP=$!
if ! wait_ready "$SUP" "http://127.0.0.1:$PORT/health"; then
  tail -n 20 "$OUT/server.log" >&2
  die "the server did not start"
fi

is_grpcd() { [[ $(readlink "/proc/$1/exe" 2>/dev/null) == *-grpcd ]]; }
all_started() {  # WORKERS workers and grpcd (exec'd) are children of the supervisor
  local p grpcd=0
  for p in $(pgrep -P "$SUP"); do is_grpcd "$p" && grpcd=1; done
  ((grpcd == 1)) && [[ $(pgrep -c -P "$SUP") -ge $((WORKERS + 1)) ]]
}
sleep_while_alive() {  # sleep_while_alive PID SECONDS: returns early once PID is gone
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
}
deadline=$((SECONDS + START_TIMEOUT))
until all_started; do
  ((SECONDS < deadline)) || die "the server did not start $WORKERS workers and grpcd"
  sleep 0.2
done

# ---------------------------------------------------------------- sampling
# Roles: supervisor, grpcd, worker-1..N (by pid at the start). A process
# that appears later takes the role of one that went (and the report sees
# two pids for that role).
declare -A ROLE_OF=()
next_worker=1
set_role() {  # set_role PID: ROLE_OF[PID] (not in a subshell: it remembers)
  local pid=$1 role="" gone
  [[ -n ${ROLE_OF[$pid]:-} ]] && return
  if [[ $pid == "$SUP" ]]; then role=supervisor
  elif is_grpcd "$pid"; then role=grpcd
  else
    for gone in "${!ROLE_OF[@]}"; do  # a replacement: the role of a process no longer there
      [[ ${ROLE_OF[$gone]} == worker-* ]] && ! kill -0 "$gone" 2>/dev/null && { role=${ROLE_OF[$gone]}; break; }
    done
    [[ -n $role ]] && unset "ROLE_OF[$gone]"
    [[ -z $role ]] && { role=worker-$next_worker; next_worker=$((next_worker + 1)); }
  fi
  ROLE_OF[$pid]=$role
}

sample() {  # sample T: one line per process into samples.tsv
  local t=$1 pid
  for pid in "$SUP" $(pgrep -P "$SUP" | sort -n); do
    [[ -r /proc/$pid/status ]] || continue
    local mem fds
    mem=$(awk '/^VmRSS:/ { v = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } /^RssShmem:/ { s = $2 }
               END { print v + 0, a + 0, f + 0, s + 0 }' "/proc/$pid/status" 2>/dev/null)
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    set_role "$pid"
    echo "$t ${ROLE_OF[$pid]} $pid $mem $fds" >>"$OUT/samples.tsv"
  done
}

# ---------------------------------------------------------------- the run
echo "genkit-endpoints soak -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : nproc $(nproc), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server   : $BIN --workers $WORKERS + grpcd, MAX_REQUESTS=0 CACHE_TTL=60 LOG_LEVEL=warning,"
echo "           Gemini on fake_llm (--delay-ms 10 --chunk-delay-ms 5)"
echo "load     : bench/soak_load.py, $MINUTES min at $RATE calls/s (at most $CONCURRENCY in flight), an upstream"
echo "           error injected every ${INJECT_EVERY}s; every process sampled every ${SAMPLE_SECS}s"
echo "output   : $OUT"
echo

echo "t_s role pid vmrss_kb anon_kb file_kb shmem_kb fds" >"$OUT/samples.tsv"
timeout $((RUN_SECS + 120)) "$PY" "$BENCH_DIR/soak_load.py" --port "$PORT" --grpc-port "$GPORT" \
  --fake-url "$FAKE_URL" --seconds "$RUN_SECS" --rate "$RATE" --concurrency "$CONCURRENCY" \
  --inject-every "$INJECT_EVERY" --out "$OUT/load.json" &
LOAD_PID=$!
START=$SECONDS
while kill -0 "$LOAD_PID" 2>/dev/null; do
  sample $((SECONDS - START))
  kill -0 "$SUP" 2>/dev/null || die "the supervisor died during the run (see $OUT/server.log)"
  sleep_while_alive "$LOAD_PID" "$SAMPLE_SECS"
done
wait "$LOAD_PID"
load_status=$?
LOAD_PID=""
sample $((SECONDS - START))
[[ $load_status == 0 && -s $OUT/load.json ]] || die "the load driver failed (exit $load_status)"

# ---------------------------------------------------------------- stop, report
kill -TERM "$SUP"
sleep_while_alive "$SUP" 30
if kill -0 "$SUP" 2>/dev/null; then
  log "the server did not exit within 30 s of SIGTERM"
  stop_tree "$SUP" KILL 1
  exit_code=137
else
  wait "$SUP"
  exit_code=$?
fi
SUP=""

echo
png=()
dpkg-query -W -f='${Status}' python3-matplotlib 2>/dev/null | grep -q "ok installed" && png=(--png "$OUT/soak.png")
"$PY" "$BENCH_DIR/soak_report.py" --samples "$OUT/samples.tsv" --load "$OUT/load.json" --warmup 0.2 \
  --server-log "$OUT/server.log" --exit-code "$exit_code" "${png[@]}"

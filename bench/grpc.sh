#!/usr/bin/env bash
# gRPC speed figures of genkit-endpoints (its daemon, genkit-endpoints-grpcd),
# each printed beside its target:
#   1. unary Health and TellJoke (mock/echo) req/s against a Python grpc.aio
#      server of the seed's shape serving the same proto (bench/grpc_peer.py),
#      side by side, in alternating rounds, with the same load client;
#   2. TellJoke through a fake Gemini that answers in 50 ms, 256 calls at once;
#   3. TellStory, 64 concurrent streams: the first message's arrival here
#      against the fake's stamp of the chunk it carries;
#   4. the daemon's idle VmRSS and its growth per in-flight call.
# It PRINTS figures beside their targets and asserts nothing: it exits 0 when
# a target is missed, non-zero only when a tool, the build or a server is
# unusable.
#
#   bash bench/grpc.sh                     # full run (~2.5 min after the build)
#   BENCH_DURATION=3 bash bench/grpc.sh    # smoke run
#   BENCH_BUILD=/path/to/build bash bench/grpc.sh
#
# The load client is bench/tools/grpc_load (C++, grpc++ completion queues).
# Everything stays on 127.0.0.1; every load is bounded by the client's own
# duration (calls still open at its end are cancelled) and by a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-grpcbench}
PY=/usr/bin/python3

DURATION=${BENCH_DURATION:-10}
if ! [[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "grpc.sh: BENCH_DURATION must be a whole number of seconds (1..9999), got '$DURATION'" >&2
  exit 2
fi
ROUNDS=3                                        # alternating rounds of the comparison
ROUND_SECS=$(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))
WARMUP_SECS=1                                   # every load: calls ending in its first second are not counted
# The comparison's load: 64 calls outstanding over 4 connections, 2 client threads.
CMP_CONC=64 CMP_CHANNELS=4 CMP_THREADS=2
UPSTREAM_DELAY_MS=50                            # section 2: fake Gemini latency
UPSTREAM_CONC=256                               # section 2: concurrent calls
STREAMS=64                                      # section 3: concurrent TellStory streams
CHUNK_DELAY_MS=20                               # section 3: the fake's pause between SSE events
INFLIGHT=${BENCH_GRPC_INFLIGHT:-2000}           # section 4: slow calls held in flight
SLOW_DELAY_MS=8000                              # section 4: how long the fake holds each
START_TIMEOUT=20
LOG_LEVEL_OF_SERVER=${BENCH_LOG_LEVEL:-warning} # warning: no per-RPC access log line (as the peer)

TARGET_RATIO=8
TARGET_UPSTREAM_RPS=$(awk -v c=$UPSTREAM_CONC -v d=$UPSTREAM_DELAY_MS 'BEGIN { printf "%.0f", 0.95 * c * 1000 / d }')
TARGET_UPSTREAM_P99_MS=60
TARGET_FIRST_P50_MS=1
TARGET_IDLE_RSS_KB=$((15 * 1024))
TARGET_KB_PER_CALL=20
HUGE_LIMIT=1000000000/second                    # the limiter on, at a rate nobody reaches

log() { printf '[grpc] %s\n' "$*" >&2; }
die() { printf '[grpc] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools, build
bash "$ROOT/packaging/install-deps.sh" --run >&2 || die "packaging/install-deps.sh failed"
missing=()
for p in python3-grpcio python3-protobuf curl procps nghttp2-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
fi
for t in cmake ninja protoc /usr/bin/grpc_python_plugin curl pgrep "$PY"; do
  command -v "$t" >/dev/null || die "$t is missing"
done

log "building (Release) in $BUILD (log: $BUILD/grpcbench-build.log)"
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=ON \
  >"$BUILD/grpcbench-configure.log" 2>&1 || { tail -n 30 "$BUILD/grpcbench-configure.log" >&2; die "cmake configure failed"; }
cmake --build "$BUILD" --target genkit-endpoints genkit-endpoints-grpcd fake_llm grpc_load stream_probe \
  >"$BUILD/grpcbench-build.log" 2>&1 || { grep -m 8 -E 'error|Error' "$BUILD/grpcbench-build.log" >&2; die "the build failed"; }
BIN=$BUILD/supervisor/genkit-endpoints
GRPCD_BIN=$BUILD/supervisor/genkit-endpoints-grpcd
FAKE_BIN=$BUILD/tests/fake_llm
LOAD_BIN=$BUILD/bench/grpc_load
PROBE_BIN=$BUILD/bench/stream_probe
for b in "$BIN" "$GRPCD_BIN" "$FAKE_BIN" "$LOAD_BIN" "$PROBE_BIN"; do [[ -x $b ]] || die "$b was not built"; done
ulimit -n "$(ulimit -Hn)"  # thousands of calls in flight, the fake's upstream sockets

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-grpc.XXXXXX") || die "mktemp failed"
declare -A GPORT_OF PID_OF GRPCD_OF FAKE_PORT_OF FAKE_PID_OF
PEER_PID="" PEER_PORT=""

stop_server() {  # stop_server NAME: the supervisor, then anything it left behind
  local pid=${PID_OF[$1]:-}
  [[ -z $pid ]] && return 0
  stop_tree "$pid" TERM 12
  unset "PID_OF[$1]"
}
stop_fake() { [[ -n ${FAKE_PID_OF[$1]:-} ]] && stop_pid "${FAKE_PID_OF[$1]}" TERM 5; unset "FAKE_PID_OF[$1]"; }

cleanup() {
  local name
  for name in "${!PID_OF[@]}"; do stop_server "$name"; done
  for name in "${!FAKE_PID_OF[@]}"; do stop_fake "$name"; done
  [[ -n $PEER_PID ]] && stop_pid "$PEER_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
# load OUT ARGS... : one grpc_load run (a harness failure if it cannot run);
# sets L_RPS L_P50 L_P99 L_ERR L_CODES L_CALLS and leaves the line in OUT.
field() { grep -o "\(^\| \)$1=[^ ]*" "$2" | head -n1 | cut -d= -f2; }
load() {
  local out=$1; shift
  local secs
  secs=$(awk -v a="$*" 'BEGIN { n = split(a, w, " "); s = 0; for (i = 1; i < n; i++) if (w[i] == "--duration" || w[i] == "--warmup") s += w[i + 1]; print int(s) + 60 }')
  timeout "$secs" "$LOAD_BIN" "$@" >"$out" 2>"$out.err" || die "grpc_load $* failed: $(cat "$out.err" "$out")"
  L_RPS=$(field rps "$out") L_P50=$(field p50_ms "$out") L_P99=$(field p99_ms "$out")
  L_ERR=$(field errors "$out") L_CODES=$(field codes "$out") L_CALLS=$(field calls "$out")
  [[ -n $L_RPS ]] || die "grpc_load printed no rps: $(cat "$out")"
}

# start_server NAME [VAR=VALUE...]: the supervisor with HTTP and gRPC on free
# ports of 127.0.0.1, 2 workers, a clean environment, cwd the temp dir (no
# .env); ready once GET /health answers and a gRPC Health call succeeds.
start_server() {
  local name=$1 port gport deadline; shift
  port=$(free_port) || die "no free port for $name"
  gport=$(free_port) || die "no free port for $name"
  [[ $gport == "$port" ]] && { gport=$(free_port) || die "no free port for $name"; }
  (cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_FORMAT=json \
    LOG_LEVEL="$LOG_LEVEL_OF_SERVER" RATE_LIMIT_DEFAULT="$HUGE_LIMIT" MAX_REQUESTS=0 "$@" \
    "$BIN" --port "$port" --grpc-port "$gport" --workers 2) >"$TMP/server-$name.log" 2>&1 &
  PID_OF[$name]=$!
  GPORT_OF[$name]=$gport
  if ! wait_ready "${PID_OF[$name]}" "http://127.0.0.1:$port/health"; then
    tail -n 20 "$TMP/server-$name.log" >&2
    die "server $name did not answer GET /health on 127.0.0.1:$port within ${START_TIMEOUT}s"
  fi
  deadline=$((SECONDS + START_TIMEOUT))
  until "$LOAD_BIN" --target "127.0.0.1:$gport" --rpc health --count 1 --concurrency 1 --channels 1 --threads 1 \
      --duration 5 --timeout-ms 2000 >"$TMP/ready-$name.txt" 2>&1 && grep -q ' ok=1 ' "$TMP/ready-$name.txt"; do
    ((SECONDS < deadline)) && kill -0 "${PID_OF[$name]}" 2>/dev/null || {
      cat "$TMP/ready-$name.txt" >&2; tail -n 20 "$TMP/server-$name.log" >&2
      die "server $name: no gRPC Health answer on 127.0.0.1:$gport within ${START_TIMEOUT}s"; }
    sleep 0.3
  done
  GRPCD_OF[$name]=$(grpcd_pid "$name") || { tail -n 20 "$TMP/server-$name.log" >&2; die "server $name: no grpcd process found"; }
}

grpcd_pid() {  # grpcd_pid NAME → the daemon: a child of the supervisor, or the pid its log line names
  local sup=${PID_OF[$1]} p
  p=$(pgrep -P "$sup" -f genkit-endpoints-grpcd | head -n1)
  # the supervisor's {"event":"grpcd_spawned",...,"worker_pid":N}, else grpcd's own {"event":"grpcd_started","pid":N}
  [[ -z $p ]] && p=$(grep '"event":"grpcd_spawned"' "$TMP/server-$1.log" | grep -o '"worker_pid":[0-9]*' | tail -n1 | cut -d: -f2)
  [[ -z $p ]] && p=$(grep '"event":"grpcd_started"' "$TMP/server-$1.log" | grep -o '"pid":[0-9]*' | tail -n1 | cut -d: -f2)
  [[ -n $p ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

start_fake() {  # start_fake NAME ARGS... → FAKE_PORT_OF[NAME]
  local name=$1; shift
  "$FAKE_BIN" --port 0 "$@" >"$TMP/fake-$name.out" 2>"$TMP/fake-$name.err" &
  FAKE_PID_OF[$name]=$!
  for _ in $(seq 100); do grep -q port "$TMP/fake-$name.out" 2>/dev/null && break; sleep 0.1; done
  FAKE_PORT_OF[$name]=$(grep -o '[0-9]\+' "$TMP/fake-$name.out" | head -n1)
  [[ -n ${FAKE_PORT_OF[$name]} ]] || { cat "$TMP/fake-$name.err" >&2; die "fake_llm $name did not start"; }
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
anon_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
rss_parts() {  # rss_parts PID → "anon A, file F, shmem S kB; Pss P kB" (VmRSS = anon + file + shmem)
  local pss
  pss=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null)
  awk -v pss="${pss:-?}" '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } /^RssShmem:/ { s = $2 }
       END { printf "anon %d, file %d, shmem %d kB; Pss %s kB", a, f, s, pss }' "/proc/$1/status" 2>/dev/null
}
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() {  # verdict VALUE OP TARGET → PASS / MISS
  awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    ok = a != "n/a" && a != "" && ((op == ">=" && a + 0 >= b + 0) || (op == "<=" && a + 0 <= b + 0) || (op == "==" && a + 0 == b + 0))
    print ok ? "PASS" : "MISS" }'
}

# ---------------------------------------------------------------- header
echo "genkit-endpoints gRPC benchmark -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : nproc $(nproc), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "client   : bench/tools/grpc_load (grpc++ $(dpkg-query -W -f='${Version}' libgrpc++-dev 2>/dev/null), completion queues), every load"
echo "           preceded by ${WARMUP_SECS}s not counted; calls open at its end cancelled"
echo "genkit   : $BIN --port P --grpc-port G --workers 2 (Release), cwd a temp dir, clean environment with"
echo "           BIND_HOST=127.0.0.1 LOG_FORMAT=json LOG_LEVEL=$LOG_LEVEL_OF_SERVER RATE_LIMIT_DEFAULT=$HUGE_LIMIT MAX_REQUESTS=0"
echo "peer     : $PY bench/grpc_peer.py (grpc.aio $($PY -c 'import grpc; print(grpc.__version__)' 2>/dev/null),"
echo "           protobuf $($PY -c 'from google.protobuf.internal import api_implementation as a; import google.protobuf as p; print(p.__version__, a.Type())' 2>/dev/null)), no interceptors"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "NOTE     : the machine is busy before the run (load $LOAD1 on $(nproc) CPUs): figures are noisy"
fi

# ---------------------------------------------------------------- 1. against the Python peer
echo
echo "== 1. unary Health and TellJoke (mock/echo): grpcd vs the Python grpc.aio peer, $ROUNDS alternating rounds"
echo "      of ${ROUND_SECS}s per load, $CMP_CONC calls outstanding over $CMP_CHANNELS connections ($CMP_THREADS client threads)"
start_server mock MODEL=mock/echo
(cd "$TMP" && exec "$PY" "$BENCH_DIR/grpc_peer.py" --port 0 --proto "$ROOT/protos/genkit_sample.proto") \
  >"$TMP/peer.out" 2>"$TMP/peer.err" &
PEER_PID=$!
for _ in $(seq 100); do grep -q port "$TMP/peer.out" 2>/dev/null && break; sleep 0.1; done
PEER_PORT=$(grep -o '[0-9]\+' "$TMP/peer.out" | head -n1)
[[ -n $PEER_PORT ]] || { cat "$TMP/peer.err" >&2; die "bench/grpc_peer.py did not start"; }

# The two servers must answer alike before they are compared.
"$PY" - "$ROOT/protos/genkit_sample.proto" "${GPORT_OF[mock]}" "$PEER_PORT" >"$TMP/same.txt" 2>&1 <<'PY'
import os, subprocess, sys, tempfile
proto, ports = sys.argv[1], sys.argv[2:]
d = tempfile.mkdtemp()
subprocess.run(["protoc", f"-I{os.path.dirname(os.path.abspath(proto))}", f"--python_out={d}", f"--grpc_python_out={d}",
                "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin", os.path.abspath(proto)], check=True)
sys.path.insert(0, d)
import grpc, genkit_sample_pb2 as pb, genkit_sample_pb2_grpc as g
for label, port in zip(("grpcd", "peer"), ports):
    stub = g.GenkitServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    h = stub.Health(pb.HealthRequest(), timeout=5)
    j = stub.TellJoke(pb.JokeRequest(name="bench"), timeout=5)
    try:
        stub.TellJoke(pb.JokeRequest(name="x" * 201), timeout=5)
        bad = "OK"
    except grpc.RpcError as e:
        bad = e.code().name
    print(f"{label}: Health status={h.status!r}; TellJoke joke={j.joke!r}; name of 201 chars -> {bad}")
PY
[[ $? == 0 ]] || { cat "$TMP/same.txt" >&2; die "one of the servers did not answer the check calls"; }
sed 's/^/   /' "$TMP/same.txt"

GRPCD=${GRPCD_OF[mock]}
declare -A TARGET_OF=([g-health]="127.0.0.1:${GPORT_OF[mock]}" [g-joke]="127.0.0.1:${GPORT_OF[mock]}"
                      [p-health]="127.0.0.1:$PEER_PORT" [p-joke]="127.0.0.1:$PEER_PORT")
declare -A RPC_OF=([g-health]=health [g-joke]=joke [p-health]=health [p-joke]=joke)
declare -A PIDOF_LOAD=([g-health]=$GRPCD [g-joke]=$GRPCD [p-health]=$PEER_PID [p-joke]=$PEER_PID)
declare -A SEEN_RPS SEEN_P99 SEEN_CPU BAD_OF CODES_OF CLIENT_CPU
LABELS=(g-health p-health g-joke p-joke)
for l in "${LABELS[@]}"; do SEEN_RPS[$l]="" SEEN_P99[$l]="" SEEN_CPU[$l]="" BAD_OF[$l]=0 CODES_OF[$l]="" CLIENT_CPU[$l]=""; done
HZ=$(getconf CLK_TCK)
for ((r = 0; r < ROUNDS; r++)); do
  line="   round $((r + 1)):"
  for ((i = 0; i < ${#LABELS[@]}; i++)); do
    l=${LABELS[$(( (i + r) % ${#LABELS[@]} ))]}
    c0=$(cpu_ticks "${PIDOF_LOAD[$l]}")
    load "$TMP/cmp-$l-$r.txt" --target "${TARGET_OF[$l]}" --rpc "${RPC_OF[$l]}" --concurrency $CMP_CONC \
      --channels $CMP_CHANNELS --threads $CMP_THREADS --warmup $WARMUP_SECS --duration "$ROUND_SECS"
    c1=$(cpu_ticks "${PIDOF_LOAD[$l]}")
    # server CPU per call: over the whole run (warm-up included), so divide by every call made then
    SEEN_CPU[$l]+=" $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v r="$L_RPS" -v s="$ROUND_SECS" -v w=$WARMUP_SECS \
                     'BEGIN { n = r * (s + w); if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')"
    SEEN_RPS[$l]+=" $L_RPS" SEEN_P99[$l]+=" $L_P99" CLIENT_CPU[$l]+=" $(field client_cpu_us_per_call "$TMP/cmp-$l-$r.txt")"
    BAD_OF[$l]=$(( BAD_OF[$l] + L_ERR ))
    [[ $L_CODES != - ]] && CODES_OF[$l]+=" $L_CODES"
    line+=$(printf '  %s %.0f' "$l" "$L_RPS")
    sleep 0.5
  done
  echo "$line"
done
declare -A MED_RPS MED_P99 MED_CPU
for l in "${LABELS[@]}"; do
  MED_RPS[$l]=$(median <<<"${SEEN_RPS[$l]}") MED_P99[$l]=$(median <<<"${SEEN_P99[$l]}") MED_CPU[$l]=$(median <<<"${SEEN_CPU[$l]}")
done
HEALTH_RATIO=$(ratio "${MED_RPS[g-health]}" "${MED_RPS[p-health]}")
JOKE_RATIO=$(ratio "${MED_RPS[g-joke]}" "${MED_RPS[p-joke]}")
GRPCD_RSS_AFTER_CMP=$(rss_kb "$GRPCD")

# A cross-check with another client: h2load (nghttp2, one thread, 4 connections
# x 16 streams) posting the same gRPC messages. It reads HTTP statuses only (a
# gRPC status travels in trailers), so it is info, not a target.
declare -A H2_RPS
if command -v h2load >/dev/null; then
  printf '\x00\x00\x00\x00\x00' >"$TMP/health.bin"                # HealthRequest{}
  printf '\x00\x00\x00\x00\x07\x0a\x05bench' >"$TMP/joke.bin"      # JokeRequest{name: "bench"}
  declare -A H2_PATH_OF=([health]=Health [joke]=TellJoke)
  line="   h2load:"
  for l in g-health p-health g-joke p-joke; do
    rpc=${RPC_OF[$l]}
    timeout $((ROUND_SECS + WARMUP_SECS + 30)) h2load -c 4 -m 16 -t 1 -D "$ROUND_SECS" --warm-up-time="$WARMUP_SECS" \
      -d "$TMP/$rpc.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://${TARGET_OF[$l]}/genkit.sample.v1.GenkitService/${H2_PATH_OF[$rpc]}" >"$TMP/h2-$l.txt" 2>&1
    H2_RPS[$l]=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { v = $i; gsub(/,/, "", v); print v } }' "$TMP/h2-$l.txt")
    line+=$(printf '  %s %.0f' "$l" "${H2_RPS[$l]:-0}")
    sleep 0.5
  done
  echo "$line"
fi
stop_pid "$PEER_PID" TERM 5; PEER_PID=""
stop_server mock

# ---------------------------------------------------------------- 2 + 3. through the fake Gemini
echo
echo "== 2. TellJoke through fake Gemini (${UPSTREAM_DELAY_MS} ms per call), $UPSTREAM_CONC calls outstanding, ${DURATION}s"
start_fake fast --delay-ms "$UPSTREAM_DELAY_MS" --chunk-delay-ms "$CHUNK_DELAY_MS" --stamp-chunks
FAST=${FAKE_PORT_OF[fast]}
start_server upstream GEMINI_API_KEY=x GEMINI_BASE_URL="http://127.0.0.1:$FAST"
UP_TARGET="127.0.0.1:${GPORT_OF[upstream]}"
# one call first: the daemon's upstream connection and code paths warm
load "$TMP/up-warm.txt" --target "$UP_TARGET" --rpc joke --count 16 --concurrency 16 --channels 1 --threads 1 --duration 10
c0=$(cpu_ticks "${GRPCD_OF[upstream]}")
load "$TMP/up.txt" --target "$UP_TARGET" --rpc joke --concurrency $UPSTREAM_CONC --channels 4 --threads 1 \
  --warmup $WARMUP_SECS --duration "$DURATION"
c1=$(cpu_ticks "${GRPCD_OF[upstream]}")
UP_RPS=$L_RPS UP_P50=$L_P50 UP_P99=$L_P99 UP_ERR=$L_ERR UP_CODES=$L_CODES
UP_CPU_US=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v r="$L_RPS" -v s="$DURATION" -v w=$WARMUP_SECS \
            'BEGIN { n = r * (s + w); if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')
echo "   $(cat "$TMP/up.txt")"
echo "   grpcd CPU per call: ${UP_CPU_US} us"

echo
echo "== 3. TellStory: $STREAMS concurrent streams for ${DURATION}s (fake: SSE event every ${CHUNK_DELAY_MS} ms, stamped);"
echo "      first message's arrival - the fake's stamp of the chunk it carries"
load "$TMP/story-warm.txt" --target "$UP_TARGET" --rpc story --count $STREAMS --concurrency $STREAMS --channels 4 --threads 1 --duration 10
load "$TMP/story.txt" --target "$UP_TARGET" --rpc story --concurrency $STREAMS --channels 4 --threads 1 \
  --warmup $WARMUP_SECS --duration "$DURATION"
echo "   $(cat "$TMP/story.txt")"
ST_STREAMS=$L_CALLS ST_ERR=$L_ERR ST_CODES=$L_CODES
ST_MSGS=$(field msgs "$TMP/story.txt") ST_STAMPED=$(field stamped "$TMP/story.txt")
ST_P50=$(field transit_p50_ms "$TMP/story.txt") ST_P99=$(field transit_p99_ms "$TMP/story.txt")
ST_FIRST_P50=$(field first_p50_ms "$TMP/story.txt")
# The floor the machine sets: 64 streams read from the fake directly (HTTP/1.1 SSE).
"$PROBE_BIN" 127.0.0.1 "$FAST" "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" \
  '{"contents":[{"role":"user","parts":[{"text":"Write a short story about a cat"}]}]}' $STREAMS "x-goog-api-key: x" \
  >"$TMP/direct.json" 2>"$TMP/direct.err" || die "stream_probe against the fake failed: $(cat "$TMP/direct.err")"
DIRECT_P50=$("$PY" -c 'import json, statistics, sys
s = [st["transit"][0] for st in json.load(open(sys.argv[1]))["streams"] if st["transit"]]
print(f"{statistics.median(s):.3f}" if s else "n/a")' "$TMP/direct.json")
stop_server upstream
stop_fake fast

# ---------------------------------------------------------------- 4. memory
echo
echo "== 4. grpcd VmRSS: idle, then with $INFLIGHT TellJoke calls in flight (fake holds each ${SLOW_DELAY_MS} ms)"
start_fake slow --delay-ms "$SLOW_DELAY_MS"
SLOW=${FAKE_PORT_OF[slow]}
start_server memory GEMINI_API_KEY=x GEMINI_BASE_URL="http://127.0.0.1:$SLOW"
GRPCD=${GRPCD_OF[memory]}
RSS_START=$(rss_kb "$GRPCD")  # after one Health call (the readiness check)
# Warm-up: one TellJoke answered at once (the fake's next reply scripted without delay).
curl -s -m 5 -X POST "http://127.0.0.1:$SLOW/_script" -d '[{"delay_ms":0},{"delay_ms":0}]' >/dev/null ||
  die "fake_llm: POST /_script failed"
load "$TMP/mem-warm.txt" --target "127.0.0.1:${GPORT_OF[memory]}" --rpc joke --count 2 --concurrency 1 --channels 1 \
  --threads 1 --duration 10
[[ $(field ok "$TMP/mem-warm.txt") == 2 ]] || die "warm-up TellJoke calls failed: $(cat "$TMP/mem-warm.txt")"
sleep 1
IDLE_RSS=$(rss_kb "$GRPCD") IDLE_ANON=$(anon_kb "$GRPCD") IDLE_FDS=$(fds "$GRPCD") IDLE_PARTS=$(rss_parts "$GRPCD")
HOLD_SECS=$(( SLOW_DELAY_MS / 1000 + 2 ))
"$LOAD_BIN" --target "127.0.0.1:${GPORT_OF[memory]}" --rpc joke --count "$INFLIGHT" --concurrency "$INFLIGHT" \
  --channels 8 --threads 1 --duration "$((HOLD_SECS + 20))" --timeout-ms "$(( (HOLD_SECS + 15) * 1000 ))" \
  >"$TMP/mem.txt" 2>"$TMP/mem.err" &
MEM_LOAD=$!
# Sample while the calls wait on the fake (each holds an upstream socket in grpcd).
PEAK_RSS=0 PEAK_ANON=0 PEAK_FDS=0
for ((s = 0; s < (SLOW_DELAY_MS / 1000 - 1) * 4; s++)); do
  sleep 0.25
  kill -0 "$MEM_LOAD" 2>/dev/null || break
  rss=$(rss_kb "$GRPCD") anon=$(anon_kb "$GRPCD") f=$(fds "$GRPCD")
  [[ -z $rss ]] && break
  ((f > PEAK_FDS)) && PEAK_FDS=$f
  ((rss > PEAK_RSS)) && PEAK_RSS=$rss
  ((anon > PEAK_ANON)) && PEAK_ANON=$anon
done
timeout "$((HOLD_SECS + 40))" tail --pid="$MEM_LOAD" -f /dev/null
wait "$MEM_LOAD" || die "grpc_load (in-flight calls) failed: $(cat "$TMP/mem.err" "$TMP/mem.txt")"
echo "   $(cat "$TMP/mem.txt")"
MEM_OK=$(field ok "$TMP/mem.txt") MEM_CODES=$(field codes "$TMP/mem.txt")
sleep 1
AFTER_RSS=$(rss_kb "$GRPCD") AFTER_PARTS=$(rss_parts "$GRPCD")
UPSTREAM_SOCKETS=$(( PEAK_FDS - IDLE_FDS ))
KB_PER_CALL=$(awk -v p="$PEAK_RSS" -v i="$IDLE_RSS" -v n="$INFLIGHT" 'BEGIN { printf "%.1f", (p - i) / n }')
ANON_PER_CALL=$(awk -v p="$PEAK_ANON" -v i="$IDLE_ANON" -v n="$INFLIGHT" 'BEGIN { printf "%.1f", (p - i) / n }')
echo "   VmRSS idle $IDLE_RSS kB ($IDLE_PARTS; right after start-up $RSS_START kB)"
echo "   VmRSS peak $PEAK_RSS kB (anon $PEAK_ANON kB), after the calls ended $AFTER_RSS kB ($AFTER_PARTS)"
echo "   descriptors: $IDLE_FDS idle, $PEAK_FDS at the peak (an upstream socket per call in flight)"
stop_server memory
stop_fake slow

# ---------------------------------------------------------------- summary
echo
echo "==================== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg), nproc $(nproc))"
row() { printf '%-34s %12s   %-50s %-14s %s\n' "$@"; }
num() { [[ $1 == n/a || -z $1 ]] && { echo n/a; return; }; printf '%.0f' "$1"; }
errs() { local e=0 l; for l in "$@"; do e=$((e + BAD_OF[$l])); done; echo "$e"; }
codes_of() { local c="" l; for l in "$@"; do c+="${CODES_OF[$l]}"; done; echo "${c:- -}" | sed 's/^ //'; }
row "1. Health req/s, grpcd" "$(num "${MED_RPS[g-health]}")" "peer $(num "${MED_RPS[p-health]}"), ratio $HEALTH_RATIO" \
  "(>= ${TARGET_RATIO}x)" "$(verdict "$HEALTH_RATIO" ">=" "$TARGET_RATIO")"
row "   TellJoke req/s, grpcd" "$(num "${MED_RPS[g-joke]}")" "peer $(num "${MED_RPS[p-joke]}"), ratio $JOKE_RATIO" \
  "(>= ${TARGET_RATIO}x)" "$(verdict "$JOKE_RATIO" ">=" "$TARGET_RATIO")"
row "   h2load cross-check, ratios H / J" "$(ratio "${H2_RPS[g-health]:-0}" "${H2_RPS[p-health]:-0}") / $(ratio "${H2_RPS[g-joke]:-0}" "${H2_RPS[p-joke]:-0}")" \
  "grpcd $(num "${H2_RPS[g-health]:-n/a}") / $(num "${H2_RPS[g-joke]:-n/a}"), peer $(num "${H2_RPS[p-health]:-n/a}") / $(num "${H2_RPS[p-joke]:-n/a}") req/s" "(info)" ""
row "   p99 ms Health / TellJoke" "${MED_P99[g-health]} / ${MED_P99[g-joke]}" \
  "peer ${MED_P99[p-health]} / ${MED_P99[p-joke]}" "(info)" ""
row "   server CPU us/call H / J" "${MED_CPU[g-health]} / ${MED_CPU[g-joke]}" \
  "peer ${MED_CPU[p-health]} / ${MED_CPU[p-joke]} (/proc ticks)" "(info)" ""
row "   client CPU us/call H / J" "$(median <<<"${CLIENT_CPU[g-health]}") / $(median <<<"${CLIENT_CPU[g-joke]}")" \
  "the load client's own, against grpcd (it shares the CPUs)" "(info)" ""
row "   errors grpcd / peer" "$(errs g-health g-joke) / $(errs p-health p-joke)" \
  "codes: $(codes_of g-health g-joke) / $(codes_of p-health p-joke)" "(0)" \
  "$(verdict "$(( $(errs g-health g-joke) + $(errs p-health p-joke) ))" "==" 0)"
row "2. TellJoke req/s @$UPSTREAM_CONC, fake ${UPSTREAM_DELAY_MS}ms" "$(num "$UP_RPS")" \
  "95% of $((UPSTREAM_CONC * 1000 / UPSTREAM_DELAY_MS)) (grpcd CPU ${UP_CPU_US} us/call)" "(>= $TARGET_UPSTREAM_RPS)" \
  "$(verdict "$UP_RPS" ">=" "$TARGET_UPSTREAM_RPS")"
row "   p99 latency ms" "$UP_P99" "p50 $UP_P50 ms" "(<= $TARGET_UPSTREAM_P99_MS)" \
  "$(verdict "$UP_P99" "<=" "$TARGET_UPSTREAM_P99_MS")"
row "   errors" "$UP_ERR" "codes: $UP_CODES" "(0)" "$(verdict "$UP_ERR" "==" 0)"
row "3. TellStory first msg - stamp, p50" "${ST_P50:-n/a} ms" "p99 ${ST_P99:-n/a} ms; $ST_STREAMS streams, ${ST_STAMPED:-0} stamped" \
  "(<= $TARGET_FIRST_P50_MS ms)" "$(verdict "${ST_P50:-n/a}" "<=" "$TARGET_FIRST_P50_MS")"
row "   the fake read directly, p50" "$DIRECT_P50 ms" "stream_probe, HTTP/1.1 SSE: the machine's floor" "(info)" ""
row "   first msg after call start, p50" "$ST_FIRST_P50 ms" "fake's delay ${UPSTREAM_DELAY_MS} ms; $ST_MSGS messages" "(info)" ""
row "   errors" "$ST_ERR" "codes: $ST_CODES" "(0)" "$(verdict "$ST_ERR" "==" 0)"
row "4. grpcd idle VmRSS" "$IDLE_RSS kB" "$IDLE_PARTS" \
  "(<= $TARGET_IDLE_RSS_KB kB)" "$(verdict "$IDLE_RSS" "<=" "$TARGET_IDLE_RSS_KB")"
row "   VmRSS per in-flight call" "$KB_PER_CALL kB" "RssAnon $ANON_PER_CALL kB; $INFLIGHT calls, +$UPSTREAM_SOCKETS fds" \
  "(<= $TARGET_KB_PER_CALL kB)" "$(verdict "$KB_PER_CALL" "<=" "$TARGET_KB_PER_CALL")"
row "   in-flight calls answered OK" "$MEM_OK" "of $INFLIGHT; codes: $MEM_CODES" "($INFLIGHT)" \
  "$(verdict "$MEM_OK" "==" "$INFLIGHT")"
row "   grpcd VmRSS after section 1" "${GRPCD_RSS_AFTER_CMP:-n/a} kB" "after ~$(( ROUNDS * 2 * (ROUND_SECS + WARMUP_SECS) ))s of unary load" "(info)" ""
echo "ratios are measured side by side on one machine; compare them, not the absolute req/s."
exit 0

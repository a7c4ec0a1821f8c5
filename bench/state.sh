#!/usr/bin/env bash
# What the shared-memory state costs, side by side in one run: response-cache
# hits against GET /health, the rate limiter on (at a limit nobody reaches)
# against off, many processes on one token bucket (a C++ tool on a real
# segment, then the server at 8 workers against 2), and 256 identical
# concurrent misses against a fake Gemini (one model call; how late the
# waiters get the result). It PRINTS figures beside their targets and asserts
# nothing: it exits 0 when a target is missed, and non-zero only when a tool,
# the build or a server is unusable.
#
#   bash bench/state.sh                     # full run (~3 min after the build)
#   BENCH_DURATION=2 bash bench/state.sh    # smoke run
#
# Everything stays on 127.0.0.1; every load is bounded by wrk's -d, a tool's
# own deadline or a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BENCH_BUILD:-$BENCH_DIR/.build}

DURATION=${BENCH_DURATION:-10}
if ! [[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "state.sh: BENCH_DURATION must be a whole number of seconds (1..9999), got '$DURATION'" >&2
  exit 2
fi
ROUNDS=5                                      # alternating wrk rounds per comparison
ROUND_SECS=$(( DURATION / 3 > 0 ? DURATION / 3 : 1 ))
TOOL_RUNS=3                                   # contention tool runs per process count
TOOL_SECS=$(( DURATION / 4 > 0 ? DURATION / 4 : 1 ))
CONNECTIONS=64
WORKERS=2
HUGE_LIMIT=1000000000/second                  # the largest RATE_LIMIT_DEFAULT accepts
MISSES=256                                    # identical concurrent requests per round
MISS_ROUNDS=5
FAKE_DELAY_MS=200
START_TIMEOUT=15

TARGET_HIT_RATIO=0.80
TARGET_LIMITER_RATIO=0.95
TARGET_HOLD_P99_NS=5000
TARGET_CONTENTION_RATIO=0.50
TARGET_WAITER_LAG_P99_MS=2

log() { printf '[state] %s\n' "$*" >&2; }
die() { printf '[state] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools, build
bash "$ROOT/packaging/install-deps.sh" --bench >&2 || die "packaging/install-deps.sh --bench failed"
for t in wrk curl cmake ninja; do command -v "$t" >/dev/null || die "$t is missing after install-deps.sh"; done

log "building (Release) in $BUILD (log: $BUILD/bench-build.log)"
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=ON \
  >"$BUILD/bench-configure.log" 2>&1 || { tail -n 30 "$BUILD/bench-configure.log" >&2; die "cmake configure failed"; }
cmake --build "$BUILD" --target genkit-endpoints fake_llm rate_limit_contention coalesce_probe \
  >"$BUILD/bench-build.log" 2>&1 || { grep -m 5 -E 'error|Error' "$BUILD/bench-build.log" >&2; die "the build failed"; }
BIN=$BUILD/supervisor/genkit-endpoints
FAKE_BIN=$BUILD/tests/fake_llm
CONTENTION_BIN=$BUILD/bench/rate_limit_contention
PROBE_BIN=$BUILD/bench/coalesce_probe
ulimit -n "$(ulimit -Hn)"  # 256 concurrent connections, 8 workers, the fake

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-state.XXXXXX") || die "mktemp failed"
declare -A PORT_OF PID_OF
FAKE_PID=""

stop_server() {  # stop_server NAME: the supervisor, then any worker it left behind
  local pid=${PID_OF[$1]:-}
  [[ -z $pid ]] && return 0
  stop_tree "$pid" TERM 12
  unset "PID_OF[$1]"
}

cleanup() {
  local name
  for name in "${!PID_OF[@]}"; do stop_server "$name"; done
  [[ -n $FAKE_PID ]] && stop_pid "$FAKE_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
# start_server NAME WORKERS [VAR=VALUE...]: a clean environment (no .env: cwd
# is the temp dir), warning-level logs (no access log line), and no worker
# recycling, so a replacement worker never lands in one side of a comparison.
start_server() {
  local name=$1 workers=$2 port; shift 2
  port=$(free_port) || die "no free port for $name"
  (cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_LEVEL=warning MAX_REQUESTS=0 \
    "$@" "$BIN" --port "$port" --workers "$workers" --no-grpc) >"$TMP/server-$name.log" 2>&1 &
  PID_OF[$name]=$!
  PORT_OF[$name]=$port
  if ! wait_ready "${PID_OF[$name]}" "http://127.0.0.1:$port/health"; then
    tail -n 20 "$TMP/server-$name.log" >&2
    die "server $name did not answer GET /health on 127.0.0.1:$port within ${START_TIMEOUT}s"
  fi
}

post() {  # post NAME PATH BODY → the whole response (status line, headers, body)
  curl -s -i -m 10 -X POST -H 'Content-Type: application/json' --data "$3" "http://127.0.0.1:${PORT_OF[$1]}$2" 2>/dev/null
}

metric() {  # metric NAME FAMILY → the summed value from GET /metrics
  curl -s -m 5 "http://127.0.0.1:${PORT_OF[$1]}/metrics" | awk -v f="$2" '$1 == f { print $2; exit }'
}

write_lua() {  # write_lua FILE BODY : a POST with a fixed JSON body
  printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "'$2'" >"$1"
}

# run_wrk OUT URL LUA SECS : sets W_RPS and W_BAD (non-2xx/3xx + socket errors)
run_wrk() {
  local out=$1 url=$2 lua=$3 secs=$4
  local args=(-t1 -c"$CONNECTIONS" -d"${secs}s")
  [[ $lua != - ]] && args+=(-s "$lua")
  timeout $((secs + 30)) wrk "${args[@]}" "$url" >"$out" 2>&1 || die "wrk failed on $url (see below)"$'\n'"$(cat "$out")"
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  W_BAD=$(awk '/Non-2xx or 3xx/ { n += $NF }
               /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
               END { print n + 0 }' "$out")
  [[ -n $W_RPS ]] || die "wrk printed no Requests/sec for $url"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
percentile() {  # percentile P < values : nearest rank
  sort -g | awk -v p="$1" '{ a[NR] = $1 } END {
    if (NR == 0) { print "n/a"; exit } r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print a[r] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
verdict() {  # verdict VALUE OP TARGET → PASS / MISS
  awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    ok = a != "n/a" && ((op == ">=" && a + 0 >= b + 0) || (op == "<=" && a + 0 <= b + 0) || (op == "==" && a + 0 == b + 0))
    print ok ? "PASS" : "MISS" }'
}

# rounds TAG LABEL... : ROUNDS rounds of one wrk load per LABEL (URL_OF, LUA_OF),
# the order rotated each round (A B, B A, A B, ...) so a drift of the machine
# weighs on every side alike. Sets MEDIAN_OF[LABEL] and BAD_OF[LABEL].
declare -A URL_OF LUA_OF MEDIAN_OF BAD_OF
rounds() {
  local tag=$1 r i n label line; shift
  local labels=("$@")
  n=${#labels[@]}
  declare -A seen=()
  for label in "${labels[@]}"; do seen[$label]=""; BAD_OF[$label]=0; done
  for ((r = 0; r < ROUNDS; r++)); do
    line="   round $((r + 1)):"
    for ((i = 0; i < n; i++)); do
      label=${labels[$(( (i + r) % n ))]}
      run_wrk "$TMP/wrk-$tag-$label-$r.txt" "${URL_OF[$label]}" "${LUA_OF[$label]}" "$ROUND_SECS"
      seen[$label]+=" $W_RPS"
      BAD_OF[$label]=$(( BAD_OF[$label] + W_BAD ))
      line+=$(printf '  %s %.0f' "$label" "$W_RPS")
      sleep 0.5
    done
    echo "$line"
  done
  for label in "${labels[@]}"; do MEDIAN_OF[$label]=$(median <<<"${seen[$label]}"); done
}

# ---------------------------------------------------------------- header
echo "genkit-endpoints shared-state benchmark -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : nproc $(nproc), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk      : $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), -t1 -c$CONNECTIONS, $ROUNDS alternating rounds of ${ROUND_SECS}s per side, medians compared"
echo "genkit   : $BIN (Release)"
echo "           --workers $WORKERS unless said, --no-grpc, BIND_HOST=127.0.0.1 LOG_LEVEL=warning MAX_REQUESTS=0,"
echo "           otherwise defaults (clean environment, cwd a temp dir)"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "NOTE     : the machine is busy before the run (load $LOAD1 on $(nproc) CPUs): figures are noisy"
fi

# ---------------------------------------------------------------- 1. cache hits vs /health
echo
echo "== 1. POST /translate, every request a cache hit, vs GET /health (mock/echo, rate limiter off)"
start_server cache "$WORKERS" MODEL=mock/echo RATE_LIMIT_ENABLED=false
TRANSLATE_BODY='{"text":"The northern lights danced over the fjord.","target_language":"French"}'
write_lua "$TMP/translate.lua" "$TRANSLATE_BODY"
FIRST=$(post cache /translate "$TRANSLATE_BODY" | head -n1)  # the one miss: fills the cache
[[ $FIRST == *" 200"* ]] || die "POST /translate answered '$FIRST'"
URL_OF[hit]="http://127.0.0.1:${PORT_OF[cache]}/translate" LUA_OF[hit]=$TMP/translate.lua
URL_OF[health]="http://127.0.0.1:${PORT_OF[cache]}/health" LUA_OF[health]=-
rounds cache hit health
HIT_RPS=${MEDIAN_OF[hit]} HEALTH_RPS=${MEDIAN_OF[health]} HIT_BAD=${BAD_OF[hit]}
HIT_RATIO=$(ratio "$HIT_RPS" "$HEALTH_RPS")
CACHE_HITS=$(metric cache genkit_endpoints_cache_hits_total)
CACHE_MISSES=$(metric cache genkit_endpoints_cache_misses_total)
echo "   /metrics: cache hits ${CACHE_HITS:-?}, misses ${CACHE_MISSES:-?} (the one miss is the first request)"
stop_server cache

# ---------------------------------------------------------------- 2. limiter on vs off
echo
echo "== 2. POST /tell-joke with the rate limiter on (RATE_LIMIT_DEFAULT=$HUGE_LIMIT, never reached) vs off"
write_lua "$TMP/joke.lua" '{"name":"bench"}'
start_server off2 "$WORKERS" MODEL=mock/echo RATE_LIMIT_ENABLED=false
start_server on2 "$WORKERS" MODEL=mock/echo RATE_LIMIT_DEFAULT="$HUGE_LIMIT"
start_server on8 8 MODEL=mock/echo RATE_LIMIT_DEFAULT="$HUGE_LIMIT"
start_server off8 8 MODEL=mock/echo RATE_LIMIT_ENABLED=false
for name in off2 on2 on8 off8; do
  URL_OF[$name]="http://127.0.0.1:${PORT_OF[$name]}/tell-joke" LUA_OF[$name]=$TMP/joke.lua
  reply=$(post "$name" /tell-joke '{"name":"bench"}')
  [[ $(head -n1 <<<"$reply") == *" 200"* ]] || die "server $name: POST /tell-joke answered '$(head -n1 <<<"$reply")'"
done
rounds limiter off2 on2
OFF_RPS=${MEDIAN_OF[off2]} ON_RPS=${MEDIAN_OF[on2]}
LIMITER_RATIO=$(ratio "$ON_RPS" "$OFF_RPS")
LIMITER_BAD=$(( BAD_OF[off2] + BAD_OF[on2] ))

# ---------------------------------------------------------------- 3. one bucket, many processes
echo
echo "== 3a. rate_limit_contention: P processes on ONE token bucket of a real segment, ${TOOL_SECS}s per run"
declare -A TOOL_RUNS_OF=([8]="" [2]="")
for ((r = 0; r < TOOL_RUNS; r++)); do
  for p in 8 2; do
    out=$("$CONTENTION_BIN" "$p" "$TOOL_SECS") || die "rate_limit_contention $p $TOOL_SECS failed"
    echo "   $out"
    TOOL_RUNS_OF[$p]+="$out"$'\n'
  done
done
tool_field() {  # tool_field P FIELD → the median over the runs of P
  grep -o "$2=[0-9.]*" <<<"${TOOL_RUNS_OF[$1]}" | cut -d= -f2 | tr '\n' ' ' | median
}
for p in 8 2; do
  declare "TAKES_$p=$(tool_field "$p" takes_per_s)" "P50_$p=$(tool_field "$p" hold_p50_ns)" \
          "P99_$p=$(tool_field "$p" hold_p99_ns)" "MAX_$p=$(tool_field "$p" hold_max_ns)" \
          "REFUSED_$p=$(tool_field "$p" refused)"
done
CONTENTION_RATIO=$(ratio "$TAKES_8" "$TAKES_2")

echo
echo "== 3b. POST /tell-joke from one IP (one bucket), limiter on, --workers 8 vs --workers 2; the limiter off beside"
rounds workers on2 on8 off2 off8
WORKERS_RATIO=$(ratio "${MEDIAN_OF[on8]}" "${MEDIAN_OF[on2]}")
WORKERS_OFF_RATIO=$(ratio "${MEDIAN_OF[off8]}" "${MEDIAN_OF[off2]}")
WORKERS_BAD=$(( BAD_OF[on8] + BAD_OF[off8] ))
for name in off2 on2 on8 off8; do stop_server "$name"; done

# ---------------------------------------------------------------- 4. identical concurrent misses
echo
echo "== 4. $MISSES identical concurrent POST /generate-character (a new name per round), fake Gemini at ${FAKE_DELAY_MS} ms"
"$FAKE_BIN" --port 0 --record --delay-ms "$FAKE_DELAY_MS" >"$TMP/fake.out" 2>"$TMP/fake.err" &
FAKE_PID=$!
for _ in $(seq 100); do grep -q port "$TMP/fake.out" 2>/dev/null && break; sleep 0.1; done
FAKE_PORT=$(grep -o '[0-9]\+' "$TMP/fake.out" | head -n1)
[[ -n $FAKE_PORT ]] || { cat "$TMP/fake.err" >&2; die "fake_llm did not start"; }
FAKE_URL="http://127.0.0.1:$FAKE_PORT"
start_server coalesce "$WORKERS" RATE_LIMIT_ENABLED=false GEMINI_API_KEY=x GEMINI_BASE_URL="$FAKE_URL"

model_calls() { curl -s -m 5 "$FAKE_URL/_requests" | grep -o '"path":"[^"]*generateContent' | grep -c . || true; }

# A warm-up round (not counted): opens the upstream connection and runs the
# workers' structured-output path once.
"$PROBE_BIN" 127.0.0.1 "${PORT_OF[coalesce]}" /generate-character "{\"name\":\"warmup-$$\"}" "$MISSES" \
  >"$TMP/probe-warmup.txt" 2>&1
grep -q '^sent=' "$TMP/probe-warmup.txt" || { cat "$TMP/probe-warmup.txt" >&2; die "coalesce_probe failed"; }
: >"$TMP/lags.txt"
MISS_CALLS="" MISS_OK=1
MISSES_BEFORE=$(metric coalesce genkit_endpoints_cache_misses_total)
COALESCED_BEFORE=$(metric coalesce genkit_endpoints_cache_coalesced_total)
for ((r = 1; r <= MISS_ROUNDS; r++)); do
  curl -s -m 5 -X DELETE "$FAKE_URL/_requests" >/dev/null || die "fake_llm: DELETE /_requests failed"
  "$PROBE_BIN" 127.0.0.1 "${PORT_OF[coalesce]}" /generate-character "{\"name\":\"bench-$$-round-$r\"}" "$MISSES" \
    >"$TMP/probe-$r.txt" 2>&1
  summary=$(grep '^sent=' "$TMP/probe-$r.txt") || { cat "$TMP/probe-$r.txt" >&2; die "coalesce_probe failed"; }
  awk '$1 == "lag_ms" { print $2, $3 }' "$TMP/probe-$r.txt" >>"$TMP/lags.txt"
  calls=$(model_calls)
  MISS_CALLS+=" $calls"
  spread=$(awk '$1 == "lag_ms" { print $2 }' "$TMP/probe-$r.txt" | percentile 100)
  seen_spread=$(awk '$1 == "lag_ms" { print $3 }' "$TMP/probe-$r.txt" | percentile 100)
  echo "   round $r: model calls $calls, $summary"
  echo "            lag max ${spread} ms (as the probe woke for them: ${seen_spread} ms)"
  [[ $summary == *"complete=$MISSES status_200=$MISSES "*"distinct_bodies=1"* ]] || MISS_OK=0
done
MISSES_AFTER=$(metric coalesce genkit_endpoints_cache_misses_total)
COALESCED_AFTER=$(metric coalesce genkit_endpoints_cache_coalesced_total)
echo "   /metrics over the rounds: misses $((${MISSES_AFTER:-0} - ${MISSES_BEFORE:-0})), coalesced" \
  "$((${COALESCED_AFTER:-0} - ${COALESCED_BEFORE:-0})) (one miss per round: the leader)"
lag_column() { awk -v c="$1" '{ print $c }' "$TMP/lags.txt"; }
LAG_P50=$(lag_column 1 | percentile 50)
LAG_P99=$(lag_column 1 | percentile 99)
LAG_MAX=$(lag_column 1 | percentile 100)
SEEN_P99=$(lag_column 2 | percentile 99)
LAG_N=$(grep -c . "$TMP/lags.txt")
CALLS_VERDICT=PASS
for c in $MISS_CALLS; do [[ $c == 1 ]] || CALLS_VERDICT=MISS; done
stop_server coalesce

# ---------------------------------------------------------------- summary
echo
echo "==================== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg), nproc $(nproc))"
row() { printf '%-32s %12s   %-48s %-16s %s\n' "$@"; }
num() { printf '%.0f' "$1"; }
row "1. translate cache hit req/s" "$(num "$HIT_RPS")" "health $(num "$HEALTH_RPS"), ratio $HIT_RATIO" \
  "(>= $TARGET_HIT_RATIO)" "$(verdict "$HIT_RATIO" ">=" "$TARGET_HIT_RATIO")"
row "   errors (non-2xx + socket)" "$HIT_BAD" "translate, over the rounds" "(0)" "$(verdict "$HIT_BAD" "==" 0)"
row "2. tell-joke limiter on req/s" "$(num "$ON_RPS")" "off $(num "$OFF_RPS"), ratio $LIMITER_RATIO" \
  "(>= $TARGET_LIMITER_RATIO)" "$(verdict "$LIMITER_RATIO" ">=" "$TARGET_LIMITER_RATIO")"
row "   errors (non-2xx + socket)" "$LIMITER_BAD" "both servers, over the rounds" "(0)" "$(verdict "$LIMITER_BAD" "==" 0)"
row "3a. lock hold p99, 8 processes" "$P99_8 ns" "p50 $P50_8 ns, max $MAX_8 ns" \
  "(<= $TARGET_HOLD_P99_NS ns)" "$(verdict "$P99_8" "<=" "$TARGET_HOLD_P99_NS")"
row "    lock hold p99, 2 processes" "$P99_2 ns" "p50 $P50_2 ns, max $MAX_2 ns" \
  "(<= $TARGET_HOLD_P99_NS ns)" "$(verdict "$P99_2" "<=" "$TARGET_HOLD_P99_NS")"
row "    takes/s, 8 vs 2 processes" "$(num "$TAKES_8")" "2 processes $(num "$TAKES_2"), ratio $CONTENTION_RATIO" \
  "(>= $TARGET_CONTENTION_RATIO)" "$(verdict "$CONTENTION_RATIO" ">=" "$TARGET_CONTENTION_RATIO")"
row "    takes refused" "$((REFUSED_8 + REFUSED_2))" "(the limit is never reached)" "(0)" ""
row "3b. tell-joke req/s, 8 workers" "$(num "${MEDIAN_OF[on8]}")" "2 workers $(num "${MEDIAN_OF[on2]}"), ratio $WORKERS_RATIO" \
  "(>= $TARGET_CONTENTION_RATIO)" "$(verdict "$WORKERS_RATIO" ">=" "$TARGET_CONTENTION_RATIO")"
row "    the same, limiter off" "$(num "${MEDIAN_OF[off8]}")" "2 workers $(num "${MEDIAN_OF[off2]}"), ratio $WORKERS_OFF_RATIO" \
  "(info)" ""
row "    errors (non-2xx + socket)" "$WORKERS_BAD" "8-worker servers, over the rounds" "(0)" "$(verdict "$WORKERS_BAD" "==" 0)"
row "4. model calls per round" "${MISS_CALLS# }" "$MISS_ROUNDS rounds of $MISSES identical misses" "(1 each)" "$CALLS_VERDICT"
row "   waiter lag p99" "$LAG_P99 ms" "p50 $LAG_P50 ms, max $LAG_MAX ms ($LAG_N replies)" \
  "(<= $TARGET_WAITER_LAG_P99_MS ms)" "$(verdict "$LAG_P99" "<=" "$TARGET_WAITER_LAG_P99_MS")"
row "   the same, as the probe woke" "$SEEN_P99 ms" "p99 by epoll_wait's return, not the kernel stamp" "(info)" ""
row "   all 200, identical bodies" "$([[ $MISS_OK == 1 ]] && echo yes || echo no)" "every round" "(yes)" \
  "$([[ $MISS_OK == 1 ]] && echo PASS || echo MISS)"
echo "ratios are measured side by side on one machine; compare them, not the absolute req/s."
exit 0

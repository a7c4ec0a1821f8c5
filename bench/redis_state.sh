#!/usr/bin/env bash
# What the Redis state backend (STATE_BACKEND=redis) costs against shared
# memory (STATE_BACKEND=shm), side by side in one run, 2 workers each, one
# private redis-server on loopback:
#   1. POST /tell-joke with the rate limiter on at a rate nobody reaches: one
#      Lua script (EVALSHA) per request in Redis against the segment's bucket;
#      target redis >= 0.7x shm;
#   2. POST /translate, every request a hit of the first level (the local
#      shared-memory cache): target redis >= 0.9x shm;
#   3. POST /translate cycling over BENCH_BODIES distinct bodies, all in Redis
#      beforehand, on a server whose first level holds one entry
#      (CACHE_MAX_SIZE=1), so nearly every request misses the first level and
#      is answered by Redis; against shared-memory hits of the same bodies;
#      target redis >= 0.5x shm, and the fraction actually served from Redis
#      (genkit_endpoints_redis_cache_hits_total / requests) printed beside it.
# Beside each: Redis round trips per request (the server's
# genkit_endpoints_redis_commands_total / requests), Redis's and the server's
# CPU per request, and the fallbacks, failures and 429s seen (each should be 0).
# It PRINTS figures beside their targets and asserts nothing: it exits 0 when
# a target is missed, non-zero only when a tool, the build or a server is
# unusable.
#
#   bash bench/redis_state.sh                    # ~1m45 after the build (build-redisbench/)
#   bash bench/redis_state.sh build-release      # another build directory (built there)
#   BENCH_DURATION=2 BENCH_ROUNDS=1 bash bench/redis_state.sh   # smoke run (~30 s)
#   GENKIT_BIN=/path/to/genkit-endpoints bash bench/redis_state.sh  # no build
#
# Everything stays on 127.0.0.1; every load is bounded by wrk's -d and a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${1:-${BENCH_BUILD:-$ROOT/build-redisbench}}

DURATION=${BENCH_DURATION:-4}                   # seconds of each wrk run
ROUNDS=${BENCH_ROUNDS:-3}                       # alternating rounds per comparison
BODIES=${BENCH_BODIES:-512}                     # distinct translate bodies of case 3
for v in "BENCH_DURATION=$DURATION" "BENCH_ROUNDS=$ROUNDS" "BENCH_BODIES=$BODIES"; do
  if ! [[ ${v#*=} =~ ^[1-9][0-9]{0,3}$ ]]; then
    echo "redis_state.sh: ${v%%=*} must be a whole number (1..9999), got '${v#*=}'" >&2
    exit 2
  fi
done
((BODIES <= 1024)) || { echo "redis_state.sh: BENCH_BODIES must be at most 1024 (the shm side's CACHE_MAX_SIZE)" >&2; exit 2; }
CONNECTIONS=64
WORKERS=2
WARMUP_SECS=1                                   # one uncounted wrk run per load before the rounds
HUGE_LIMIT=1000000000/second                    # the largest RATE_LIMIT_DEFAULT accepts, never reached
COLD_CACHE_SIZE=1                               # case 3: the Redis side's first level
START_TIMEOUT=15

TARGET_LIMITER_RATIO=0.70
TARGET_WARM_RATIO=0.90
TARGET_COLD_RATIO=0.50

log() { printf '[redis-state] %s\n' "$*" >&2; }
die() { printf '[redis-state] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools, build
bash "$ROOT/packaging/install-deps.sh" --bench >&2 || die "packaging/install-deps.sh --bench failed"
for t in wrk curl redis-server redis-cli; do command -v "$t" >/dev/null || die "$t is missing after install-deps.sh"; done

if [[ -n ${GENKIT_BIN:-} ]]; then
  [[ -x $GENKIT_BIN ]] || die "GENKIT_BIN=$GENKIT_BIN is not an executable file"
  BIN=$GENKIT_BIN BIN_NOTE="GENKIT_BIN"
else
  [[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
  log "building genkit-endpoints in $BUILD (log: $BUILD/redisbench-build.log)"
  mkdir -p "$BUILD"
  args=(-S "$ROOT" -B "$BUILD")
  [[ -f $BUILD/CMakeCache.txt ]] || args+=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF)
  cmake "${args[@]}" >"$BUILD/redisbench-configure.log" 2>&1 ||
    { tail -n 30 "$BUILD/redisbench-configure.log" >&2; die "cmake configure failed"; }
  cmake --build "$BUILD" -j "$(nproc)" --target genkit-endpoints >"$BUILD/redisbench-build.log" 2>&1 ||
    { grep -m 8 -E 'error|Error' "$BUILD/redisbench-build.log" >&2; die "the build failed; no figures"; }
  BIN=$BUILD/supervisor/genkit-endpoints
  BIN_NOTE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt"), $BUILD"
fi
[[ $("$BIN" --help 2>/dev/null) == *STATE_BACKEND* ]] || die "$BIN has no STATE_BACKEND setting (built before the Redis backend?)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-redis-state.XXXXXX") || die "mktemp failed"
declare -A PORT_OF PID_OF
REDIS_PID="" REDIS_PORT=""

stop_server() {  # stop_server NAME: the supervisor, then any worker it left behind
  local pid=${PID_OF[$1]:-}
  [[ -z $pid ]] && return 0
  stop_tree "$pid" TERM 12
  unset "PID_OF[$1]"
}

cleanup() {
  local name
  for name in "${!PID_OF[@]}"; do stop_server "$name"; done
  [[ -n $REDIS_PID ]] && stop_pid "$REDIS_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- redis-server
REDIS_PORT=$(free_port) || die "no free port for redis-server"
(cd "$TMP" && exec redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --daemonize no --dir "$TMP" --logfile '' --loglevel warning) >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 50); do [[ $(rcli ping 2>/dev/null) == PONG ]] && break; sleep 0.1; done
[[ $(rcli ping 2>/dev/null) == PONG ]] || { tail -n 20 "$TMP/redis.log" >&2; die "redis-server did not answer PING on 127.0.0.1:$REDIS_PORT"; }
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0

# ---------------------------------------------------------------- helpers
# start_server NAME [VAR=VALUE...]: a clean environment (no .env: cwd is the
# temp dir), warning-level logs (no access log line), and no worker
# recycling, so a replacement worker never lands in one side of a comparison.
start_server() {
  local name=$1 port; shift
  port=$(free_port) || die "no free port for $name"
  (cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_LEVEL=warning MAX_REQUESTS=0 \
    MODEL=mock/echo "$@" "$BIN" --port "$port" --workers "$WORKERS" --no-grpc) >"$TMP/server-$name.log" 2>&1 &
  PID_OF[$name]=$!
  PORT_OF[$name]=$port
  if ! wait_ready "${PID_OF[$name]}" "http://127.0.0.1:$port/health"; then
    tail -n 20 "$TMP/server-$name.log" >&2
    die "server $name did not answer GET /health on 127.0.0.1:$port within ${START_TIMEOUT}s"
  fi
}

# start_redis_server NAME PREFIX [VAR=VALUE...]: as start_server, on the Redis
# backend; ready once every worker's Redis connection is usable.
start_redis_server() {
  local name=$1 prefix=$2 n; shift 2
  start_server "$name" STATE_BACKEND=redis REDIS_URL="$REDIS_URL" REDIS_KEY_PREFIX="$prefix" "$@"
  for _ in $(seq 50); do
    n=$(metric "$name" genkit_endpoints_redis_connected_processes)
    [[ ${n:-0} -ge $WORKERS ]] && return 0
    sleep 0.1
  done
  tail -n 20 "$TMP/server-$name.log" >&2
  die "server $name: $WORKERS workers never all connected to Redis (connected: ${n:-?})"
}

post() {  # post NAME PATH BODY → the whole response (status line, headers, body)
  curl -s -i -m 10 -X POST -H 'Content-Type: application/json' --data "$3" "http://127.0.0.1:${PORT_OF[$1]}$2" 2>/dev/null
}

metrics_text() { curl -s -m 5 "http://127.0.0.1:${PORT_OF[$1]}/metrics"; }
metric() {  # metric NAME FAMILY → the value of its first sample from GET /metrics
  metrics_text "$1" | awk -v f="$2" '$1 == f || index($1, f "{") == 1 { print $2; exit }'
}
# counters NAME ROUTE → "commands redis_hits fallbacks failures rate_limited
# requests" (summed over labels; requests: those answered on ROUTE, any status)
counters() {
  metrics_text "$1" | awk -v route="route=\"$2\"" '
    index($1, "genkit_endpoints_http_requests_total{" route ",") == 1 { rq += $2 }
    $1 == "genkit_endpoints_redis_commands_total" { c += $2 }
    $1 == "genkit_endpoints_redis_cache_hits_total" { h += $2 }
    index($1, "genkit_endpoints_redis_fallbacks_total") == 1 { fb += $2 }
    index($1, "genkit_endpoints_redis_failures_total") == 1 { fl += $2 }
    $1 == "genkit_endpoints_rate_limit_rejections_total" { rl += $2 }
    END { printf "%d %d %d %d %d %d\n", c, h, fb, fl, rl, rq }'
}

per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

write_lua() {  # write_lua FILE BODY : a POST with a fixed JSON body
  printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "'$2'" >"$1"
}
body_of() { printf '{"text":"Bench sentence %d: the northern lights danced over the fjord.","target_language":"French"}' "$1"; }
# write_cycle_lua FILE N : POST /translate over N distinct bodies in turn (preformatted)
write_cycle_lua() {
  cat >"$1" <<EOF
local n = $2
local reqs = {}
function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for i = 1, n do
    local body = string.format('{"text":"Bench sentence %d: the northern lights danced over the fjord.","target_language":"French"}', i)
    reqs[i] = wrk.format("POST", nil, headers, body)
  end
end
local i = 0
function request()
  i = i % n + 1
  return reqs[i]
end
EOF
}

# run_wrk OUT URL LUA SECS : sets W_RPS, W_REQS and W_BAD (non-2xx/3xx + socket errors)
run_wrk() {
  local out=$1 url=$2 lua=$3 secs=$4
  timeout $((secs + 30)) wrk -t1 -c"$CONNECTIONS" -d"${secs}s" -s "$lua" "$url" >"$out" 2>&1 ||
    die "wrk failed on $url (see below)"$'\n'"$(cat "$out")"
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  W_REQS=$(awk '/ requests in / {print $1; exit}' "$out")
  W_BAD=$(awk '/Non-2xx or 3xx/ { n += $NF }
               /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
               END { print n + 0 }' "$out")
  [[ -n $W_RPS && -n $W_REQS ]] || die "wrk printed no Requests/sec for $url"$'\n'"$(cat "$out")"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
num() { [[ $1 == n/a || -z $1 ]] && { echo n/a; return; }; printf "%'.0f" "$1"; }
verdict() {  # verdict VALUE TARGET → PASS / MISS (VALUE >= TARGET)
  awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && a != "" && a + 0 >= b + 0) ? "PASS" : "MISS" }'
}

# rounds TAG LABEL... : a warm-up run per LABEL, then ROUNDS rounds of one wrk
# load per LABEL (server SERVER_OF, path ROUTE_OF, script LUA_OF), the order
# rotated each round (A B, B A, ...) so a drift of the machine weighs on both
# sides alike. Redis's statistics are reset after the warm-ups. Sets
# MEDIAN_OF (req/s), ROUND_RATIO_OF[TAG] (the median over the rounds of the
# second LABEL's req/s over the first's in the same round), and summed over the rounds: REQS_OF (requests the server
# answered on the path; the per-request figures divide by it), BAD_OF (wrk's
# non-2xx and socket errors), CMDS_OF, RHITS_OF, FALLBACKS_OF, FAILURES_OF,
# LIMITED_OF (the server's counters), CPU_OF (server ticks), RCPU_OF
# (redis-server ticks).
declare -A ROUND_RATIO_OF SERVER_OF ROUTE_OF LUA_OF MEDIAN_OF REQS_OF BAD_OF CMDS_OF RHITS_OF FALLBACKS_OF FAILURES_OF LIMITED_OF CPU_OF RCPU_OF
url_of() { echo "http://127.0.0.1:${PORT_OF[${SERVER_OF[$1]}]}${ROUTE_OF[$1]}"; }
rounds() {
  local tag=$1 r i n label line s0 s1 t0 t1 rt0 rt1 server; shift
  local labels=("$@")
  n=${#labels[@]}
  declare -A seen=() this=()
  local ratios=""
  for label in "${labels[@]}"; do
    run_wrk "$TMP/wrk-$tag-$label-warmup.txt" "$(url_of "$label")" "${LUA_OF[$label]}" "$WARMUP_SECS"
    seen[$label]="" REQS_OF[$label]=0 BAD_OF[$label]=0 CMDS_OF[$label]=0 RHITS_OF[$label]=0
    FALLBACKS_OF[$label]=0 FAILURES_OF[$label]=0 LIMITED_OF[$label]=0 CPU_OF[$label]=0 RCPU_OF[$label]=0
  done
  rcli config resetstat >/dev/null
  for ((r = 0; r < ROUNDS; r++)); do
    line="   round $((r + 1)):"
    for ((i = 0; i < n; i++)); do
      label=${labels[$(( (i + r) % n ))]} server=${SERVER_OF[${labels[$(( (i + r) % n ))]}]}
      sleep 0.5  # (also lets the previous load's last requests end before the counters are read)
      read -r -a s0 <<<"$(counters "$server" "${ROUTE_OF[$label]}")"
      t0=$(ticks "${PID_OF[$server]}") rt0=$(ticks "$REDIS_PID")
      run_wrk "$TMP/wrk-$tag-$label-$r.txt" "$(url_of "$label")" "${LUA_OF[$label]}" "$DURATION"
      t1=$(ticks "${PID_OF[$server]}") rt1=$(ticks "$REDIS_PID")
      sleep 0.2
      read -r -a s1 <<<"$(counters "$server" "${ROUTE_OF[$label]}")"
      seen[$label]+=" $W_RPS" this[$label]=$W_RPS
      BAD_OF[$label]=$(( BAD_OF[$label] + W_BAD ))
      CMDS_OF[$label]=$(( CMDS_OF[$label] + s1[0] - s0[0] ))
      RHITS_OF[$label]=$(( RHITS_OF[$label] + s1[1] - s0[1] ))
      FALLBACKS_OF[$label]=$(( FALLBACKS_OF[$label] + s1[2] - s0[2] ))
      FAILURES_OF[$label]=$(( FAILURES_OF[$label] + s1[3] - s0[3] ))
      LIMITED_OF[$label]=$(( LIMITED_OF[$label] + s1[4] - s0[4] ))
      REQS_OF[$label]=$(( REQS_OF[$label] + s1[5] - s0[5] ))
      CPU_OF[$label]=$(( CPU_OF[$label] + t1 - t0 ))
      RCPU_OF[$label]=$(( RCPU_OF[$label] + rt1 - rt0 ))
      line+=$(printf '  %s %.0f' "$label" "$W_RPS")
    done
    ratios+=" $(ratio "${this[${labels[1]:-${labels[0]}}]}" "${this[${labels[0]}]}")"
    echo "$line"
  done
  for label in "${labels[@]}"; do MEDIAN_OF[$label]=$(median <<<"${seen[$label]}"); done
  ROUND_RATIO_OF[$tag]=$(median <<<"$ratios")
}

# details LABEL... : one line per load: what the rounds cost beside the req/s
details() {
  local label rt
  for label in "$@"; do
    rt="-"
    [[ $label == redis* ]] && rt=$(per "${CMDS_OF[$label]}" "${REQS_OF[$label]}")
    printf '   %-10s %s requests; Redis round trips/request %s; server CPU %s µs/request, redis-server %s µs/request;\n' \
      "$label" "$(num "${REQS_OF[$label]}")" "$rt" "$(us_per "${CPU_OF[$label]}" "${REQS_OF[$label]}")" \
      "$(us_per "${RCPU_OF[$label]}" "${REQS_OF[$label]}")"
    printf '   %-10s non-2xx + socket errors %s, 429s (rate_limit_rejections_total) %s, Redis fallbacks %s, failures %s\n' \
      "" "${BAD_OF[$label]}" "${LIMITED_OF[$label]}" "${FALLBACKS_OF[$label]}" "${FAILURES_OF[$label]}"
  done
}

# redis_side REQUESTS : what Redis executed over the rounds (reset after the
# warm-ups), per request of the Redis-side load: commands received from
# clients, commands run inside scripts, and the time inside EVALSHA.
redis_side() {
  rcli info commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$1" '
    /^cmdstat_/ { name = substr($1, 9); calls[name] = $3; usec[name] = $5 }
    END {
      for (c in calls) if (c == "evalsha" || c == "eval" || c ~ /^script/ || c == "info" || c == "config|resetstat" || c == "ping" || c == "select" || c == "auth" || c == "hello" || c == "scan" || c ~ /^client/) top += calls[c]; else inner += calls[c]
      if (n <= 0) { print "   redis-server: n/a"; exit }
      printf "   redis-server: %.3f EVALSHA/request (%.1f µs inside each), %.3f commands run inside scripts/request\n",
        calls["evalsha"] / n, (calls["evalsha"] > 0 ? usec["evalsha"] / calls["evalsha"] : 0), inner / n
    }'
}

# ---------------------------------------------------------------- header
echo "genkit-endpoints Redis state backend benchmark -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : nproc $(nproc), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk      : $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), -t1 -c$CONNECTIONS, ${WARMUP_SECS}s warm-up, then $ROUNDS alternating rounds of ${DURATION}s per side, medians compared"
echo "redis    : $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$REDIS_PORT (--save '' --appendonly no), shared by every Redis-side server"
echo "genkit   : $BIN ($BIN_NOTE)"
echo "           --workers $WORKERS --no-grpc, BIND_HOST=127.0.0.1 LOG_LEVEL=warning MAX_REQUESTS=0 MODEL=mock/echo,"
echo "           otherwise defaults (clean environment, cwd a temp dir); Redis side: STATE_BACKEND=redis REDIS_URL=$REDIS_URL"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "NOTE     : the machine is busy before the run (load $LOAD1 on $(nproc) CPUs): figures are noisy"
fi

# ---------------------------------------------------------------- 1. rate limiter
echo
echo "== 1. POST /tell-joke, rate limiter on (RATE_LIMIT_DEFAULT=$HUGE_LIMIT, never reached): Redis vs shared memory"
JOKE_BODY='{"name":"bench"}'
write_lua "$TMP/joke.lua" "$JOKE_BODY"
start_server joke-shm RATE_LIMIT_DEFAULT="$HUGE_LIMIT"
start_redis_server joke-redis bench-joke: RATE_LIMIT_DEFAULT="$HUGE_LIMIT"
for name in joke-shm joke-redis; do
  reply=$(post "$name" /tell-joke "$JOKE_BODY")
  [[ $(head -n1 <<<"$reply") == *" 200"* ]] || die "server $name: POST /tell-joke answered '$(head -n1 <<<"$reply")'"
done
SERVER_OF[shm-joke]=joke-shm   ROUTE_OF[shm-joke]=/tell-joke   LUA_OF[shm-joke]=$TMP/joke.lua
SERVER_OF[redis-joke]=joke-redis ROUTE_OF[redis-joke]=/tell-joke LUA_OF[redis-joke]=$TMP/joke.lua
rounds joke shm-joke redis-joke
details shm-joke redis-joke
redis_side "${REQS_OF[redis-joke]}"
echo "   Redis keys: $(rcli --scan --pattern 'bench-joke:*' | head -n 5 | tr '\n' ' ')"
stop_server joke-shm
stop_server joke-redis

# ---------------------------------------------------------------- 2 and 3. the response cache
echo
echo "== 2. POST /translate, one body, every request a first-level hit (rate limiter off): Redis vs shared memory"
TRANSLATE_BODY='{"text":"The northern lights danced over the fjord.","target_language":"French"}'
write_lua "$TMP/translate.lua" "$TRANSLATE_BODY"
write_cycle_lua "$TMP/cycle.lua" "$BODIES"
start_server cache-shm RATE_LIMIT_ENABLED=false
start_redis_server cache-redis bench-cache: RATE_LIMIT_ENABLED=false
start_redis_server cold-redis bench-cache: RATE_LIMIT_ENABLED=false CACHE_MAX_SIZE="$COLD_CACHE_SIZE"
for name in cache-shm cache-redis; do
  first=$(post "$name" /translate "$TRANSLATE_BODY" | head -n1)  # the one miss: fills the cache
  [[ $first == *" 200"* ]] || die "server $name: POST /translate answered '$first'"
done
SERVER_OF[shm-warm]=cache-shm     ROUTE_OF[shm-warm]=/translate     LUA_OF[shm-warm]=$TMP/translate.lua
SERVER_OF[redis-warm]=cache-redis ROUTE_OF[redis-warm]=/translate LUA_OF[redis-warm]=$TMP/translate.lua
rounds warm shm-warm redis-warm
details shm-warm redis-warm
redis_side "${REQS_OF[redis-warm]}"

echo
echo "== 3. POST /translate over $BODIES distinct bodies, all in Redis beforehand; Redis side's first level" \
  "CACHE_MAX_SIZE=$COLD_CACHE_SIZE (hits served by Redis) vs shared-memory hits (CACHE_MAX_SIZE default)"
# Fill: every body once through the shared-memory server (its cache) and the
# warm Redis-side server (its first level and Redis, under the prefix the
# cold server shares: as if another machine had computed them).
for name in cache-shm cache-redis; do
  for ((i = 1; i <= BODIES; i++)); do
    printf 'url = "http://127.0.0.1:%s/translate"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
      "${PORT_OF[$name]}" "$(body_of "$i" | sed 's/"/\\"/g')"
    [[ $i -lt $BODIES ]] && echo next
  done >"$TMP/fill-$name.curl"
  codes=$(curl -s -m 60 -K "$TMP/fill-$name.curl" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  [[ $codes == " $BODIES 200," ]] || die "filling $name with $BODIES bodies answered: $codes"
done
IN_REDIS=$(rcli --scan --pattern 'bench-cache:cache:*' | grep -c .)
SHM_ENTRIES=$(metric cache-shm genkit_endpoints_cache_entries)
echo "   filled: $IN_REDIS results in Redis ($BODIES bodies + the one of case 2), $SHM_ENTRIES in the shared-memory server's cache"
((IN_REDIS >= BODIES)) || echo "   WARNING: fewer results in Redis than bodies: some requests below are misses of both levels"
SERVER_OF[shm-cold]=cache-shm    ROUTE_OF[shm-cold]=/translate    LUA_OF[shm-cold]=$TMP/cycle.lua
SERVER_OF[redis-cold]=cold-redis ROUTE_OF[redis-cold]=/translate LUA_OF[redis-cold]=$TMP/cycle.lua
COLD_MISSES0=$(metric cold-redis genkit_endpoints_cache_misses_total)
rounds cold shm-cold redis-cold
COLD_MISSES1=$(metric cold-redis genkit_endpoints_cache_misses_total)
details shm-cold redis-cold
redis_side "${REQS_OF[redis-cold]}"
SERVED_FROM_REDIS=$(per "${RHITS_OF[redis-cold]}" "${REQS_OF[redis-cold]}")
echo "   redis-cold: served from Redis ${RHITS_OF[redis-cold]} of ${REQS_OF[redis-cold]} requests = $SERVED_FROM_REDIS" \
  "(cache_misses_total over the load and its warm-up: $(( ${COLD_MISSES1:-0} - ${COLD_MISSES0:-0} )))"
for name in cache-shm cache-redis cold-redis; do stop_server "$name"; done

# ---------------------------------------------------------------- summary
echo
echo "==================== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg), nproc $(nproc))"
row() { printf '%-38s %10s %11s %6s %9s %7s %-5s %11s %s\n' "$@"; }
row "case" "shm req/s" "redis req/s" "ratio" "per round" "target" "" "round trips" "server CPU µs/request shm, redis (+ redis-server)"
summary_row() {  # summary_row TEXT TAG SHM_LABEL REDIS_LABEL TARGET
  local r
  r=$(ratio "${MEDIAN_OF[$4]}" "${MEDIAN_OF[$3]}")
  row "$1" "$(num "${MEDIAN_OF[$3]}")" "$(num "${MEDIAN_OF[$4]}")" "$r" "${ROUND_RATIO_OF[$2]}" ">= $5" "$(verdict "$r" "$5")" \
    "$(per "${CMDS_OF[$4]}" "${REQS_OF[$4]}")" \
    "$(us_per "${CPU_OF[$3]}" "${REQS_OF[$3]}"), $(us_per "${CPU_OF[$4]}" "${REQS_OF[$4]}") (+ $(us_per "${RCPU_OF[$4]}" "${REQS_OF[$4]}"))"
}
summary_row "1. tell-joke, rate limiter on" joke shm-joke redis-joke "$TARGET_LIMITER_RATIO"
summary_row "2. translate hits, first level warm" warm shm-warm redis-warm "$TARGET_WARM_RATIO"
summary_row "3. translate hits, first level cold" cold shm-cold redis-cold "$TARGET_COLD_RATIO"
echo "   3: served from Redis (redis_cache_hits_total / requests): $SERVED_FROM_REDIS"
ERRORS=0
for label in shm-joke redis-joke shm-warm redis-warm shm-cold redis-cold; do
  ERRORS=$(( ERRORS + BAD_OF[$label] + LIMITED_OF[$label] ))
done
FALLBACKS=$(( FALLBACKS_OF[redis-joke] + FALLBACKS_OF[redis-warm] + FALLBACKS_OF[redis-cold] ))
FAILURES=$(( FAILURES_OF[redis-joke] + FAILURES_OF[redis-warm] + FAILURES_OF[redis-cold] ))
echo "errors (non-2xx, socket errors, 429s): $ERRORS; Redis fallbacks to shared memory: $FALLBACKS; Redis failures: $FAILURES (each should be 0)"
echo "round trips: the server's genkit_endpoints_redis_commands_total / requests it answered on the path."
echo "ratios are measured side by side on one machine; compare them, not the absolute req/s."
exit 0

#!/usr/bin/env bash
# Side-by-side throughput and memory figures for genkit-endpoints against a
# stock nginx on the same machine, in one run, with identical wrk settings.
# It PRINTS figures and asserts nothing: it exits 0 even when a target is
# missed, and non-zero only when a tool, the build or a server is unusable.
#
#   bash bench/run.sh                      # full run, 10 s per target
#   BENCH_DURATION=3 bash bench/run.sh     # smoke run
#   GENKIT_BIN=/path/to/genkit-endpoints bash bench/run.sh   # skip the build
#
# Everything stays on 127.0.0.1; each load is bounded by wrk's -d and a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${BENCH_DURATION:-10}
THREADS=1
CONNECTIONS=64
WORKERS=2
START_TIMEOUT=15                                  # seconds for a server to answer
TARGET_HEALTH_RATIO=0.80
TARGET_JOKE_RATIO=0.50
TARGET_IDLE_RSS_MB=10
# Warnings GCC 12 raises falsely at -O3; used only if the plain Release build fails.

if ! [[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "bench: BENCH_DURATION must be a whole number of seconds (1..9999), got '$DURATION'" >&2
  exit 2
fi

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }


# ---------------------------------------------------------------- tools
command -v wrk >/dev/null || apt_install wrk || die "wrk is missing and could not be installed"
command -v curl >/dev/null || apt_install curl || die "curl is missing and could not be installed"
NGINX=$(find_nginx) || { apt_install nginx-light nginx && NGINX=$(find_nginx); } || die "nginx is missing and could not be installed"
command -v ss >/dev/null || apt_install iproute2 || true

# ---------------------------------------------------------------- binary
BUILD_NOTE=""
if [[ -n ${GENKIT_BIN:-} ]]; then
  [[ -x $GENKIT_BIN ]] || die "GENKIT_BIN=$GENKIT_BIN is not an executable file"
  BIN=$GENKIT_BIN
  BUILD_NOTE="given by GENKIT_BIN"
else
  build() {  # build DIR
    local dir=$1
    local args=(-S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF)
    mkdir -p "$dir"
    cmake "${args[@]}" >"$dir/bench-configure.log" 2>&1 || { tail -n 30 "$dir/bench-configure.log" >&2; return 1; }
    cmake --build "$dir" --target genkit-endpoints >"$dir/bench-build.log" 2>&1 || {
      grep -m 5 -E 'error|Error' "$dir/bench-build.log" >&2; return 1; }
  }
  log "building genkit-endpoints (Release) in bench/.build (log: bench/.build/bench-build.log)"
  build "$BENCH_DIR/.build" || die "the build failed; no figures"
  BIN=$BENCH_DIR/.build/supervisor/genkit-endpoints
  BUILD_NOTE="Release, bench/.build"
fi

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-bench.XXXXXX") || die "mktemp failed"
NGINX_PID=""
SUP_PID=""
SAMPLER_PID=""

cleanup() {
  [[ -n $SAMPLER_PID ]] && stop_pid "$SAMPLER_PID" TERM 1
  [[ -n $SUP_PID ]] && stop_tree "$SUP_PID" TERM 12
  [[ -n $NGINX_PID ]] && stop_tree "$NGINX_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
listener_is() {  # listener_is PORT PID... : the socket on PORT belongs to one of the PIDs
  local port=$1 pid; shift
  command -v ss >/dev/null || return 0
  local line; line=$(ss -Htlnp "( sport = :$port )" 2>/dev/null)
  [[ -z $line ]] && return 1
  for pid in "$@"; do [[ $line == *"pid=$pid,"* ]] && return 0; done
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Reads VmRSS of every child of the supervisor; sets RSS_LINE and RSS_MAX_KB.
# VmRSS counts shared file pages too (binary, libc, libssl); RssAnon is shown beside it.
read_worker_rss() {
  local pid kb anon
  RSS_LINE="" RSS_MAX_KB=0 RSS_COUNT=0
  for pid in $(pgrep -P "$SUP_PID"); do
    kb=$(rss_kb "$pid")
    [[ -z $kb ]] && continue
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    RSS_LINE+="pid $pid $(mb "$kb") MB (anon $(mb "${anon:-0}")); "
    ((kb > RSS_MAX_KB)) && RSS_MAX_KB=$kb
    ((RSS_COUNT += 1))
  done
  RSS_LINE=${RSS_LINE%; }
}

# run_wrk NAME URL [LUA] : runs wrk, prints its output, sets W_RPS W_NON2XX W_SOCK W_REQS.
run_wrk() {
  local name=$1 url=$2 lua=${3:-} out=$TMP/wrk-$1.txt
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
  [[ -n $lua ]] && args+=(-s "$lua")
  echo
  echo "== $name: wrk ${args[*]} $url"
  timeout $((DURATION + 30)) wrk "${args[@]}" "$url" >"$out" 2>&1
  local rc=$?
  sed 's/^/   /' "$out"
  [[ $rc -ne 0 ]] && echo "   (wrk exited with status $rc)"
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  W_RPS=${W_RPS:-0}
  W_REQS=$(awk '/ requests in / {print $1; exit}' "$out")
  W_REQS=${W_REQS:-0}
  W_NON2XX=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
  W_NON2XX=${W_NON2XX:-0}
  W_SOCK=$(awk '/Socket errors:/ {
      s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' "$out")
  W_SOCK=${W_SOCK:-0}
}

# Records the distinct worker pids seen during a load (workers may be recycled).
start_sampler() {
  ( while :; do pgrep -P "$SUP_PID" 2>/dev/null; sleep 0.25; done ) >"$TMP/pids-$1.txt" &
  SAMPLER_PID=$!
}
stop_sampler() {
  stop_pid "$SAMPLER_PID" TERM 1
  SAMPLER_PID=""
  sort -u "$TMP/pids-$1.txt" | grep -c . || true
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }
verdict_ge() { if ge "$1" "$2"; then echo PASS; else echo SHORT; fi; }

# ---------------------------------------------------------------- header
echo "genkit-endpoints benchmark -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk      : $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), -t$THREADS -c$CONNECTIONS -d${DURATION}s, same for every target"
echo "nginx    : $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $WORKERS, access_log off"
echo "genkit   : $BIN ($BUILD_NOTE)"
echo "           --workers $WORKERS --no-grpc, BIND_HOST=127.0.0.1 LOG_LEVEL=warning (no per-request"
echo "           access log line, like nginx's access_log off), MODEL=mock/echo, otherwise defaults"
echo "           (clean environment, no .env: cwd is a temp dir)"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "NOTE     : the machine is busy before the run (load $LOAD1 on $(nproc) CPUs); absolute figures are"
  echo "           depressed and noisy; the ratios are fairer but still not exact."
fi

# ---------------------------------------------------------------- nginx
NGINX_PORT=$(free_port) || die "no free port for nginx"
mkdir -p "$TMP/nginx"
NGINX_USER=""
[[ $(id -u) -eq 0 ]] && NGINX_USER="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes $WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "ok"; }
  }
}
EOF
"$NGINX" -t -q -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx/test.log" 2>&1 ||
  { cat "$TMP/nginx/test.log" "$TMP/nginx/error.log" >&2 2>/dev/null; die "nginx rejected its config"; }
"$NGINX" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
if ! wait_ready "$NGINX_PID" "http://127.0.0.1:$NGINX_PORT/" || ! listener_is "$NGINX_PORT" "$NGINX_PID" $(pgrep -P "$NGINX_PID"); then
  cat "$TMP/nginx/stdout.log" "$TMP/nginx/error.log" >&2 2>/dev/null
  die "nginx did not start on 127.0.0.1:$NGINX_PORT within ${START_TIMEOUT}s"
fi

# ---------------------------------------------------------------- genkit-endpoints
GK_PORT=$(free_port) || die "no free port for genkit-endpoints"
(cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_LEVEL=warning MODEL=mock/echo \
  "$BIN" --port "$GK_PORT" --workers "$WORKERS" --no-grpc) >"$TMP/genkit.log" 2>&1 &
SUP_PID=$!
if ! wait_ready "$SUP_PID" "http://127.0.0.1:$GK_PORT/health" || ! listener_is "$GK_PORT" "$SUP_PID" $(pgrep -P "$SUP_PID"); then
  tail -n 20 "$TMP/genkit.log" >&2
  die "genkit-endpoints did not answer GET /health with 200 on 127.0.0.1:$GK_PORT within ${START_TIMEOUT}s"
fi
JOKE_PROBE=$(curl -s -m 5 -o "$TMP/joke-probe.txt" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data '{"name":"bench"}' "http://127.0.0.1:$GK_PORT/tell-joke" 2>/dev/null || true)
echo "probe    : POST /tell-joke -> HTTP $JOKE_PROBE $(head -c 160 "$TMP/joke-probe.txt" 2>/dev/null)"

# Idle RSS: the server answered /health (and one probe); no load yet.
sleep 1
read_worker_rss
IDLE_RSS_LINE=$RSS_LINE IDLE_RSS_MAX_KB=$RSS_MAX_KB IDLE_COUNT=$RSS_COUNT
IDLE_PIDS=$(pgrep -P "$SUP_PID" | tr '\n' ' ')
echo "idle RSS : $IDLE_COUNT workers: $IDLE_RSS_LINE"
[[ $IDLE_COUNT -eq $WORKERS ]] || echo "NOTE     : expected $WORKERS workers under the supervisor, found $IDLE_COUNT"

# ---------------------------------------------------------------- load
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
EOF

run_wrk nginx "http://127.0.0.1:$NGINX_PORT/"
NG_RPS=$W_RPS NG_NON2XX=$W_NON2XX NG_SOCK=$W_SOCK
sleep 1

start_sampler health
run_wrk health "http://127.0.0.1:$GK_PORT/health"
H_WORKERS_SEEN=$(stop_sampler health)
H_RPS=$W_RPS H_NON2XX=$W_NON2XX H_SOCK=$W_SOCK H_REQS=$W_REQS
sleep 1

start_sampler joke
run_wrk tell-joke "http://127.0.0.1:$GK_PORT/tell-joke" "$TMP/post.lua"
J_WORKERS_SEEN=$(stop_sampler joke)
J_RPS=$W_RPS J_NON2XX=$W_NON2XX J_SOCK=$W_SOCK J_REQS=$W_REQS

kill -0 "$SUP_PID" 2>/dev/null || echo "NOTE     : the genkit-endpoints supervisor died during the load"
sleep 1
read_worker_rss
AFTER_RSS_LINE=$RSS_LINE AFTER_RSS_MAX_KB=$RSS_MAX_KB
AFTER_PIDS=$(pgrep -P "$SUP_PID" | tr '\n' ' ')
[[ $AFTER_PIDS == "$IDLE_PIDS" ]] || AFTER_RSS_LINE+="  (workers were replaced during the load: idle pids ${IDLE_PIDS% }, now ${AFTER_PIDS% })"
echo
echo "after-load RSS: $AFTER_RSS_LINE"
echo "distinct worker pids seen (sampled every 0.25 s): health load $H_WORKERS_SEEN, tell-joke load $J_WORKERS_SEEN"
echo "  (more than $WORKERS means workers were recycled, e.g. by MAX_REQUESTS=10000+jitter)"
if grep -q . "$TMP/genkit.log"; then
  echo "server stdout/stderr with LOG_LEVEL=warning (last 5 of $(grep -c . "$TMP/genkit.log") lines):"
  tail -n 5 "$TMP/genkit.log" | cut -c1-220 | sed 's/^/   /'
fi

# ---------------------------------------------------------------- summary
H_RATIO=$(ratio "$H_RPS" "$NG_RPS")
J_RATIO=$(ratio "$J_RPS" "$NG_RPS")
IDLE_MB=$(mb "$IDLE_RSS_MAX_KB")
AFTER_MB=$(mb "$AFTER_RSS_MAX_KB")
if awk -v m="$IDLE_MB" -v t="$TARGET_IDLE_RSS_MB" -v n="$IDLE_COUNT" 'BEGIN { exit !(n > 0 && m + 0 <= t + 0) }'; then
  RSS_VERDICT=PASS; else RSS_VERDICT=SHORT; fi
zero_verdict() { if [[ $1 == 0 ]]; then echo PASS; else echo SHORT; fi; }
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "==================== summary (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, load average now $load_end)"
row() { printf '%-22s %10s   %-36s %-20s %s\n' "$@"; }
row "nginx GET / req/s" "$(printf '%.0f' "$NG_RPS")" "" "(reference)" ""
row "health req/s" "$(printf '%.0f' "$H_RPS")" "$(printf 'nginx %.0f   ratio %s' "$NG_RPS" "$H_RATIO")" "(target >= $TARGET_HEALTH_RATIO)" "$(verdict_ge "$H_RATIO" "$TARGET_HEALTH_RATIO")"
row "tell-joke req/s" "$(printf '%.0f' "$J_RPS")" "$(printf 'nginx %.0f   ratio %s' "$NG_RPS" "$J_RATIO")" "(target >= $TARGET_JOKE_RATIO)" "$(verdict_ge "$J_RATIO" "$TARGET_JOKE_RATIO")"
row "health non-2xx/3xx" "$H_NON2XX" "of $H_REQS requests" "(target 0)" "$(zero_verdict "$H_NON2XX")"
row "tell-joke non-2xx/3xx" "$J_NON2XX" "of $J_REQS requests" "(target 0)" "$(zero_verdict "$J_NON2XX")"
row "socket errors" "$((H_SOCK + J_SOCK))" "health $H_SOCK, tell-joke $J_SOCK, nginx $NG_SOCK" "(info)" ""
row "idle worker RSS" "$IDLE_MB MB" "max of $IDLE_COUNT workers, before load" "(target <= $TARGET_IDLE_RSS_MB MB)" "$RSS_VERDICT"
row "after-load RSS" "$AFTER_MB MB" "max of the workers alive after load" "(info)" ""
echo "figures are measured side by side on one machine; compare the ratios, not the absolute req/s."
exit 0

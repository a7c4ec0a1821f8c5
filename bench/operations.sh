#!/usr/bin/env bash
# Operations figures of genkit-endpoints beside nginx on the same machine:
#   1. start-up to READY=1 (2 workers and grpcd accepting) and to the first
#      200 of /health; SIGHUP to every new process ready; SIGTERM to exit —
#      nginx's start, `-s reload` (every worker replaced) and `-s quit` beside
#      them (bench/lifecycle_timer.py, median of BENCH_ROUNDS rounds);
#   2. failed requests during BENCH_LOAD_SECS (default 60) of wrk load with a
#      SIGHUP reload every 5 s and recycling every 2,000 requests: target 0.
# It PRINTS figures and asserts nothing: exit 0 when a target is missed,
# non-zero only when a tool, the build or a server is unusable.
#
#   bash bench/operations.sh                            # full run (~1.5 min after the build)
#   BENCH_LOAD_SECS=10 BENCH_ROUNDS=2 bash bench/operations.sh   # smoke run
#   GENKIT_BIN=/path/to/genkit-endpoints bash bench/operations.sh
#
# Everything stays on 127.0.0.1; every load is bounded by wrk's -d.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=/usr/bin/python3

LOAD_SECS=${BENCH_LOAD_SECS:-60}
ROUNDS=${BENCH_ROUNDS:-5}
RELOAD_EVERY=5
MAX_REQUESTS=2000
START_TIMEOUT=20
for v in LOAD_SECS ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]{0,3}$ ]] || { echo "operations.sh: $v must be a whole number (1..9999)" >&2; exit 2; }
done

log() { printf '[ops-bench] %s\n' "$*" >&2; }
die() { printf '[ops-bench] ERROR: %s\n' "$*" >&2; exit 1; }

bash "$ROOT/packaging/install-deps.sh" --bench >&2 || die "install-deps.sh --bench failed"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx is missing"
command -v wrk >/dev/null || die "wrk is missing"

if [[ -n ${GENKIT_BIN:-} ]]; then
  BIN=$GENKIT_BIN
else
  BUILD=$BENCH_DIR/.build
  log "building (Release) in bench/.build"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF >"$BUILD.configure.log" 2>&1 ||
    { tail -n 20 "$BUILD.configure.log" >&2; die "configure failed"; }
  cmake --build "$BUILD" --target genkit-endpoints >"$BUILD.build.log" 2>&1 ||
    { grep -m 5 -E 'error' "$BUILD.build.log" >&2; die "build failed"; }
  BIN=$BUILD/supervisor/genkit-endpoints
fi
[[ -x $BIN ]] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-ops-bench.XXXXXX") || die "mktemp failed"
SUP_PID=""
cleanup() {
  [[ -n $SUP_PID ]] && stop_pid "$SUP_PID" TERM 12
  [[ -f $TMP/nginx.pid ]] && "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -s stop 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$(free_port) GRPC=$(free_port) NGINX_PORT=$(free_port)
cat >"$TMP/nginx.conf" <<CONF
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP; proxy_temp_path $TMP; fastcgi_temp_path $TMP; uwsgi_temp_path $TMP; scgi_temp_path $TMP;
  server { listen 127.0.0.1:$NGINX_PORT; location /health { return 200 '{"status":"ok"}'; } }
}
CONF
SERVER_ENV=(env -i PATH="$PATH" LOG_LEVEL=warning LOG_FORMAT=json MODEL=mock/echo)
OURS=("$BIN" --bind 127.0.0.1 --port "$PORT" --grpc-port "$GRPC" --workers 2)

echo "== genkit-endpoints operations bench ($(nproc) CPUs, binary $BIN)"
echo
echo "-- 1. start, reload, stop (median of $ROUNDS rounds, ms; 2 workers each, ours with grpcd)"
ours=$("${SERVER_ENV[@]}" "$PY" "$BENCH_DIR/lifecycle_timer.py" ours --port "$PORT" --rounds "$ROUNDS" -- "${OURS[@]}") ||
  die "timing genkit-endpoints failed"
theirs=$("$PY" "$BENCH_DIR/lifecycle_timer.py" nginx --port "$NGINX_PORT" --rounds "$ROUNDS" --pidfile "$TMP/nginx.pid" -- \
  "$NGINX" -p "$TMP" -c "$TMP/nginx.conf") || die "timing nginx failed"
figure() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
printf '  %-34s %10s %10s\n' "" "ours" "nginx"
printf '  %-34s %10s %10s\n' "start → READY=1 (all accepting)" "$(figure "$ours" start_to_ready)" "-"
printf '  %-34s %10s %10s\n' "start → first 200 /health" "$(figure "$ours" start_to_first_200)" "$(figure "$theirs" start_to_first_200)"
printf '  %-34s %10s %10s\n' "reload → all new processes ready" "$(figure "$ours" reload_to_ready)" "$(figure "$theirs" reload_to_ready)"
printf '  %-34s %10s %10s\n' "stop (idle) → exit" "$(figure "$ours" stop_to_exit)" "$(figure "$theirs" stop_to_exit)"
echo "  (all rounds) ours:"; sed 's/^/    /' <<<"$ours"
echo "  (all rounds) nginx:"; sed 's/^/    /' <<<"$theirs"

echo
echo "-- 2. ${LOAD_SECS} s of wrk on GET /health (1 thread, 32 connections), SIGHUP every ${RELOAD_EVERY} s, MAX_REQUESTS=$MAX_REQUESTS"
"${SERVER_ENV[@]}" MAX_REQUESTS=$MAX_REQUESTS MAX_REQUESTS_JITTER=200 RATE_LIMIT_ENABLED=false \
  "$BIN" --bind 127.0.0.1 --port "$PORT" --grpc-port "$GRPC" --workers 2 >"$TMP/ours.log" 2>&1 &
SUP_PID=$!
wait_ready "$SUP_PID" "http://127.0.0.1:$PORT/health" || die "genkit-endpoints did not start (log: $(tail -n 5 "$TMP/ours.log"))"
( for ((t = RELOAD_EVERY; t < LOAD_SECS; t += RELOAD_EVERY)); do
    sleep "$RELOAD_EVERY"; kill -HUP "$SUP_PID" && echo hup >>"$TMP/reloads"; done ) &
RELOADER=$!
wrk -t1 -c32 -d"${LOAD_SECS}s" --latency "http://127.0.0.1:$PORT/health" >"$TMP/wrk.txt" 2>&1
kill "$RELOADER" 2>/dev/null; wait "$RELOADER" 2>/dev/null
requests=$(awk '/requests in/ { print $1 }' "$TMP/wrk.txt")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$TMP/wrk.txt")
socket_errors=$(awk -F'[ ,]+' '/Socket errors/ { print $4 + $6 + $8 + $10 }' "$TMP/wrk.txt")
reloads=$(wc -l <"$TMP/reloads" 2>/dev/null || echo 0)
recycled=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^genkit_endpoints_process_restarts_total/ { print $2 }')
failed=$(( ${non2xx:-0} + ${socket_errors:-0} ))
echo "  requests: ${requests:-?}; SIGHUP reloads: $reloads; workers recycled (process_restarts_total): ${recycled:-?}"
echo "  failed requests (non-2xx + socket errors): $failed   target 0   $([[ $failed -eq 0 ]] && echo PASS || echo MISS)"
grep -E 'Socket errors|Non-2xx|Requests/sec|99%' "$TMP/wrk.txt" | sed 's/^/  wrk: /'

#!/usr/bin/env bash
# Genkit flow-server and dev-mode trace export figures (issue 11), side by
# side in one run, 2 workers each, wrk -t1 -c64, mock/echo:
#   1. POST /tell_joke on the flow server ({"data":{"name":"bench"}}) against
#      POST /tell-joke, the REST route ({"name":"bench"}), on one server:
#      target flow server >= 0.9x REST;
#   2. the flow server in dev mode (GENKIT_ENV=dev) exporting every span to a
#      telemetry server (GENKIT_TELEMETRY_SERVER; an nginx that answers 200 to
#      POST /api/traces, so the sink costs next to nothing) against the same
#      route without export: target cost <= 10 %. The POSTs the sink received
#      (nginx's stub_status) are printed beside the requests served: under a
#      load the tools could never read, whole traces are declined as they
#      start rather than slowing requests down.
# Rounds alternate between the loads (medians of 3). It PRINTS figures and
# asserts nothing: it exits 0 when a target is missed, non-zero only when a
# tool, the build or a server is unusable.
#
#   bash bench/genkit_tools.sh                    # ~1.5 min after the build
#   BENCH_DURATION=3 bash bench/genkit_tools.sh   # smoke run
#   GENKIT_BIN=/path/to/genkit-endpoints bash bench/genkit_tools.sh
#
# Everything stays on 127.0.0.1; each load is bounded by wrk's -d and a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${BENCH_DURATION:-15}
if ! [[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "genkit_tools.sh: BENCH_DURATION must be a whole number of seconds (1..9999), got '$DURATION'" >&2
  exit 2
fi
ROUNDS=3
ROUND_SECS=$(( DURATION / ROUNDS > 0 ? DURATION / ROUNDS : 1 ))
WORKERS=2
WRK_ARGS=(-t1 -c64)
START_TIMEOUT=20
TARGET_FLOW_RATIO=0.90
TARGET_EXPORT_COST=0.10

log() { printf '[genkit-tools] %s\n' "$*" >&2; }
die() { printf '[genkit-tools] ERROR: %s\n' "$*" >&2; exit 1; }

command -v wrk >/dev/null || apt_install wrk || die "wrk is missing and could not be installed"
command -v curl >/dev/null || apt_install curl || die "curl is missing and could not be installed"
NGINX=$(find_nginx) || { apt_install nginx-light && NGINX=$(find_nginx); } || die "nginx is missing and could not be installed"

# ---------------------------------------------------------------- binary
if [[ -n ${GENKIT_BIN:-} ]]; then
  [[ -x $GENKIT_BIN ]] || die "GENKIT_BIN=$GENKIT_BIN is not an executable file"
  BIN=$GENKIT_BIN
else
  dir=$BENCH_DIR/.build
  log "building genkit-endpoints (Release) in bench/.build"
  mkdir -p "$dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF >"$dir/bench-configure.log" 2>&1 ||
    { tail -n 30 "$dir/bench-configure.log" >&2; die "configure failed"; }
  cmake --build "$dir" --target genkit-endpoints >"$dir/bench-build.log" 2>&1 ||
    { grep -m 5 -E 'error|Error' "$dir/bench-build.log" >&2; die "the build failed; no figures"; }
  BIN=$dir/supervisor/genkit-endpoints
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-tools-bench.XXXXXX") || die "mktemp failed"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_tree "$p" TERM 12; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the telemetry sink
SINK_PORT=$(free_port) || die "no free port"
mkdir -p "$TMP/nginx"
NGINX_USER=""; [[ $(id -u) -eq 0 ]] && NGINX_USER="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  client_body_buffer_size 1m;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$SINK_PORT;
    location = /api/traces { return 200 "OK"; }
    location = /status { stub_status; }
    location / { return 200 "ok"; }
  }
}
EOF
"$NGINX" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_ready "${PIDS[-1]}" "http://127.0.0.1:$SINK_PORT/" || die "nginx (the telemetry sink) did not start"

# ---------------------------------------------------------------- servers
start_server() {  # start_server NAME PORT ENV... : sets SERVER_PID
  local name=$1 port=$2; shift 2
  mkdir -p "$TMP/$name"
  (cd "$TMP/$name" && exec env -i PATH="$PATH" HOME="$TMP/$name" BIND_HOST=127.0.0.1 LOG_LEVEL=warning MODEL=mock/echo \
    RATE_LIMIT_ENABLED=false "$@" "$BIN" --port "$port" --workers "$WORKERS" --no-grpc) >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_ready "$SERVER_PID" "http://127.0.0.1:$port/health" || { tail -n 20 "$TMP/$name.log" >&2; die "$name did not start"; }
}
PROD_PORT=$(free_port) || die "no free port"
start_server prod "$PROD_PORT"
DEV_PORT=$(free_port) || die "no free port"
start_server dev "$DEV_PORT" GENKIT_ENV=dev GENKIT_TELEMETRY_SERVER="http://127.0.0.1:$SINK_PORT"

cat >"$TMP/rest.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
EOF
cat >"$TMP/flow.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"data":{"name":"bench"}}'
wrk.headers["Content-Type"] = "application/json"
EOF
for probe in "$PROD_PORT/tell-joke rest" "$PROD_PORT/tell_joke flow" "$DEV_PORT/tell_joke flow"; do
  set -- $probe
  body=$( [[ $2 == rest ]] && echo '{"name":"bench"}' || echo '{"data":{"name":"bench"}}')
  echo "probe    : POST :$1 -> $(curl -s -m 5 -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$1")"
done

# run_wrk URL LUA : prints nothing, sets W_RPS W_BAD W_REQS
run_wrk() {
  local out=$TMP/wrk.txt
  timeout $((ROUND_SECS + 30)) wrk "${WRK_ARGS[@]}" -d"${ROUND_SECS}s" -s "$2" "$1" >"$out" 2>&1
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out"); W_RPS=${W_RPS:-0}
  W_REQS=$(awk '/ requests in / {print $1; exit}' "$out"); W_REQS=${W_REQS:-0}
  W_BAD=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out"); W_BAD=${W_BAD:-0}
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

echo "genkit-tools bench -- $(date -u '+%Y-%m-%dT%H:%M:%SZ'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk ${WRK_ARGS[*]}, $ROUNDS alternating rounds of ${ROUND_SECS}s per load, $WORKERS workers per server, mock/echo,"
echo "RATE_LIMIT_ENABLED=false (one client IP), otherwise defaults"
REST=() FLOW=() DEV=()
BAD=0 DEV_REQS=0
# nginx's own request counter (stub_status): the sink's POSTs, without a log line each.
sink_requests() { curl -s -m 2 "http://127.0.0.1:$SINK_PORT/status" | awk 'NR == 3 {print $3}'; }
before_posts=$(sink_requests)
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "http://127.0.0.1:$PROD_PORT/tell-joke" "$TMP/rest.lua"; REST+=("$W_RPS"); ((BAD += W_BAD))
  run_wrk "http://127.0.0.1:$PROD_PORT/tell_joke" "$TMP/flow.lua"; FLOW+=("$W_RPS"); ((BAD += W_BAD))
  run_wrk "http://127.0.0.1:$DEV_PORT/tell_joke" "$TMP/flow.lua"; DEV+=("$W_RPS"); ((BAD += W_BAD)); ((DEV_REQS += W_REQS))
  log "round $r: REST ${REST[-1]}  flow server ${FLOW[-1]}  flow server + trace export ${DEV[-1]} req/s"
done
sleep 1
posts=$(( $(sink_requests) - before_posts - 1 ))

R=$(median "${REST[@]}") F=$(median "${FLOW[@]}") D=$(median "${DEV[@]}")
FLOW_RATIO=$(ratio "$F" "$R")
EXPORT_COST=$(awk -v d="$D" -v f="$F" 'BEGIN { if (f > 0) printf "%.3f", 1 - d / f; else print "n/a" }')
verdict() { awk -v a="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? a + 0 >= t : a + 0 <= t; print (a != "n/a" && ok) ? "PASS" : "SHORT" }'; }
echo
printf '%-44s %10s\n' "POST /tell-joke (REST) req/s, median" "$R"
printf '%-44s %10s   ratio %s (target >= %s) %s\n' "POST /tell_joke (flow server) req/s, median" "$F" "$FLOW_RATIO" "$TARGET_FLOW_RATIO" "$(verdict "$FLOW_RATIO" $TARGET_FLOW_RATIO '>=')"
printf '%-44s %10s   cost %s (target <= %s) %s\n' "  + dev-mode trace export req/s, median" "$D" "$EXPORT_COST" "$TARGET_EXPORT_COST" "$(verdict "$EXPORT_COST" $TARGET_EXPORT_COST '<=')"
echo "trace export: $DEV_REQS flow runs in dev mode, $posts TraceData POSTs received by the sink (one per trace;"
echo "  each process posts at most one per 5 ms after a burst of 64, and traces past that pace are not recorded at all)"
echo "non-2xx responses over all loads: $BAD"
grep -h '"level":"\(warning\|error\)"' "$TMP"/dev.log | grep -v config_warning | head -n 5
exit 0

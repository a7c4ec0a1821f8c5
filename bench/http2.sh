#!/usr/bin/env bash
# HTTP/2, TLS and gzip figures of genkit-endpoints beside Debian's nginx (and
# beside the build before the response middleware), side by side in one run,
# 2 workers each, every figure printed beside its target:
#   1. GET /health over h2c (prior knowledge), h2load -c 10 -m 10: req/s,
#      ours against nginx (`listen ... http2` on a plain port);
#   2. GET /health over HTTP/1.1 keep-alive with the foundation bench's wrk
#      -t1 -c64: ours now, ours built from BENCH_BEFORE_REV (before the
#      middleware) and nginx;
#   3. TLS (one self-signed certificate for both servers): new full
#      handshakes per second (openssl s_time -new, ECDSA P-256 and RSA 2048)
#      and GET /health over h2 with TLS (h2load -c 10 -m 10 https://);
#   4. gzip on a ~10 KB JSON body priced in server CPU per request
#      (GZIP_MIN_SIZE default against gzip off, same request with
#      Accept-Encoding: gzip).
# It PRINTS figures beside their targets and asserts nothing: it exits 0 when
# a target is missed or when our server cannot do what a section measures
# (that section says so and the others run), non-zero only when a tool, the
# build or a server is unusable.
#
#   bash bench/http2.sh                       # full run (~4.5 min after the build)
#   BENCH_DURATION=3 bash bench/http2.sh      # smoke run (~1.5 min)
#   BENCH_SECTIONS="1 3" bash bench/http2.sh  # some sections only
#   BENCH_BEFORE_REV= bash bench/http2.sh     # section 2 without the old build
#   BENCH_BUILD=/path/to/build bash bench/http2.sh
#   GENKIT_BIN=/path/to/genkit-endpoints bash bench/http2.sh   # no build
#
# Everything stays on 127.0.0.1; every load is bounded by the client's own
# duration (h2load -D, wrk -d, s_time -time) and by a timeout.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-h2bench}
BEFORE_REV=${BENCH_BEFORE_REV-15d6224}          # empty: no "before" build in section 2
SECTIONS=" ${BENCH_SECTIONS:-1 2 3 4} "

DURATION=${BENCH_DURATION:-10}
if ! [[ $DURATION =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "http2.sh: BENCH_DURATION must be a whole number of seconds (1..9999), got '$DURATION'" >&2
  exit 2
fi
# Alternating rounds of every comparison (medians): 5 of BENCH_DURATION / 3 s
# (a pair of loads swings by a third when other work shares the CPUs); a
# smoke run below 6 s takes 3 of 1 s.
if ((DURATION >= 6)); then ROUNDS=5 ROUND_SECS=$((DURATION / 3)); else ROUNDS=3 ROUND_SECS=1; fi
WARMUP_SECS=1                                    # h2load: not counted
WORKERS=2
H2_ARGS=(-t 1 -c 10 -m 10)                       # sections 1 and 3: 10 connections x 10 streams
WRK_ARGS=(-t1 -c64)                              # section 2 and 4: the foundation bench's wrk
HS_PROCS=4                                       # section 3: parallel openssl s_time clients
GZIP_TEXT_CHARS=2450                             # section 4: a /generate-code description -> ~10 KB body
GZIP_OFF=1000000000                              # GZIP_MIN_SIZE that no body reaches
START_TIMEOUT=20
TARGET_RATIO=0.80                                # ours / nginx
TARGET_BEFORE_RATIO=0.95                         # now / before: "not worse", within round-to-round noise

log() { printf '[http2] %s\n' "$*" >&2; }
die() { printf '[http2] ERROR: %s\n' "$*" >&2; exit 1; }
want() { [[ $SECTIONS == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
need=()
for t in h2load:nghttp2-client wrk:wrk openssl:openssl curl:curl pgrep:procps ss:iproute2; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
find_nginx >/dev/null || need+=(nginx-light)
if ((${#need[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  log "installing ${need[*]}"
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >&2 || die "apt-get install ${need[*]} failed"
fi
NGINX=$(find_nginx) || die "nginx is missing"
"$NGINX" -V 2>&1 | grep -q -- --with-http_v2_module || die "$NGINX has no HTTP/2 module"
"$NGINX" -V 2>&1 | grep -q -- --with-http_ssl_module || die "$NGINX has no SSL module"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/genkit-h2bench.XXXXXX") || die "mktemp failed"
declare -A PID_OF PORT_OF
NGINX_PID=""
CLIENT_PIDS=()

stop_server() {  # stop_server NAME: the supervisor, then anything it left behind
  local pid=${PID_OF[$1]:-}
  [[ -z $pid ]] && return 0
  stop_tree "$pid" TERM 12
  unset "PID_OF[$1]"
}
cleanup() {
  local name p
  for p in "${CLIENT_PIDS[@]}"; do stop_pid "$p" TERM 2; done
  for name in "${!PID_OF[@]}"; do stop_server "$name"; done
  [[ -n $NGINX_PID ]] && stop_tree "$NGINX_PID" TERM 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- builds
# cmake_build SRC DIR [ARGS]: a Release build of genkit-endpoints (tests off when the
# directory is new; an existing directory keeps its own cache).
cmake_build() {  # cmake_build SRC DIR [CMAKE-ARGS...]
  local src=$1 dir=$2 args=(-S "$1" -B "$2"); shift 2
  mkdir -p "$dir"
  [[ -f $dir/CMakeCache.txt ]] || args+=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DGENKIT_BUILD_TESTS=OFF "$@")
  cmake "${args[@]}" >"$dir/h2bench-configure.log" 2>&1 || { tail -n 30 "$dir/h2bench-configure.log" >&2; return 1; }
  cmake --build "$dir" --target genkit-endpoints >"$dir/h2bench-build.log" 2>&1 ||
    { grep -m 8 -E 'error|Error' "$dir/h2bench-build.log" >&2; return 1; }
}
build_type() { sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$1/CMakeCache.txt" 2>/dev/null; }

if [[ -n ${GENKIT_BIN:-} ]]; then
  [[ -x $GENKIT_BIN ]] || die "GENKIT_BIN=$GENKIT_BIN is not an executable file"
  BIN=$GENKIT_BIN BIN_NOTE="given by GENKIT_BIN"
else
  command -v cmake >/dev/null && command -v ninja >/dev/null || bash "$ROOT/packaging/install-deps.sh" --run >&2 ||
    die "packaging/install-deps.sh failed"
  log "building genkit-endpoints in $BUILD (log: $BUILD/h2bench-build.log)"
  cmake_build "$ROOT" "$BUILD" || die "the build failed; no figures"
  BIN=$BUILD/supervisor/genkit-endpoints BIN_NOTE="$(build_type "$BUILD"), working tree, $BUILD"
fi

# The "before" binary: the tree of BEFORE_REV exported with `git archive`
# into the temp dir (the repository's work tree and .git stay untouched),
# built once with the same settings into build-h2bench-before-REV and reused;
# the exported sources go with the temp dir.
BEFORE_BIN="" BEFORE_NOTE=""
if want 2 && [[ -n $BEFORE_REV ]]; then
  if rev=$(git -C "$ROOT" rev-parse --short=7 --verify -q "$BEFORE_REV^{commit}"); then
    bdir=${BENCH_BEFORE_BUILD:-$ROOT/build-h2bench-before-$rev}
    if [[ ! -x $bdir/supervisor/genkit-endpoints ]]; then
      log "building $rev (before) in $bdir (a few minutes; kept for the next runs)"
      src=$TMP/before-src
      # a fresh build: the cache a failed one left names another source dir
      [[ -f $bdir/CMakeCache.txt ]] && rm -rf "$bdir"
      mkdir -p "$src" "$bdir"
      # its prompts are copied beside the build (the binary's default PROMPTS_DIR is the source's)
      if git -C "$ROOT" archive "$rev" | tar -x -C "$src" && cp -r "$src/prompts" "$bdir/prompts" &&
         cmake_build "$src" "$bdir" -DGENKIT_PROMPTS_DIR="$bdir/prompts"; then :; else
        BEFORE_NOTE="the build of $rev failed (see $bdir/h2bench-build.log)"
      fi
      rm -rf "$src"
    fi
    if [[ -x $bdir/supervisor/genkit-endpoints ]]; then
      BEFORE_BIN=$bdir/supervisor/genkit-endpoints
      BEFORE_NOTE="$rev ($(git -C "$ROOT" log -1 --format=%s "$rev" | cut -c1-60)...), $(build_type "$bdir"), $bdir"
    fi
  else
    BEFORE_NOTE="BENCH_BEFORE_REV=$BEFORE_REV is not a commit of this repository"
  fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- helpers
USED_PORTS=" "
new_port() {  # new_port VAR: a free port of 127.0.0.1 not handed out before in this run
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$(free_port) || return 1
    [[ $USED_PORTS == *" $p "* ]] && continue
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  return 1
}

median() { tr ' ' '\n' | grep . | grep -v n/a | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' | grep . | grep -v n/a | sort -g | awk '{ a[NR] = $1 } END {
  if (NR == 0) print "n/a"; else printf "%.0f-%.0f", a[1], a[NR] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
num() { [[ $1 == n/a || -z $1 ]] && { echo n/a; return; }; printf "%'.0f" "$1"; }
verdict() {  # verdict VALUE TARGET -> PASS / MISS (VALUE >= TARGET)
  awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && a != "" && a + 0 >= b + 0) ? "PASS" : "MISS" }'
}

# curl_probe OUT ARGS... : one request; prints "HTTP-VERSION STATUS" ("0 000" when it failed)
curl_probe() {
  local out=$1; shift
  curl -s -m 5 -o "$out" -w '%{http_version} %{http_code}' "$@" 2>"$out.err" || true
}

wait_up() {  # wait_up PID URL CURL-ARGS... : 0 once URL answers 200 while PID lives
  local pid=$1 url=$2 deadline=$((SECONDS + START_TIMEOUT)); shift 2
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(curl -s -m 1 -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null) == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

# start_ours NAME BIN [VAR=VALUE...]: the supervisor on a free port of
# 127.0.0.1, 2 workers, no gRPC, a clean environment, cwd the temp dir (no .env).
start_ours() {
  local name=$1 bin=$2 port scheme=http; shift 2
  new_port port || die "no free port for $name"
  [[ " $* " == *" TLS_CERT_FILE="* ]] && scheme=https
  (cd "$TMP" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" BIND_HOST=127.0.0.1 LOG_LEVEL=warning \
    MODEL=mock/echo MAX_REQUESTS=0 "$@" "$bin" --port "$port" --workers "$WORKERS" --no-grpc) \
    >"$TMP/server-$name.log" 2>&1 &
  PID_OF[$name]=$! PORT_OF[$name]=$port
  if ! wait_up "${PID_OF[$name]}" "$scheme://127.0.0.1:$port/health" -k --http1.1; then
    tail -n 20 "$TMP/server-$name.log" >&2
    die "server $name did not answer GET /health on 127.0.0.1:$port within ${START_TIMEOUT}s"
  fi
  local n; n=$(pgrep -c -P "${PID_OF[$name]}")
  [[ $n == "$WORKERS" ]] || log "NOTE: server $name has $n children, expected $WORKERS workers"
}

# run_h2load OUT URL : one h2load run of ROUND_SECS after WARMUP_SECS; sets
# H_RPS (n/a when nothing succeeded), H_OK, H_BAD (failed + errored + timeout +
# non-2xx), H_PROTO.
run_h2load() {
  local out=$1 url=$2
  timeout $((ROUND_SECS + WARMUP_SECS + 30)) h2load "${H2_ARGS[@]}" -D "$ROUND_SECS" --warm-up-time="$WARMUP_SECS" \
    "$url" >"$out" 2>&1
  H_RPS=$(awk '/^finished in/ { v = $4; gsub(/,/, "", v); print v }' "$out")
  H_OK=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^succeeded/) print $i }' "$out")
  H_BAD=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^(failed|errored|timeout)/) s += $i }
               /^status codes:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^[345]xx/) s += $i }
               END { print s + 0 }' "$out")
  H_PROTO=$(awk -F': ' '/^Application protocol:/ { print $2 }' "$out")
  H_OK=${H_OK:-0}
  [[ -z $H_RPS || $H_OK == 0 ]] && H_RPS=n/a
}

# run_wrk OUT URL [LUA] : one wrk run of ROUND_SECS; sets W_RPS W_COUNT W_BAD (non-2xx/3xx + socket errors)
run_wrk() {
  local out=$1 url=$2 lua=${3:-} args=("${WRK_ARGS[@]}" -d"${ROUND_SECS}s")
  [[ -n $lua ]] && args+=(-s "$lua")
  timeout $((ROUND_SECS + 30)) wrk "${args[@]}" "$url" >"$out" 2>&1
  W_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  W_COUNT=$(awk '/ requests in / { print $1; exit }' "$out")
  W_BAD=$(awk -F': *' '/Non-2xx or 3xx responses/ { s += $2 }
                 /Socket errors:/ { n = split($0, w, /[ ,]+/); for (i = 1; i <= n; i++) if (w[i] ~ /^[0-9]+$/) s += w[i] }
                 END { print s + 0 }' "$out")
  W_COUNT=${W_COUNT:-0}
  [[ -z $W_RPS || $W_COUNT == 0 ]] && W_RPS=n/a
}

# children_cpu VAR: user+sys seconds of this shell's reaped children (bash's
# `times`, run in this shell: a subshell would count its own children only).
children_cpu() {
  times >"$TMP/times.txt"
  printf -v "$1" '%s' "$(awk 'NR == 2 { for (i = 1; i <= NF; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); s += p[1] * 60 + p[2] } }
                              END { printf "%.3f", s }' "$TMP/times.txt")"
}

# run_handshakes OUT HOST:PORT : HS_PROCS `openssl s_time -new` clients at
# once for ROUND_SECS; each connects, completes a full handshake (no session
# offered), closes, and starts over. Sets S_RATE (handshakes/s over the wall
# time of the batch), S_COUNT, S_BAD (clients that stopped on a failure),
# S_CLIENT_US (the clients' own CPU per handshake).
run_handshakes() {
  local out=$1 hp=$2 i t0 t1 u0 u1 pids=()
  children_cpu u0
  t0=$(date +%s.%N)
  for ((i = 0; i < HS_PROCS; i++)); do
    timeout $((ROUND_SECS + 30)) openssl s_time -connect "$hp" -new -time "$ROUND_SECS" >"$out.$i" 2>&1 &
    pids+=($!)
  done
  CLIENT_PIDS=("${pids[@]}")
  for i in "${pids[@]}"; do wait "$i"; done
  CLIENT_PIDS=()
  t1=$(date +%s.%N)
  children_cpu u1
  S_COUNT=0 S_BAD=0
  for ((i = 0; i < HS_PROCS; i++)); do
    local n; n=$(awk '/connections in [0-9.]+s;/ { print $1; exit }' "$out.$i")
    if [[ -n $n ]]; then S_COUNT=$((S_COUNT + n)); else S_BAD=$((S_BAD + 1)); fi
  done
  S_RATE=$(awk -v n="$S_COUNT" -v a="$t0" -v b="$t1" 'BEGIN { if (n > 0 && b > a) printf "%.1f", n / (b - a); else print "n/a" }')
  S_CLIENT_US=$(awk -v n="$S_COUNT" -v a="$u0" -v b="$u1" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / n; else print "n/a" }')
}

# rounds KIND LABEL... : ROUNDS rounds of one load per label, the order rotated
# each round (A B, B A, A B, ...); the load's URL / host:port is TARGET_OF[label],
# the server's pid PIDOF[label]. Collects per-label rates, counts, bad
# responses and server CPU per request; prints one line per round.
declare -A TARGET_OF PIDOF LUA_OF RATES CPUS BAD PROTO CLIENT_US
rounds() {
  local kind=$1 r i l c0 c1 line rate count bad n; shift
  local labels=("$@")
  n=${#labels[@]}
  for l in "${labels[@]}"; do RATES[$l]="" CPUS[$l]="" BAD[$l]=0 PROTO[$l]="" CLIENT_US[$l]=""; done
  for ((r = 0; r < ROUNDS; r++)); do
    line="   round $((r + 1)):"
    for ((i = 0; i < n; i++)); do
      # rotate by one each round: with two labels A B, B A, A B
      l=${labels[$(( (i + r) % n ))]}
      c0=$(ticks "${PIDOF[$l]}")
      case $kind in
        h2)
          run_h2load "$TMP/$l-$r.txt" "${TARGET_OF[$l]}"
          rate=$H_RPS bad=$H_BAD PROTO[$l]=$H_PROTO
          # CPU over warm-up + window: divide by every request made then
          count=$(awk -v r="$H_RPS" -v s="$ROUND_SECS" -v w="$WARMUP_SECS" 'BEGIN { print (r == "n/a") ? 0 : int(r * (s + w)) }') ;;
        wrk)
          run_wrk "$TMP/$l-$r.txt" "${TARGET_OF[$l]}" "${LUA_OF[$l]:-}"
          rate=$W_RPS bad=$W_BAD count=$W_COUNT ;;
        hs)
          run_handshakes "$TMP/$l-$r.txt" "${TARGET_OF[$l]}"
          rate=$S_RATE bad=$S_BAD count=$S_COUNT CLIENT_US[$l]+=" $S_CLIENT_US" ;;
      esac
      c1=$(ticks "${PIDOF[$l]}")
      RATES[$l]+=" $rate" CPUS[$l]+=" $(us_per $((c1 - c0)) "$count")" BAD[$l]=$(( BAD[$l] + bad ))
      line+=$(printf '  %s %s' "$l" "$(num "$rate")")
      sleep 0.5
    done
    echo "$line"
  done
}
med() { median <<<"${RATES[$1]}"; }
# paired A B: the ratio A/B of each round (the two loads ran back to back), as
# "median (min-max)": steadier than the ratio of medians when the machine's
# other work changes between rounds.
paired() {
  local a b i list=""
  read -ra a <<<"${RATES[$1]}"
  read -ra b <<<"${RATES[$2]}"
  for ((i = 0; i < ${#a[@]} && i < ${#b[@]}; i++)); do list+=" $(ratio "${a[$i]}" "${b[$i]}")"; done
  printf '%s (%s)' "$(median <<<"$list")" "$(tr ' ' '\n' <<<"$list" | grep . | grep -v n/a | sort -g | sed -n '1p;$p' | paste -sd-)"
}
medcpu() { median <<<"${CPUS[$1]}"; }

# ---------------------------------------------------------------- header
echo "genkit-endpoints HTTP/2, TLS and gzip benchmark -- $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "host     : nproc $(nproc), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "genkit   : $BIN ($BIN_NOTE)"
echo "           --workers $WORKERS --no-grpc, cwd a temp dir, clean environment with BIND_HOST=127.0.0.1"
echo "           LOG_LEVEL=warning MODEL=mock/echo MAX_REQUESTS=0 (+ per section: TLS_*, GZIP_MIN_SIZE, ...)"
if want 2; then
  echo "before   : ${BEFORE_BIN:-none} ${BEFORE_NOTE:+($BEFORE_NOTE)}"
fi
echo "nginx    : $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $WORKERS, access_log off, private prefix"
echo "clients  : $(h2load --version 2>&1 | head -n1) ${H2_ARGS[*]}; $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2) ${WRK_ARGS[*]};"
echo "           $(openssl version | cut -d' ' -f1-2) s_time x $HS_PROCS; $ROUNDS rounds of ${ROUND_SECS}s per load, order rotated, medians"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "NOTE     : the machine is busy before the run (load $LOAD1 on $(nproc) CPUs): figures are noisy"
fi

# ---------------------------------------------------------------- certificates, nginx
mkdir -p "$TMP/nginx" "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls/ec.key" -out "$TMP/tls/ec.crt" >"$TMP/tls/ec.log" 2>&1 ||
  { cat "$TMP/tls/ec.log" >&2; die "openssl could not make the EC test certificate"; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls/rsa.key" -out "$TMP/tls/rsa.crt" >"$TMP/tls/rsa.log" 2>&1 ||
  { cat "$TMP/tls/rsa.log" >&2; die "openssl could not make the RSA test certificate"; }

for v in NG_H1 NG_H2C NG_EC NG_RSA; do new_port "$v" || die "no free ports for nginx"; done
NGINX_USER=""
[[ $(id -u) -eq 0 ]] && NGINX_USER="user root;"   # as root, nginx would switch its workers to nobody
HEALTH_LOC='location = /health { default_type application/json; return 200 '"'"'{"status":"ok"}'"'"'; }'
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes $WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;   # its default 1000 ends an h2 connection after 1000 streams (h2load -D never reconnects)
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server { listen 127.0.0.1:$NG_H1; $HEALTH_LOC }
  server { listen 127.0.0.1:$NG_H2C http2; $HEALTH_LOC }
  server {
    listen 127.0.0.1:$NG_EC ssl http2;
    ssl_certificate $TMP/tls/ec.crt; ssl_certificate_key $TMP/tls/ec.key; ssl_protocols TLSv1.2 TLSv1.3;
    $HEALTH_LOC
  }
  server {
    listen 127.0.0.1:$NG_RSA ssl http2;
    ssl_certificate $TMP/tls/rsa.crt; ssl_certificate_key $TMP/tls/rsa.key; ssl_protocols TLSv1.2 TLSv1.3;
    $HEALTH_LOC
  }
}
EOF
"$NGINX" -t -q -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/test.log" 2>&1 ||
  { cat "$TMP/nginx/test.log" "$TMP/nginx/error.log" >&2 2>/dev/null; die "nginx rejected its config"; }
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
wait_up "$NGINX_PID" "http://127.0.0.1:$NG_H1/health" ||
  { cat "$TMP/nginx/stdout.log" "$TMP/nginx/error.log" >&2 2>/dev/null; die "nginx did not start"; }
[[ $(curl_probe "$TMP/ng-h2c.txt" --http2-prior-knowledge "http://127.0.0.1:$NG_H2C/health") == "2 200" ]] ||
  die "nginx does not answer h2c on $NG_H2C: $(cat "$TMP/ng-h2c.txt.err")"
[[ $(curl_probe "$TMP/ng-tls.txt" -k --http2 "https://127.0.0.1:$NG_EC/health") == "2 200" ]] ||
  die "nginx does not answer h2 with TLS on $NG_EC: $(cat "$TMP/ng-tls.txt.err")"

# Summary rows, filled in by the sections.
SUMMARY=()
row() { SUMMARY+=("$(printf '%-36s %12s   %-62s %-12s %s' "$@")"); }
section_failed() { row "$1" "FAILED" "$2" "" ""; }

# ---------------------------------------------------------------- 1. h2c
start_plain() { [[ -n ${PID_OF[now]:-} ]] || start_ours now "$BIN"; }
if want 1; then
  echo
  echo "== 1. GET /health over h2c (prior knowledge): h2load ${H2_ARGS[*]}, $ROUNDS rounds of ${ROUND_SECS}s (+${WARMUP_SECS}s warm-up)"
  start_plain
  P=${PORT_OF[now]}
  probe=$(curl_probe "$TMP/h2c.txt" --http2-prior-knowledge "http://127.0.0.1:$P/health")
  TARGET_OF[nginx-h2c]="http://127.0.0.1:$NG_H2C/health" PIDOF[nginx-h2c]=$NGINX_PID
  if [[ $probe == "2 200" ]] && grep -q '"status":"ok"' "$TMP/h2c.txt"; then
    echo "   probe: curl --http2-prior-knowledge -> HTTP/2 200 $(head -c 80 "$TMP/h2c.txt")"
    TARGET_OF[ours-h2c]="http://127.0.0.1:$P/health" PIDOF[ours-h2c]=${PID_OF[now]}
    rounds h2 ours-h2c nginx-h2c
    r=$(ratio "$(med ours-h2c)" "$(med nginx-h2c)")
    echo "   ours $(num "$(med ours-h2c)") req/s (${PROTO[ours-h2c]:-?}, rounds $(spread <<<"${RATES[ours-h2c]}"), ${BAD[ours-h2c]} bad, server CPU $(medcpu ours-h2c) us/req)"
    echo "   nginx $(num "$(med nginx-h2c)") req/s (${PROTO[nginx-h2c]:-?}, rounds $(spread <<<"${RATES[nginx-h2c]}"), ${BAD[nginx-h2c]} bad, server CPU $(medcpu nginx-h2c) us/req)"
    row "1. h2c GET /health req/s" "$(num "$(med ours-h2c)")" "nginx $(num "$(med nginx-h2c)"), ratio $r; per round $(paired ours-h2c nginx-h2c)" "(>= $TARGET_RATIO)" "$(verdict "$r" "$TARGET_RATIO")"
    row "   server CPU us/req, bad responses" "$(medcpu ours-h2c)" "nginx $(medcpu nginx-h2c); bad ours ${BAD[ours-h2c]}, nginx ${BAD[nginx-h2c]}" "(info)" ""
  else
    why="curl --http2-prior-knowledge got '${probe}' $(head -c 120 "$TMP/h2c.txt.err" | tr '\n' ' ')"
    echo "   FAILED: genkit-endpoints does not answer h2c: $why"
    echo "   (nginx alone, for reference)"
    rounds h2 nginx-h2c
    section_failed "1. h2c GET /health req/s" "ours: no h2c ($why); nginx $(num "$(med nginx-h2c)")"
  fi
fi

# ---------------------------------------------------------------- 2. HTTP/1.1
if want 2; then
  echo
  echo "== 2. GET /health over HTTP/1.1 keep-alive: wrk ${WRK_ARGS[*]} (the foundation bench's load), $ROUNDS rounds of ${ROUND_SECS}s"
  start_plain
  TARGET_OF[now]="http://127.0.0.1:${PORT_OF[now]}/health" PIDOF[now]=${PID_OF[now]}
  TARGET_OF[nginx-h1]="http://127.0.0.1:$NG_H1/health" PIDOF[nginx-h1]=$NGINX_PID
  labels=(now nginx-h1)
  if [[ -n $BEFORE_BIN ]]; then
    start_ours before "$BEFORE_BIN"
    TARGET_OF[before]="http://127.0.0.1:${PORT_OF[before]}/health" PIDOF[before]=${PID_OF[before]}
    labels=(now before nginx-h1)
  else
    echo "   no before build: ${BEFORE_NOTE:-BENCH_BEFORE_REV is empty}"
  fi
  rounds wrk "${labels[@]}"
  for l in "${labels[@]}"; do
    printf '   %-9s %10s req/s (rounds %s, %s non-2xx/socket errors, server CPU %s us/req)\n' "$l" "$(num "$(med "$l")")" \
      "$(spread <<<"${RATES[$l]}")" "${BAD[$l]}" "$(medcpu "$l")"
  done
  r=$(ratio "$(med now)" "$(med nginx-h1)")
  row "2. HTTP/1.1 GET /health req/s, now" "$(num "$(med now)")" "nginx $(num "$(med nginx-h1)"), ratio $r; per round $(paired now nginx-h1)" "(>= $TARGET_RATIO)" "$(verdict "$r" "$TARGET_RATIO")"
  if [[ -n $BEFORE_BIN ]]; then
    rb=$(ratio "$(med now)" "$(med before)")
    row "   now / before ($rev)" "$rb" "before $(num "$(med before)") req/s; per round $(paired now before)" "(>= $TARGET_BEFORE_RATIO)" "$(verdict "$rb" "$TARGET_BEFORE_RATIO")"
    row "   server CPU us/req now / before" "$(medcpu now) / $(medcpu before)" "nginx $(medcpu nginx-h1); non-2xx ${BAD[now]} / ${BAD[before]}" "(info)" ""
    stop_server before
  else
    row "   now / before" "n/a" "${BEFORE_NOTE:-BENCH_BEFORE_REV is empty}" "" ""
    row "   server CPU us/req now" "$(medcpu now)" "nginx $(medcpu nginx-h1); non-2xx ${BAD[now]}" "(info)" ""
  fi
fi
stop_server now

# ---------------------------------------------------------------- 3. TLS
if want 3; then
  echo
  echo "== 3. TLS, one self-signed certificate per key type for both servers (nginx: ssl_protocols TLSv1.2 TLSv1.3)"
  start_ours tls-ec "$BIN" TLS_CERT_FILE="$TMP/tls/ec.crt" TLS_KEY_FILE="$TMP/tls/ec.key"
  start_ours tls-rsa "$BIN" TLS_CERT_FILE="$TMP/tls/rsa.crt" TLS_KEY_FILE="$TMP/tls/rsa.key"
  echo "   new full handshakes/s: $HS_PROCS x openssl s_time -new -time $ROUND_SECS (connect, handshake, close; no session"
  echo "   resumption), $ROUNDS rounds; server CPU per handshake from /proc"
  for kt in ec rsa; do
    TARGET_OF[ours-$kt]="127.0.0.1:${PORT_OF[tls-$kt]}" PIDOF[ours-$kt]=${PID_OF[tls-$kt]}
    [[ $kt == ec ]] && np=$NG_EC || np=$NG_RSA
    TARGET_OF[nginx-$kt]="127.0.0.1:$np" PIDOF[nginx-$kt]=$NGINX_PID
    # the negotiated parameters, once per server
    for l in ours-$kt nginx-$kt; do
      echo | timeout 10 openssl s_client -connect "${TARGET_OF[$l]}" -brief >"$TMP/sc-$l.txt" 2>&1
      echo "   $l: $(grep -E '^(Protocol version|Ciphersuite|Signature type|Server Temp Key)' "$TMP/sc-$l.txt" | cut -d: -f2- | tr '\n' ',' | sed 's/^ //; s/,$//; s/, */, /g')"
    done
    rounds hs "ours-$kt" "nginx-$kt"
    name=$([[ $kt == ec ]] && echo "ECDSA P-256" || echo "RSA 2048")
    r=$(ratio "$(med ours-$kt)" "$(med nginx-$kt)")
    echo "   $name: ours $(num "$(med ours-$kt)")/s (server CPU $(medcpu ours-$kt) us each), nginx $(num "$(med nginx-$kt)")/s ($(medcpu nginx-$kt) us each);"
    echo "   the s_time clients' own CPU per handshake $(median <<<"${CLIENT_US[ours-$kt]}") / $(median <<<"${CLIENT_US[nginx-$kt]}") us; failed clients ${BAD[ours-$kt]} / ${BAD[nginx-$kt]}"
    if [[ ${BAD[ours-$kt]} -gt 0 ]]; then
      echo "   ours, a failed s_time client said: $(grep -v '^\*' "$TMP/ours-$kt"-*.txt.* 2>/dev/null | grep -m 3 -i -E 'error|unable' | cut -c1-160)"
    fi
    row "3. TLS handshakes/s, $name" "$(num "$(med ours-$kt)")" "nginx $(num "$(med nginx-$kt)"), ratio $r; per round $(paired ours-$kt nginx-$kt)" "(>= $TARGET_RATIO)" "$(verdict "$r" "$TARGET_RATIO")"
    row "   server CPU us/handshake" "$(medcpu ours-$kt)" "nginx $(medcpu nginx-$kt) (ratio $(ratio "$(medcpu nginx-$kt)" "$(medcpu ours-$kt)")); s_time's own $(median <<<"${CLIENT_US[ours-$kt]}") / $(median <<<"${CLIENT_US[nginx-$kt]}")" "(info)" ""
    row "   failed s_time clients" "${BAD[ours-$kt]}" "nginx ${BAD[nginx-$kt]} (of $((HS_PROCS * ROUNDS)) each)" "(0)" "$( ((BAD[ours-$kt] == 0)) && echo PASS || echo MISS)"
  done
  stop_server tls-rsa

  echo
  echo "   GET /health over h2 with TLS (ECDSA certificate): h2load ${H2_ARGS[*]} https://, $ROUNDS rounds of ${ROUND_SECS}s (+${WARMUP_SECS}s warm-up)"
  P=${PORT_OF[tls-ec]}
  probe=$(curl_probe "$TMP/tls-h2.txt" -k --http2 "https://127.0.0.1:$P/health")
  TARGET_OF[nginx-tls]="https://127.0.0.1:$NG_EC/health" PIDOF[nginx-tls]=$NGINX_PID
  if [[ $probe == "2 200" ]] && grep -q '"status":"ok"' "$TMP/tls-h2.txt"; then
    echo "   probe: curl -k --http2 -> HTTP/2 200 $(head -c 80 "$TMP/tls-h2.txt")"
    TARGET_OF[ours-tls]="https://127.0.0.1:$P/health" PIDOF[ours-tls]=${PID_OF[tls-ec]}
    rounds h2 ours-tls nginx-tls
    r=$(ratio "$(med ours-tls)" "$(med nginx-tls)")
    echo "   ours $(num "$(med ours-tls)") req/s (${PROTO[ours-tls]:-?}, ${BAD[ours-tls]} bad, server CPU $(medcpu ours-tls) us/req), nginx $(num "$(med nginx-tls)") req/s (${PROTO[nginx-tls]:-?}, ${BAD[nginx-tls]} bad, $(medcpu nginx-tls) us/req)"
    row "3. h2+TLS GET /health req/s" "$(num "$(med ours-tls)")" "nginx $(num "$(med nginx-tls)"), ratio $r; per round $(paired ours-tls nginx-tls)" "(>= $TARGET_RATIO)" "$(verdict "$r" "$TARGET_RATIO")"
    row "   server CPU us/req, bad responses" "$(medcpu ours-tls)" "nginx $(medcpu nginx-tls); bad ours ${BAD[ours-tls]}, nginx ${BAD[nginx-tls]}" "(info)" ""
  else
    h1=$(curl_probe "$TMP/tls-h1.txt" -k --http1.1 "https://127.0.0.1:$P/health")
    why="curl -k --http2 got '${probe}' $(head -c 120 "$TMP/tls-h2.txt.err" | tr '\n' ' ')(over HTTP/1.1: '$h1')"
    echo "   FAILED: genkit-endpoints does not answer h2 over TLS: $why"
    echo "   (nginx alone, for reference)"
    rounds h2 nginx-tls
    section_failed "3. h2+TLS GET /health req/s" "ours: no h2 ($why); nginx $(num "$(med nginx-tls)")"
  fi
  stop_server tls-ec
fi

# ---------------------------------------------------------------- 4. gzip
if want 4; then
  echo
  echo "== 4. gzip of a ~10 KB JSON body: POST /generate-code (mock/echo echoes the description into the 4 fields"
  echo "      of its answer), Accept-Encoding: gzip; GZIP_MIN_SIZE default vs $GZIP_OFF (off); CACHE_ENABLED=false"
  echo "      RATE_LIMIT_ENABLED=false on both; wrk ${WRK_ARGS[*]}, $ROUNDS rounds of ${ROUND_SECS}s; server CPU from /proc"
  # A description of English-like words (a fixed pseudo-random pick from a small
  # vocabulary), so deflate works on text that is neither random nor one repeat.
  DESC=$(awk -v n="$GZIP_TEXT_CHARS" 'BEGIN {
    nw = split("the a of to and in is it that for on with as was be by this are from at or an have not which but " \
               "one all they their more can has will its if about been were when there some would other into what " \
               "time only new these also may any then than after first use most over two made such how very through " \
               "where between each work both part system data value user request server model order field list " \
               "error cache token stream code note number string return function check prime loop", w, " ")
    s = 42; out = ""
    while (length(out) < n) { s = (s * 16807) % 2147483647; out = out (out == "" ? "" : " ") w[s % nw + 1] }
    print substr(out, 1, n) }')
  BODY="{\"description\":\"$DESC\",\"language\":\"python\"}"
  printf '%s' "$BODY" >"$TMP/gzip-body.json"
  {
    echo 'wrk.method = "POST"'
    echo "wrk.body = [==[$BODY]==]"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    echo 'wrk.headers["Accept-Encoding"] = "gzip"'
  } >"$TMP/gzip.lua"
  GZ_ENV=(CACHE_ENABLED=false RATE_LIMIT_ENABLED=false)
  start_ours gz-on "$BIN" "${GZ_ENV[@]}"
  start_ours gz-off "$BIN" "${GZ_ENV[@]}" GZIP_MIN_SIZE=$GZIP_OFF
  gz_ok=1
  for l in gz-on gz-off; do
    u="http://127.0.0.1:${PORT_OF[$l]}/generate-code"
    plain=$(curl -s -m 5 -o "$TMP/$l.plain" -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
      --data-binary "@$TMP/gzip-body.json" "$u")
    zipped=$(curl -s -m 5 -D "$TMP/$l.hdr" -o "$TMP/$l.gz" -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
      -H 'Accept-Encoding: gzip' --data-binary "@$TMP/gzip-body.json" "$u")
    enc=$(awk -F': *' 'tolower($1) == "content-encoding" { gsub(/\r/, "", $2); print $2 }' "$TMP/$l.hdr")
    echo "   $l: without Accept-Encoding HTTP ${plain% *}, ${plain#* } bytes; with gzip HTTP ${zipped% *}, ${zipped#* } bytes, Content-Encoding: ${enc:-none}"
    [[ ${plain% *} == 200 && ${zipped% *} == 200 ]] || gz_ok=0
    [[ $l == gz-on ]] && { PLAIN_SIZE=${plain#* } GZ_SIZE=${zipped#* } GZ_ENC=${enc:-none}; }
    [[ $l == gz-off && -n $enc ]] && { echo "   gz-off still compresses"; gz_ok=0; }
    TARGET_OF[$l]=$u PIDOF[$l]=${PID_OF[$l]} LUA_OF[$l]=$TMP/gzip.lua
  done
  if [[ $gz_ok == 1 && $GZ_ENC == gzip ]] && gunzip -c "$TMP/gz-on.gz" | cmp -s - "$TMP/gz-on.plain"; then
    rounds wrk gz-on gz-off
    on=$(medcpu gz-on) off=$(medcpu gz-off)
    delta=$(awk -v a="$on" -v b="$off" 'BEGIN { if (a != "n/a" && b != "n/a") printf "%+.1f", a - b; else print "n/a" }')
    echo "   gzip on : $(num "$(med gz-on)") req/s, server CPU $on us/req (rounds $(tr ' ' '\n' <<<"${CPUS[gz-on]}" | grep . | tr '\n' ' '))"
    echo "   gzip off: $(num "$(med gz-off)") req/s, server CPU $off us/req (rounds $(tr ' ' '\n' <<<"${CPUS[gz-off]}" | grep . | tr '\n' ' '))"
    echo "   non-2xx/socket errors: ${BAD[gz-on]} / ${BAD[gz-off]}"
    # The floor: zlib alone on the same body at the same settings (level 6, gzip wrapper), in this process.
    ZLIB_US=n/a
    if command -v python3 >/dev/null; then
      ZLIB_US=$(timeout 60 python3 -c 'import sys, time, zlib
body = open(sys.argv[1], "rb").read()
best = None
for _ in range(5):
    t = time.process_time()
    for _ in range(200):
        z = zlib.compressobj(6, zlib.DEFLATED, 31, 8); z.compress(body); z.flush()
    d = (time.process_time() - t) / 200
    best = d if best is None or d < best else best
print(f"{best * 1e6:.1f}")' "$TMP/gz-on.plain" 2>/dev/null || echo n/a)
      echo "   zlib alone (python3 zlib, level 6, gzip wrapper) on the same ${PLAIN_SIZE}-byte body: $ZLIB_US us of CPU (best of 5 x 200)"
    fi
    row "4. gzip: server CPU us/req on / off" "$on / $off" "gzip costs $delta us/req; $(num "$(med gz-on)") / $(num "$(med gz-off)") req/s" "(info)" ""
    row "   body bytes plain -> gzip" "$PLAIN_SIZE -> $GZ_SIZE" "$(ratio "$PLAIN_SIZE" "$GZ_SIZE")x smaller; zlib alone $ZLIB_US us; bad ${BAD[gz-on]} / ${BAD[gz-off]}" "(info)" ""
  else
    echo "   FAILED: the probes above did not show gzip on one side and a plain body on the other"
    section_failed "4. gzip CPU per request" "probe failed (see section 4 above)"
  fi
  stop_server gz-on
  stop_server gz-off
fi

# ---------------------------------------------------------------- summary
echo
echo "==================== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg), nproc $(nproc), medians of $ROUNDS rounds)"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "ratios are measured side by side on one machine whose CPUs the clients share; compare them, not the absolute rates."
exit 0

#!/usr/bin/env bash
# Installs the Debian package into a freshly booted Debian (systemd as PID 1
# under systemd-nspawn) and checks what the package and its units promise.
#
#   packaging/test-in-nspawn.sh [--deb FILE] [--pending-ok] [--keep]
#
#   --deb FILE    test this .deb instead of building one with build-deb.sh
#   --pending-ok  report, but do not fail on, the FEATURE checks (for a
#                 package built from a tree without those supervisor features)
#   --keep        keep the work directory (boot log, container changes)
#
# Phases (each timed): build the .deb (packaging/build-deb.sh), make or reuse
# a cached debootstrap root with the package's runtime dependencies
# (NSPAWN_CACHE, default /var/cache/genkit-endpoints-nspawn/<codename>; the
# mirror is the one this machine's apt uses), boot a throw-away overlay of it
# with `systemd-nspawn --boot --private-network`, run the checks inside, and
# tear the container down on every exit path.
#
# Checks are of two kinds, reported apart: CORE ones test the package and
# the units; FEATURE ones test what the units rely on the supervisor for
# (WATCHDOG=1, taking its ports from LISTEN_FDS: zero refused connections
# across a restart or an upgrade). Any failure fails the run (FEATURE ones
# not with --pending-ok).
#
# Environment: VERBOSE=1 (every check's output), NSPAWN_CACHE, CODENAME
# (default: this machine's), MIRROR (default: this machine's apt source for
# CODENAME), KEEP_BUILD=1 / LINTIAN=0 (passed to build-deb.sh). Needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEB=""
PENDING_OK=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) DEB="$(realpath "$2")"; shift 2 ;;
    --pending-ok) PENDING_OK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-in-nspawn: unknown argument $1" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "test-in-nspawn: needs root (debootstrap, mount, systemd-nspawn)" >&2; exit 2; }

CODENAME="${CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
CACHE="${NSPAWN_CACHE:-/var/cache/genkit-endpoints-nspawn}"
BASE="$CACHE/$CODENAME"
WORK="$(mktemp -d /var/tmp/genkit-endpoints-nspawn.XXXXXX)"
MACHINE="genkit-endpoints-test-$$"
START=$SECONDS
NSPAWN_PID=""
LEADER=""
OVERLAY=0
PHASES=()
CORE_PASS=0 CORE_FAIL=0 FEAT_PASS=0 FEAT_FAIL=0
RESULTS=()

say() { printf '[%4ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { say "ERROR: $*"; exit 1; }

phase_start() { PHASE_NAME=$1; PHASE_T0=$SECONDS; say "== $1"; }
phase_end() { PHASES+=("$(printf '%-34s %4ds' "$PHASE_NAME" "$((SECONDS - PHASE_T0))")"); }

# --- cleanup on every exit path -------------------------------------------
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    # SIGTERM makes systemd-nspawn power the container off; SIGKILL after 15 s.
    kill -TERM "$NSPAWN_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
      kill -KILL "$NSPAWN_PID" 2>/dev/null || true
      [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null || true
    fi
    wait "$NSPAWN_PID" 2>/dev/null || true
  fi
  if [ "$OVERLAY" = 1 ]; then
    umount "$WORK/root" 2>/dev/null || umount -l "$WORK/root" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then
    say "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# --- results --------------------------------------------------------------
# check CORE|FEATURE NAME COMMAND...: runs COMMAND (a function), records
# PASS or FAIL; the command's output is shown when it fails.
check() {
  local kind=$1 name=$2; shift 2
  local t0=$SECONDS out rc=0
  out=$("$@" 2>&1) || rc=$?
  local dt=$((SECONDS - t0)) verdict
  if [ "$kind" = CORE ]; then
    if [ $rc -eq 0 ]; then verdict=PASS; CORE_PASS=$((CORE_PASS + 1)); else verdict=FAIL; CORE_FAIL=$((CORE_FAIL + 1)); fi
  else
    if [ $rc -eq 0 ]; then verdict=PASS; FEAT_PASS=$((FEAT_PASS + 1)); else verdict=FAIL; FEAT_FAIL=$((FEAT_FAIL + 1)); fi
  fi
  RESULTS+=("$(printf '%-7s %-8s %-62s %3ds' "$kind" "$verdict" "$name" "$dt")")
  say "$kind $verdict: $name (${dt}s)"
  if [ -n "$out" ] && { [ $rc -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; }; then printf '%s\n' "$out" | sed 's/^/    | /'; fi
  return 0
}
skip() {  # skip KIND NAME REASON
  RESULTS+=("$(printf '%-7s %-8s %-62s %3s' "$1" SKIPPED "$2" "-")")
  if [ "$1" = FEATURE ]; then FEAT_FAIL=$((FEAT_FAIL + 1)); else CORE_FAIL=$((CORE_FAIL + 1)); fi
  say "$1 SKIPPED: $2 ($3)"
}

# --- the host's apt configuration (no mirror name is written anywhere) ------
# Prints "URI SUITE COMPONENTS..." for each deb source of this machine whose
# suite is CODENAME or CODENAME-something (one-line and deb822 formats).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v c="$CODENAME" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = $i; suite = $(i + 1); comps = ""
        for (j = i + 2; j <= NF && $j !~ /^#/; j++) comps = comps " " $j
        if (suite == c || index(suite, c "-") == 1) print uri, suite comps
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v c="$CODENAME" '
      function flush(   n, m, k, s, u, ns, nu) {
        if (types ~ /(^| )deb( |$)/ && enabled !~ /^no$/) {
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (m = 1; m <= nu; m++) for (k = 1; k <= ns; k++)
            if (s[k] == c || index(s[k], c "-") == 1) print u[m], s[k], comps
        }
        types = uris = suites = comps = enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0; next }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0; next }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0; next }
      /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0; next }
      /^Enabled:/ { sub(/^Enabled:[ \t]*/, ""); enabled = tolower($0); next }
      END { flush() }' "$f"
  done
}

nspawn_run() {  # runs a command in the cached root (not booted; host network)
  # (nspawn's note about not removing its propagation directory, which is on
  # disk here rather than on a tmpfs /run, is noise.)
  timeout 900 systemd-nspawn -q -D "$BASE" --register=no --keep-unit --pipe \
    -E DEBIAN_FRONTEND=noninteractive -E LANG=C.UTF-8 "$@" \
    2> >(grep -v 'Attempted to remove disk file system under' >&2)
}

# --- in the booted container ----------------------------------------------
cexec() {  # cexec CMD...: runs CMD inside the booted container, 60 s at most
  timeout "${CEXEC_TIMEOUT:-60}" nsenter -t "$LEADER" -a -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}
csh() { cexec /bin/sh -c "$1"; }
main_pid() { cexec systemctl show -P MainPID genkit-endpoints.service; }
wait_until() {  # wait_until SECONDS SHELL-CONDITION (run inside)
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    csh "$2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  csh "$2"
}

# =========================================================================
phase_start "install packaging tools"
bash "$ROOT/packaging/install-deps.sh" --package >/dev/null
phase_end

if [ -z "$DEB" ]; then
  phase_start "build .deb (build-deb.sh)"
  DEB=$(bash "$ROOT/packaging/build-deb.sh" "$WORK/out" 2> >(sed 's/^/    /' >&2) | tail -1)
  [ -f "$DEB" ] || die "build-deb.sh left no .deb"
  phase_end
fi
say "package: $(basename "$DEB")"

# --- the cached root ------------------------------------------------------
phase_start "debootstrap root (cached)"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 1800 -x 9 || die "another run holds $CACHE/.lock"
if [ ! -f "$BASE/.genkit-endpoints-root" ]; then
  MIRROR="${MIRROR:-$(apt_sources | awk -v c="$CODENAME" '$2 == c { print $1; exit }')}"
  [ -n "$MIRROR" ] || die "no deb source for $CODENAME in /etc/apt/sources.list*; set MIRROR"
  say "debootstrap $CODENAME into $BASE (once; mirror from this machine's apt sources)"
  rm -rf "$BASE.tmp"
  timeout 1200 debootstrap --variant=minbase --include=systemd,dbus,curl \
    "$CODENAME" "$BASE.tmp" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  # The container's apt uses the same sources as this machine.
  apt_sources | awk '{ printf "deb %s", $1; for (i = 2; i <= NF; i++) printf " %s", $i; print "" }' \
    >"$BASE.tmp/etc/apt/sources.list"
  echo "genkit-endpoints-test" >"$BASE.tmp/etc/hostname"
  touch "$BASE.tmp/.genkit-endpoints-root"
  rm -rf "$BASE"
  mv "$BASE.tmp" "$BASE"
fi
phase_end

phase_start "runtime dependencies in root"
# Depends of the .deb, first alternative of each, without versions.
DEPS=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | sort -u | tr '\n' ' ')
say "Depends: $DEPS"
# What would `apt install ./pkg.deb` need besides the package? (offline)
sim=$(nspawn_run --bind-ro="$DEB:/tmp/pkg.deb" -- apt-get install -s --no-install-recommends /tmp/pkg.deb 2>&1 || true)
if ! printf '%s\n' "$sim" | grep -q '^Inst genkit-endpoints ' || printf '%s\n' "$sim" | grep '^Inst ' | grep -qv '^Inst genkit-endpoints '; then
  say "installing into the cached root: $DEPS"
  nspawn_run -- sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $DEPS >/dev/null && apt-get clean" ||
    die "could not install the runtime dependencies into $BASE"
fi
flock -s 9  # keep the root unchanged while this run uses it
phase_end

# --- boot -----------------------------------------------------------------
phase_start "boot container"
mkdir -p "$WORK/root" "$WORK/upper" "$WORK/ovwork"
if mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$WORK/upper,workdir=$WORK/ovwork" "$WORK/root" 2>/dev/null; then
  OVERLAY=1
else
  say "overlayfs unavailable: copying the root"
  cp -a --reflink=auto "$BASE/." "$WORK/root/"
fi
cp "$DEB" "$WORK/root/root/"
cp "$ROOT/packaging/check-env-file.sh" "$WORK/root/root/"
cat >"$WORK/root/root/curl-loop.sh" <<'EOF'
#!/bin/sh
# curl-loop.sh URL SECONDS OUT: GET URL one request after another for
# SECONDS; writes "ok failed" to OUT and each failure to OUT.failures.
url=$1 secs=$2 out=$3
end=$(( $(date +%s) + secs )); ok=0; bad=0
: > "$out.failures"
while [ "$(date +%s)" -lt "$end" ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$url") || true
  if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "$(date +%T.%N) http=$code" >> "$out.failures"; fi
done
echo "$ok $bad" > "$out"
EOF
chmod +x "$WORK/root/root/curl-loop.sh"
# A 150-byte JSON body for /tell-joke (the MAX_BODY_SIZE=100 check).
printf '{"name":"%s"}' "$(printf 'x%.0s' $(seq 1 139))" >"$WORK/root/root/body150.json"
[ "$(stat -c %s "$WORK/root/root/body150.json")" = 150 ] || die "body150.json is not 150 bytes"

systemd-nspawn -q -b -D "$WORK/root" -M "$MACHINE" --register=no --keep-unit --private-network \
  --console=read-only >"$WORK/boot.log" 2>&1 </dev/null &
NSPAWN_PID=$!
# The container's init: a child of systemd-nspawn in another PID namespace
# that has exec'd systemd (nspawn's intermediate children come and go).
find_leader() {
  local p
  for p in $(pgrep -P "$NSPAWN_PID" 2>/dev/null); do
    if [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ] &&
       [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ]; then
      echo "$p"; return 0
    fi
  done
  return 1
}
for _ in $(seq 1 300); do
  LEADER=$(find_leader) && break
  kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$WORK/boot.log"; die "systemd-nspawn exited"; }
  sleep 0.1
done
[ -n "$LEADER" ] || die "no container init found"
# systemctl answers once PID 1 has its private socket; then wait for boot.
state=""
for _ in $(seq 1 300); do
  state=$(CEXEC_TIMEOUT=90 cexec systemctl is-system-running --wait 2>&1 || true)
  # ("offline": /run/systemd/system does not exist yet.)
  case "$state" in *"Failed to connect"*|*nsenter:*|offline|"") sleep 0.2 ;; *) break ;; esac
done
say "container $MACHINE (init pid $LEADER): $state"
case "$state" in
  running) ;;
  degraded) cexec systemctl --failed --no-legend || true ;;
  *) tail -30 "$WORK/boot.log"; die "container did not boot: $state" ;;
esac
phase_end

# =========================================================================
phase_start "checks"
PKG="/root/$(basename "$DEB")"
UNITS="genkit-endpoints.socket genkit-endpoints-grpc.socket genkit-endpoints.service"
HEALTH='test "$(curl -s -o /dev/null -w %{http_code} --max-time 5 http://127.0.0.1:8080/health)" = 200'
ENV_FILE=/etc/genkit-endpoints/genkit-endpoints.env
# The HTTP status of a POST of the 150-byte body to /tell-joke.
post150() { cexec curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
  --data-binary @/root/body150.json http://127.0.0.1:8080/tell-joke; }

t_install() { cexec apt-get install -y --no-install-recommends "$PKG"; }
check CORE "apt install ./$(basename "$DEB") (no download)" t_install

t_files() {
  csh 'set -e
    test -x /usr/bin/genkit-endpoints && test -x /usr/bin/genkit-endpoints-grpcd
    ls /usr/share/genkit-endpoints/prompts/*.prompt
    genkit-endpoints --help | grep -F "[default: /usr/share/genkit-endpoints/prompts]"
    dpkg-query -W -f="\${Conffiles}\n" genkit-endpoints | grep -F /etc/genkit-endpoints/genkit-endpoints.env
    stat -c "%n %U:%G %a" /etc/genkit-endpoints/genkit-endpoints.env
    test "$(stat -c "%U:%G %a" /etc/genkit-endpoints/genkit-endpoints.env)" = "root:genkit-endpoints 640"
    getent passwd genkit-endpoints
    getent passwd genkit-endpoints | awk -F: "\$3 >= 100 && \$3 < 1000 && \$6 == \"/var/lib/genkit-endpoints\" && \$7 ~ /nologin\$/ { ok = 1 } END { exit !ok }"
    getent group genkit-endpoints
    test -f /usr/share/man/man8/genkit-endpoints.8.gz
    sh /root/check-env-file.sh /usr/bin/genkit-endpoints /etc/genkit-endpoints/genkit-endpoints.env'
}
check CORE "files: binaries, prompts, conffile root:genkit-endpoints 0640, system user, man page" t_files

t_active() {
  wait_until 30 'systemctl is-active --quiet genkit-endpoints.service' || return 1
  local u e a ok=0
  for u in $UNITS; do
    e=$(cexec systemctl is-enabled "$u" || true); a=$(cexec systemctl is-active "$u" || true)
    echo "$u: $e, $a"
    [ "$e" = enabled ] && [ "$a" = active ] || ok=1
  done
  cexec systemctl show -p Type -p NotifyAccess -p WatchdogUSec -p MainPID -p User -p EnvironmentFiles genkit-endpoints.service
  # The supervisor reads the env file itself (--env-file), not systemd.
  cexec systemctl show -P ExecStart genkit-endpoints.service | grep -F -- '--env-file /etc/genkit-endpoints/genkit-endpoints.env' || ok=1
  [ -z "$(cexec systemctl show -P EnvironmentFiles genkit-endpoints.service)" ] || { echo "EnvironmentFile= is set"; ok=1; }
  return $ok
}
check CORE "units enabled and active after install (service Type=notify, sockets)" t_active

t_health() {
  wait_until 20 "$HEALTH" && cexec curl -sS --max-time 5 http://127.0.0.1:8080/health && echo &&
    cexec bash -c 'exec 3<>/dev/tcp/127.0.0.1/50051 && echo "gRPC port 50051 accepts"'
}
check CORE "GET /health -> 200; gRPC port open" t_health

t_sandbox() {
  local pid score; pid=$(main_pid)
  csh "set -e; pid=$pid
    grep -E '^(Uid|Gid|NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/\$pid/status
    uid=\$(id -u genkit-endpoints); gid=\$(id -g genkit-endpoints)
    grep -Eq \"^Uid:[[:space:]]+\$uid[[:space:]]\" /proc/\$pid/status
    grep -Eq \"^Gid:[[:space:]]+\$gid[[:space:]]\" /proc/\$pid/status
    grep -q '^NoNewPrivs:[[:space:]]*1' /proc/\$pid/status
    grep -q '^Seccomp:[[:space:]]*2' /proc/\$pid/status
    grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/\$pid/status
    grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/\$pid/status
    stat -c '%n %U:%G %a' /var/lib/genkit-endpoints /var/log/genkit-endpoints
    test ! -L /var/lib/genkit-endpoints && test ! -L /var/log/genkit-endpoints
    test \"\$(stat -c '%U %a' /var/lib/genkit-endpoints)\" = 'genkit-endpoints 700'
    test \"\$(stat -c '%U %a' /var/log/genkit-endpoints)\" = 'genkit-endpoints 700'
    for c in /proc/[0-9]*/comm; do read -r n < \$c 2>/dev/null || continue; case \$n in genkit-endpoint*) echo \"\${c%/comm} \$n\";; esac; done" || return 1
  cexec systemd-analyze security --no-pager genkit-endpoints.service | tail -1
  score=$(cexec systemd-analyze security --no-pager genkit-endpoints.service | sed -n 's/.*Overall exposure level for genkit-endpoints.service: \([0-9.]*\).*/\1/p')
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
}
check CORE "sandbox: user genkit-endpoints, no caps, seccomp, NoNewPrivs; exposure <= 2.0" t_sandbox

# load_during SECONDS OUT ACTION...: a curl loop on /health for SECONDS while
# ACTION runs (1.5 s in); prints "ok failed" and the first failures.
load_during() {
  local secs=$1 out=$2 loop; shift 2
  cexec /root/curl-loop.sh http://127.0.0.1:8080/health "$secs" "$out" &
  loop=$!
  sleep 1.5
  "$@" || { wait "$loop"; return 1; }
  wait "$loop"
  cexec cat "$out.failures" | head -5 >&2
  cexec cat "$out"
}
ok_and_zero() { [ "${1#* }" = 0 ] && [ "${1% *}" -gt 20 ]; }

reload_twice() { cexec systemctl reload genkit-endpoints.service && sleep 2.5 && cexec systemctl reload genkit-endpoints.service; }
t_reload() {
  local pid0 pid1 r
  pid0=$(main_pid)
  r=$(load_during 8 /root/reload.out reload_twice) || return 1
  pid1=$(main_pid)
  echo "requests ok/failed during 2 reloads: $r; MainPID $pid0 -> $pid1"
  [ "$pid0" = "$pid1" ] && cexec systemctl is-active --quiet genkit-endpoints.service && ok_and_zero "$r"
}
check CORE "systemctl reload x2 under a curl loop: zero failures, same MainPID" t_reload

# --- supervisor features: socket activation and the watchdog ----------------
t_activated() {
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep -E '"event":"(listening|grpc_listening)"' | tail -2
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"listening"' | tail -1 | grep -q '"socket_activated":true'
}
check FEATURE "socket activation: the supervisor serves on the sockets' fds" t_activated

restart_twice() { cexec systemctl restart genkit-endpoints.service && sleep 2 && cexec systemctl restart genkit-endpoints.service; }
t_restart() {
  local pid0 pid1 r
  pid0=$(main_pid)
  r=$(load_during 10 /root/restart.out restart_twice) || return 1
  pid1=$(main_pid)
  echo "requests ok/failed during 2 restarts: $r; MainPID $pid0 -> $pid1"
  [ "$pid0" != "$pid1" ] && ok_and_zero "$r"
}
check FEATURE "systemctl restart x2 under a curl loop: zero refused (sockets)" t_restart

reinstall() { cexec apt-get install -y --reinstall --no-install-recommends "$PKG" >/dev/null; }
socket_since() { cexec systemctl show -P ActiveEnterTimestampMonotonic genkit-endpoints.socket genkit-endpoints-grpc.socket | tr '\n' ' '; }
t_upgrade() {
  local pid0 pid1 r s0 s1
  pid0=$(main_pid); s0=$(socket_since)
  r=$(load_during 8 /root/upgrade.out reinstall) || return 1
  pid1=$(main_pid); s1=$(socket_since)
  echo "$r" > "$WORK/upgrade.result"
  echo "requests ok/failed during the upgrade: $r; MainPID $pid0 -> $pid1; sockets active since $s0 -> $s1"
  cexec systemctl is-active genkit-endpoints.socket genkit-endpoints-grpc.socket genkit-endpoints.service || return 1
  [ "$pid0" != "$pid1" ] && [ "$pid1" != 0 ] && [ "$s0" = "$s1" ]
}
check CORE "upgrade (apt reinstall): service restarted, sockets not restarted" t_upgrade
t_upgrade_zero() { r=$(cat "$WORK/upgrade.result" 2>/dev/null) || return 1; echo "ok/failed: $r"; ok_and_zero "$r"; }
check FEATURE "upgrade under a curl loop: zero failed requests" t_upgrade_zero

DROPIN=/run/systemd/system/genkit-endpoints.service.d
WATCHDOG_PINGS=0
t_watchdog_ping() {
  # A short watchdog for the test (the unit ships WatchdogSec=30).
  csh "mkdir -p $DROPIN && printf '[Service]\nWatchdogSec=4\n' > $DROPIN/zz-test-watchdog.conf" &&
    cexec systemctl daemon-reload && cexec systemctl restart genkit-endpoints.service || return 1
  local pid0 pid1 n0 n1
  pid0=$(main_pid); n0=$(cexec systemctl show -P NRestarts genkit-endpoints.service)
  sleep 9
  pid1=$(main_pid); n1=$(cexec systemctl show -P NRestarts genkit-endpoints.service)
  echo "WatchdogSec=4: MainPID $pid0 -> $pid1, NRestarts $n0 -> $n1 after 9 s"
  [ "$pid0" = "$pid1" ] && [ "$n0" = "$n1" ] && cexec systemctl is-active --quiet genkit-endpoints.service
}
check FEATURE "watchdog: a healthy supervisor sends WATCHDOG=1 (alive past 2x WatchdogSec)" t_watchdog_ping
case "${RESULTS[-1]}" in *" PASS "*) WATCHDOG_PINGS=1 ;; esac

t_watchdog_stop() {
  local pid0 pid1 deadline
  pid0=$(main_pid)
  csh "kill -STOP $pid0" || return 1
  deadline=$((SECONDS + 25))
  while [ $SECONDS -lt $deadline ]; do
    pid1=$(main_pid)
    if [ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] && cexec systemctl is-active --quiet genkit-endpoints.service; then break; fi
    sleep 0.5
  done
  echo "SIGSTOPped MainPID $pid0 -> $pid1"
  cexec journalctl -u genkit-endpoints.service --no-pager -n 300 | grep -iE 'watchdog timeout|SIGABRT' | tail -2 || true
  [ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] && wait_until 10 "$HEALTH"
}
if [ "$WATCHDOG_PINGS" = 1 ]; then
  check FEATURE "watchdog: a SIGSTOPped supervisor is restarted (new MainPID, serving)" t_watchdog_stop
else
  skip FEATURE "watchdog: a SIGSTOPped supervisor is restarted (new MainPID, serving)" \
    "meaningless while the supervisor sends no WATCHDOG=1: the watchdog kills it anyway"
fi
csh "kill -CONT \$(systemctl show -P MainPID genkit-endpoints.service) 2>/dev/null; rm -f $DROPIN/zz-test-watchdog.conf" || true
cexec systemctl daemon-reload || true
cexec systemctl reset-failed genkit-endpoints.service 2>/dev/null || true

# --- the env file (applied by a reload), without the sockets, stop, ----------
# --- activation on demand -----------------------------------------------------
# A reload must apply an edit of the env file (the supervisor re-reads it:
# --env-file), in new workers, under the same MainPID; a broken edit must be
# refused while the running processes serve on. The file is restored from a
# copy (cp -p: owner, group and mode too) and reloaded again after each.
env_restore() {
  csh "cp -p /root/env.orig $ENV_FILE" && cexec systemctl reload genkit-endpoints.service
}
refusals() { cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep -c '"event":"reload_failed_keeping_config"' || true; }

t_env_reload() {
  local pid0 pid1 code0 code1 deadline
  csh "cp -p $ENV_FILE /root/env.orig" || return 1
  pid0=$(main_pid); code0=$(post150)
  echo "before: POST of 150 bytes -> $code0"
  [ "$code0" = 200 ] || return 1
  csh "sed -i 's/^#MAX_BODY_SIZE=.*/MAX_BODY_SIZE=100/; s/^#WEB_CONCURRENCY=.*/WEB_CONCURRENCY=2/;
         s|^#LOG_FILE=.*|LOG_FILE=/var/log/genkit-endpoints/server.log|' $ENV_FILE
       grep -E '^(MAX_BODY_SIZE|WEB_CONCURRENCY|LOG_FILE)=' $ENV_FILE" || return 1
  cexec systemctl reload genkit-endpoints.service || return 1
  # The new workers take over once ready; the old ones drain.
  deadline=$((SECONDS + 20)); code1=""
  while [ $SECONDS -lt $deadline ]; do
    code1=$(post150); [ "$code1" = 413 ] && break; sleep 0.5
  done
  pid1=$(main_pid)
  echo "after the reload: POST of 150 bytes -> $code1; MainPID $pid0 -> $pid1"
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"reloading"' | tail -1
  # A worker of the new generation writes to LOG_FILE (the 413 above).
  wait_until 10 'test -s /var/log/genkit-endpoints/server.log' && csh 'tail -1 /var/log/genkit-endpoints/server.log' || return 1
  [ "$code1" = 413 ] && [ "$pid0" = "$pid1" ] && cexec systemctl is-active --quiet genkit-endpoints.service &&
    cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"reloading"' | tail -1 | grep -q '"workers":2' || return 1
  env_restore || return 1
  deadline=$((SECONDS + 20))
  while [ $SECONDS -lt $deadline ]; do code1=$(post150); [ "$code1" = 200 ] && break; sleep 0.5; done
  echo "restored and reloaded: POST of 150 bytes -> $code1; MainPID $(main_pid)"
  [ "$code1" = 200 ] && [ "$(main_pid)" = "$pid0" ]
}
check CORE "env file: MAX_BODY_SIZE=100 (413), WEB_CONCURRENCY=2, LOG_FILE apply on reload; same MainPID" t_env_reload

t_env_broken() {
  local pid0 pid1 n0 n1 deadline
  pid0=$(main_pid); n0=$(refusals)
  csh "cp -p $ENV_FILE /root/env.orig && sed -i 's/^#PORT=.*/PORT=abc/' $ENV_FILE && grep '^PORT=' $ENV_FILE" || return 1
  cexec systemctl reload genkit-endpoints.service || return 1
  deadline=$((SECONDS + 15)); n1=$n0
  while [ $SECONDS -lt $deadline ]; do n1=$(refusals); [ "$n1" -gt "$n0" ] && break; sleep 0.5; done
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"reload_failed_keeping_config"' | tail -1
  pid1=$(main_pid)
  echo "reload_failed_keeping_config lines: $n0 -> $n1; MainPID $pid0 -> $pid1; $(cexec systemctl is-active genkit-endpoints.service)"
  local ok=0
  [ "$n1" -gt "$n0" ] && [ "$pid0" = "$pid1" ] && cexec systemctl is-active --quiet genkit-endpoints.service &&
    csh "$HEALTH" && echo "GET /health -> 200" || ok=1
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"reload_failed_keeping_config"' | tail -1 | grep -q 'PORT' || ok=1
  env_restore && wait_until 15 "$HEALTH" || ok=1
  sleep 1
  [ "$(refusals)" = "$n1" ] && [ "$(main_pid)" = "$pid0" ] || ok=1
  echo "restored and reloaded: $(refusals) refusals; MainPID $(main_pid)"
  return $ok
}
check CORE "env file: a broken edit (PORT=abc) on reload is refused; same MainPID, serving" t_env_broken

t_no_sockets() {
  cexec systemctl stop genkit-endpoints.service genkit-endpoints.socket genkit-endpoints-grpc.socket &&
    cexec systemctl start genkit-endpoints.service && wait_until 15 "$HEALTH" || return 1
  cexec bash -c 'exec 3<>/dev/tcp/127.0.0.1/50051 && echo "gRPC port 50051 accepts"' || return 1
  cexec journalctl -u genkit-endpoints.service -o cat --no-pager | grep '"event":"listening"' | tail -1
  # back to the installed state: sockets first
  cexec systemctl stop genkit-endpoints.service && cexec systemctl start genkit-endpoints.socket &&
    cexec systemctl start genkit-endpoints.service && wait_until 15 "$HEALTH"
}
check CORE "sockets stopped: the service binds PORT and GRPC_PORT itself" t_no_sockets

t_stop() {
  local t0=$SECONDS s res
  cexec systemctl stop genkit-endpoints.service || return 1
  echo "stopped in $((SECONDS - t0)) s"
  s=$(cexec systemctl is-active genkit-endpoints.service || true)
  res=$(cexec systemctl show -P Result genkit-endpoints.service)
  echo "is-active: $s, Result: $res"
  [ "$s" = inactive ] && [ "$res" = success ] || return 1
  # With the sockets listening, the next connection starts it again.
  wait_until 20 "$HEALTH" && echo "started again by a connection: $(cexec systemctl is-active genkit-endpoints.service)"
}
check CORE "systemctl stop -> inactive (Result=success); a connection activates it again" t_stop

t_purge() {
  cexec apt-get purge -y genkit-endpoints || return 1
  csh 'set -e
    for p in /etc/genkit-endpoints /var/lib/genkit-endpoints /var/lib/private/genkit-endpoints \
             /var/log/genkit-endpoints /var/log/private/genkit-endpoints \
             /lib/systemd/system/genkit-endpoints.service /lib/systemd/system/genkit-endpoints.socket \
             /usr/bin/genkit-endpoints; do
      if [ -e "$p" ] || [ -L "$p" ]; then echo "left behind: $p"; exit 1; fi
    done
    for c in /proc/[0-9]*/comm; do read -r n < $c 2>/dev/null || continue
      case $n in genkit-endpoint*) echo "still running: ${c%/comm} $n"; exit 1;; esac; done
    for u in genkit-endpoints.service genkit-endpoints.socket genkit-endpoints-grpc.socket; do
      if systemctl is-active --quiet $u; then echo "$u still active"; exit 1; fi
    done
    if curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/health; then echo "port 8080 still answers"; exit 1; fi
    left=$( { find / -xdev -user genkit-endpoints; find /run /tmp /dev/shm -user genkit-endpoints; } 2>/dev/null || true)
    if [ -n "$left" ]; then echo "files of user genkit-endpoints left behind:"; echo "$left"; exit 1; fi
    echo "purged: config, state, logs, units, processes and ports gone; no file owned by genkit-endpoints"
    # Debian practice: the system account stays (a reinstall takes it over).
    getent passwd genkit-endpoints && echo "system user genkit-endpoints kept"'
}
check CORE "apt purge: /etc/genkit-endpoints, state, logs, units, processes, ports gone; user kept" t_purge
phase_end

# =========================================================================
echo
echo "== summary ($(basename "$DEB"), $CODENAME)"
printf '  %s\n' "${RESULTS[@]}"
echo
echo "== timings"
printf '  %s\n' "${PHASES[@]}"
printf '  %-34s %4ds\n' "total" "$((SECONDS - START))"
echo
echo "core checks: $CORE_PASS passed, $CORE_FAIL failed"
echo "supervisor-feature checks (WATCHDOG=1, LISTEN_FDS): $FEAT_PASS passed, $FEAT_FAIL failed$([ "$PENDING_OK" = 1 ] && echo ' (--pending-ok: not fatal)')"
if [ "$CORE_FAIL" -gt 0 ]; then exit 1; fi
if [ "$PENDING_OK" = 0 ] && [ "$FEAT_FAIL" -gt 0 ]; then exit 1; fi
exit 0

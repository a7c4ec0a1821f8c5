# Process, port and tool helpers shared by the bench scripts (sourced, not
# run). wait_ready reads START_TIMEOUT (seconds) from the caller; apt_install
# logs through the caller's log(); ticks and us_per measure CPU per request.

stop_pid() {  # stop_pid PID SIGNAL GRACE_SECONDS
  local pid=$1 sig=$2 grace=$3 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

stop_tree() {  # stop_tree PID SIGNAL GRACE_SECONDS: a server, then any child it left behind
  local kids k
  kids=$(pgrep -P "$1" 2>/dev/null || true)
  stop_pid "$1" "$2" "$3"
  for k in $kids; do kill -KILL "$k" 2>/dev/null; done
}

port_in_use() {  # port_in_use PORT
  if command -v ss >/dev/null; then
    [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 30000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}

http_code() {  # http_code URL -> status code or 000
  curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true
}

wait_ready() {  # wait_ready PID URL : 0 once URL answers 200 while PID lives
  local pid=$1 url=$2 deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(http_code "$url") == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

APT_UPDATED=0
apt_install() {  # apt_install PKG... : installs the first package that has a candidate
  local pkg sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  command -v apt-get >/dev/null || return 1
  for pkg in "$@"; do
    if [[ $APT_UPDATED -eq 0 ]] && ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
      log "apt-get update (no candidate for $pkg yet)"
      $sudo apt-get update -qq >&2 || true
      APT_UPDATED=1
    fi
    if apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
      log "installing $pkg"
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2 && return 0
    fi
  done
  return 1
}

find_nginx() {
  command -v nginx 2>/dev/null && return 0
  [[ -x /usr/sbin/nginx ]] && { echo /usr/sbin/nginx; return 0; }
  return 1
}

# ticks PID: CPU of PID and its live children (utime+stime) plus what their
# reaped children used (cutime+cstime), in clock ticks.
ticks() {
  local p sum=0 t
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null)
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
HZ=$(getconf CLK_TCK)
us_per() {  # us_per TICKS COUNT
  awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }'
}

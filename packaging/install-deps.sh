#!/usr/bin/env bash
# Installs the Debian 12 packages genkit-endpoints builds and tests with,
# only when one is missing (fast when nothing is). Works as root or via sudo.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ pkg-config
  # the design card's libraries
  libevent-dev libnghttp2-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libcjson-dev libcurl4-openssl-dev libsystemd-dev zlib1g-dev libssl-dev
  # the Redis state backend (STATE_BACKEND=redis): hiredis's async API on libevent
  libhiredis-dev
  # chosen: HTTP/1.1 parser, YAML for Dotprompt front matter
  libhttp-parser-dev libyaml-dev
  # tests: GoogleTest, the official JSON Schema test suite, a real Redis
  # (the STATE_BACKEND=redis suites start their own on loopback), the Python
  # gRPC client (health/reflection stubs come from grpc-proto's .proto files),
  # and the clients HTTP/2 and TLS are checked with (curl, nghttp, h2load,
  # openssl s_client)
  libgtest-dev json-schema-test-suite redis-server python3-grpcio python3-protobuf grpc-proto
  curl nghttp2-client openssl
)
# tests/genkit_tools (the official Genkit tools from npm): Node.js and npm,
# Debian's only when no node is installed (one from elsewhere, e.g.
# NodeSource's, brings its own npm and conflicts with Debian's npm package).
command -v node >/dev/null || PACKAGES+=(nodejs npm)
# tests/fuzz (the libFuzzer targets): clang, and compiler-rt's libFuzzer and
# sanitizer runtimes. Not needed to run the server.
[ "${1:-}" != "--run" ] && PACKAGES+=(clang libclang-rt-14-dev)
[ "${1:-}" = "--bench" ] && PACKAGES+=(wrk nginx-light)
# --package: what packaging/build-deb.sh and packaging/test-in-nspawn.sh need
# (dpkg-buildpackage with debhelper, ccache to rebuild fast, lintian, and a
# debootstrapped Debian booted under systemd-nspawn).
[ "${1:-}" = "--package" ] && PACKAGES+=(build-essential dpkg-dev debhelper ccache lintian
  debootstrap systemd-container)

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROMTOOL="$ROOT/.deps/bin/promtool"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The tests start their own redis-server on a free loopback port: the
  # service Debian's package has just enabled is not wanted on this machine.
  if [[ " ${missing[*]} " == *" redis-server "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

# promtool (checks the /metrics text in the tests) is taken out of Debian's
# prometheus package rather than installing it, which would start a
# Prometheus server on the machine.
if [ "${1:-}" != "--run" ] && [ "${1:-}" != "--package" ] && [ ! -x "$PROMTOOL" ]; then
  echo "install-deps: extracting promtool from Debian's prometheus package" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$(dirname "$PROMTOOL")"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$PROMTOOL"
fi

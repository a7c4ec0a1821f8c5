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
  # chosen: HTTP/1.1 parser, YAML for Dotprompt front matter
  libhttp-parser-dev libyaml-dev
  # tests: GoogleTest and the official JSON Schema test suite
  libgtest-dev json-schema-test-suite
)
[ "${1:-}" = "--bench" ] && PACKAGES+=(wrk nginx-light curl)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then missing+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

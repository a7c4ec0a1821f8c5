#!/bin/sh
# Checks that an env file lists every setting of `genkit-endpoints --help`
# ("NAME [default: ...]" under "Environment variables"), each commented out
# (#NAME=...), and sets nothing. Exit 1 naming what is missing or active.
# Usage: check-env-file.sh path/to/genkit-endpoints path/to/genkit-endpoints.env
set -eu
bin=${1:?usage: check-env-file.sh BINARY ENV_FILE}
env_file=${2:?usage: check-env-file.sh BINARY ENV_FILE}
[ -r "$env_file" ] || { echo "check-env-file: cannot read $env_file" >&2; exit 1; }

settings=$("$bin" --help | awk '
  /^Environment variables/ { in_env = 1; next }
  in_env && /^  [A-Z][A-Z0-9_]* \[default: / { print $1 }')
[ -n "$settings" ] || { echo "check-env-file: no settings found in $bin --help" >&2; exit 1; }

status=0
count=0
for name in $settings; do
  count=$((count + 1))
  if ! grep -q "^#${name}=" "$env_file"; then
    echo "check-env-file: $name (in --help) is not listed as #$name=... in $env_file" >&2
    status=1
  elif ! grep -B2 "^#${name}=" "$env_file" | grep -q '^# Default: '; then
    echo "check-env-file: $name has no '# Default:' line in $env_file" >&2
    status=1
  fi
done
active=$(grep -Ev '^[[:space:]]*(#|$)' "$env_file" || true)
if [ -n "$active" ]; then
  echo "check-env-file: $env_file sets values (all must be commented out):" >&2
  printf '%s\n' "$active" >&2
  status=1
fi
for name in $(sed -n 's/^#\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$env_file"); do
  printf '%s\n' "$settings" | grep -qx "$name" ||
    { echo "check-env-file: $name is in $env_file but not in --help" >&2; status=1; }
done
[ "$status" -eq 0 ] && echo "check-env-file: all $count settings of --help listed, commented out, in $env_file"
exit "$status"

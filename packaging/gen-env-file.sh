#!/bin/sh
# Writes /etc/genkit-endpoints/genkit-endpoints.env to stdout: every setting
# that `genkit-endpoints --help` lists under "Environment variables",
# commented out, with its description and default. Run at package build time
# on the binary just built, so the file always matches the binary.
# Usage: gen-env-file.sh path/to/genkit-endpoints
set -eu
bin=${1:?usage: gen-env-file.sh path/to/genkit-endpoints}
help=$("$bin" --help)
version=$("$bin" --version)

cat <<HEADER
# /etc/genkit-endpoints/genkit-endpoints.env: the settings of
# genkit-endpoints.service, one VARIABLE=value a line. The service reads this
# file itself (ExecStart=/usr/bin/genkit-endpoints --env-file <this file>),
# at start and again on every \`systemctl reload genkit-endpoints\`.
#
# Every setting that \`genkit-endpoints --help\` lists ($version) is
# below, commented out, with its description and default. Uncomment a line,
# change its value, check it and apply it:
#   genkit-endpoints --env-file /etc/genkit-endpoints/genkit-endpoints.env --check-config
#   systemctl reload genkit-endpoints
# A reload (SIGHUP) re-reads this file, the prompts and the TLS certificate
# and key, starts new workers and a new grpcd with them and drains the old
# ones: no request fails. An invalid file is refused: the running processes
# serve on with the settings they have, and the journal says why
# (journalctl -u genkit-endpoints | grep reload_failed_keeping_config;
# \`systemctl reload\` itself still succeeds). Three things need
# \`systemctl restart genkit-endpoints\` instead (which refuses no connection
# either: the socket units hold the ports): PORT, GRPC_PORT and BIND_HOST;
# the shared-memory sizes (CACHE_MAX_SIZE, CACHE_MAX_ENTRY_BYTES,
# RATE_LIMIT_TABLE_SIZE: a reload keeps the old ones and logs so); and the
# LOG_* settings of the supervisor's own lines (its workers take the new
# ones).
#
# Priority: command-line flags > environment variables > this file >
# /var/lib/genkit-endpoints/.env (the working directory; rarely wanted) >
# defaults. So do not set a setting with Environment= in a drop-in: it would
# shadow this file's line, and stay fixed until the next start.
#
# The ports are those of genkit-endpoints.socket (8080) and
# genkit-endpoints-grpc.socket (50051), not PORT, GRPC_PORT and BIND_HOST:
# change them with \`systemctl edit genkit-endpoints.socket\` (an empty
# ListenStream= first, then the new one), or disable both socket units to
# let the server bind PORT and GRPC_PORT itself. With gRPC turned off, also
# \`systemctl mask --now genkit-endpoints-grpc.socket\`.
#
# Syntax: that of a .env file (not the shell's, nor systemd's
# EnvironmentFile=): NAME=value, an optional "export " before it, "#"
# comments (after a value too, following a space), '...' taken literally and
# "..." with \\n \\t \\" \\\\ escapes (both may span lines); no \$VAR expansion.
# Empty values of numeric, boolean and keyword settings count as unset.
# Booleans accept true/false, 1/0, yes/no, on/off. The shared-memory size
# follows CACHE_MAX_SIZE, CACHE_MAX_ENTRY_BYTES and RATE_LIMIT_TABLE_SIZE.
#
# This file is root:genkit-endpoints, mode 0640 (set by the package; use
# dpkg-statoverride to choose otherwise): root writes it, the service's group
# reads it on every reload, nobody else can. Keep GEMINI_API_KEY,
# OPENAI_API_KEY and API_KEYS here.
#
# The service runs as the system user genkit-endpoints, which can write only
# to /var/lib/genkit-endpoints and /var/log/genkit-endpoints (LOG_FILE) and
# can read what is readable to its group. Give it a TLS certificate and key
# that way, e.g.
#   install -o root -g genkit-endpoints -m 0640 cert.pem key.pem /etc/genkit-endpoints/
# with TLS_CERT_FILE=/etc/genkit-endpoints/cert.pem and
# TLS_KEY_FILE=/etc/genkit-endpoints/key.pem below. Both are re-read on
# reload: a renewal hook copies the new files the same way and runs
# \`systemctl reload genkit-endpoints\`.
HEADER

printf '%s\n' "$help" | awk '
  /^Environment variables/ { in_env = 1; next }
  !in_env { next }
  function flush() {
    if (name == "") return
    print ""
    for (i = 1; i <= n; i++) print "# " desc[i]
    print "# Default: " def
    # A default that is one literal word becomes the commented value; an
    # empty or described default ("min(2*CPU+1, 12)", "json (console with
    # DEBUG)", "\"\" (no auth)") leaves the value empty.
    value = def
    if (value ~ /^""/ || value ~ /[ ()]/) value = ""
    print "#" name "=" value
    name = ""; n = 0
  }
  /^  [A-Z][A-Z0-9_]* \[default: .*\]$/ {
    flush()
    name = $1
    def = $0
    sub(/^  [A-Z][A-Z0-9_]* \[default: /, "", def)
    sub(/\]$/, "", def)
    next
  }
  /^      / && name != "" { line = $0; sub(/^ +/, "", line); desc[++n] = line; next }
  /^[^ ]/ { flush(); in_env = 0 }
  END { flush() }
'
